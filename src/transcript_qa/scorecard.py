"""Weighted QA score from a YAML rubric: each analysis gets ``qa_score`` (total 0-100 plus a breakdown).

A rubric lists criteria with weights summing to 100. Kinds: ``outcome`` (a value per outcome),
``soft_skill`` (score 1-5 mapped to 0-1), ``stage_present`` (1 if the stage occurs, else 0) and
``offer_timing`` (a value per timing; ``null`` = not applicable, which renormalises the total).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .labels import OFFER_TIMINGS, OUTCOMES, SKILLS, STAGES
from .results import CallAnalysis

KINDS = ("outcome", "soft_skill", "stage_present", "offer_timing")


class ScorecardError(ValueError):
    """A bad rubric; the message names the file (and line) and what is wrong."""


@dataclass
class Criterion:
    id: str
    kind: str
    weight: float
    skill: str | None = None
    stage: str | None = None
    values: dict[str, float | None] = field(default_factory=dict)

    def value(self, r: dict[str, Any]) -> tuple[float | None, list[str]]:
        """(value in [-1, 1] or None when not applicable, evidence turn ids) for one result dict."""
        turns = r.get("turns", [])
        tid = lambda i: turns[i]["id"] if i is not None and 0 <= i < len(turns) else None  # noqa: E731
        if self.kind == "outcome":
            ev = [tid(r.get("resolution_turn"))] if r.get("resolution_turn") is not None else []
            return self.values.get(r["outcome"]), [e for e in ev if e]
        if self.kind == "soft_skill":
            s = r["soft_skills"][self.skill]
            return (float(s["score"]) - 1) / 4, list(s.get("evidence", []))
        if self.kind == "stage_present":
            span = next((s for s in r.get("stages", []) if s["stage"] == self.stage), None)
            return (1.0, [tid(span["start_turn"])]) if span else (0.0, [])
        if self.kind == "offer_timing":
            ev = [o.get("turn_id") or tid(o["turn"]) for o in r.get("offers", [])]
            if r.get("resolution_turn") is not None:
                ev.append(tid(r["resolution_turn"]))
            return self.values.get(r["offer_timing"]), [e for e in ev if e]
        raise ScorecardError(f"unknown criterion kind {self.kind!r}")


@dataclass
class Scorecard:
    name: str
    criteria: list[Criterion]
    version: int | str = 1

    @classmethod
    def default(cls) -> "Scorecard":
        text = resources.files("transcript_qa").joinpath("data/default_scorecard.yaml").read_text()
        return cls.from_text(text, "default_scorecard.yaml")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Scorecard":
        path = Path(path)
        if not path.exists():
            raise ScorecardError(f"{path}: no such file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:  # a folder, no permission, not UTF-8
            raise ScorecardError(f"{path}: cannot read: {e}") from None
        return cls.from_text(text, str(path))

    @classmethod
    def from_text(cls, text: str, name: str = "<scorecard>") -> "Scorecard":
        try:
            doc = yaml.safe_load(text)
        except yaml.MarkedYAMLError as e:
            line = e.problem_mark.line + 1 if e.problem_mark else "?"
            raise ScorecardError(f"{name}:{line}: invalid YAML: {e.problem}") from None
        except yaml.YAMLError as e:  # e.g. a control character (yaml.reader.ReaderError): no mark, a position
            pos = getattr(e, "position", None)
            line = text.count("\n", 0, pos) + 1 if isinstance(pos, int) else "?"
            raise ScorecardError(f"{name}:{line}: invalid YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("criteria"), list) or not doc["criteria"]:
            raise ScorecardError(f"{name}: expected a mapping with a non-empty 'criteria' list")
        crits: list[Criterion] = []
        seen: set[str] = set()
        for i, c in enumerate(doc["criteria"]):
            where = f"{name}: criteria[{i}]"
            if not isinstance(c, dict):
                raise ScorecardError(f"{where}: expected a mapping")
            cid = str(c.get("id", f"criterion{i}"))
            where = f"{name}: criterion {cid!r}"
            if cid in seen:
                raise ScorecardError(f"{where}: duplicate id")
            seen.add(cid)
            kind = c.get("kind")
            if kind not in KINDS:
                raise ScorecardError(f"{where}: unknown criterion kind {kind!r}; known kinds: {', '.join(KINDS)}")
            w = c.get("weight")
            if not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0:
                raise ScorecardError(f"{where}: 'weight' must be a number >= 0, got {w!r}")
            crit = Criterion(cid, kind, float(w), c.get("skill"), c.get("stage"), dict(c.get("values") or {}))
            if kind == "soft_skill" and crit.skill not in SKILLS:
                raise ScorecardError(f"{where}: unknown skill {crit.skill!r}; known: {', '.join(SKILLS)}")
            if kind == "stage_present" and crit.stage not in STAGES:
                raise ScorecardError(f"{where}: unknown stage {crit.stage!r}; known: {', '.join(STAGES)}")
            if kind in ("outcome", "offer_timing"):
                labels = OUTCOMES if kind == "outcome" else OFFER_TIMINGS
                unknown = set(crit.values) - set(labels)
                missing = set(labels) - set(crit.values)
                if unknown or missing:
                    raise ScorecardError(f"{where}: 'values' must give each of {', '.join(labels)}"
                                         + (f"; unknown {sorted(unknown)}" if unknown else "")
                                         + (f"; missing {sorted(missing)}" if missing else ""))
                for k, v in crit.values.items():
                    if v is not None and (not isinstance(v, (int, float)) or not -1 <= v <= 1):
                        raise ScorecardError(f"{where}: value for {k!r} must be a number in [-1, 1] or null, got {v!r}")
            crits.append(crit)
        total = sum(c.weight for c in crits)
        if abs(total - 100) > 1e-6:
            raise ScorecardError(f"{name}: weights sum to {total:g}, not 100")
        return cls(str(doc.get("name", Path(name).stem)), crits, doc.get("version", 1))

    def score(self, result: CallAnalysis | dict[str, Any]) -> dict[str, Any]:
        """``{"total", "scorecard", "breakdown": [{id, weight, value, points, evidence}]}`` for one call."""
        r = result.to_dict() if isinstance(result, CallAnalysis) else result
        rows, got, applicable = [], 0.0, 0.0
        for c in self.criteria:
            v, ev = c.value(r)
            row = {"id": c.id, "weight": c.weight, "value": None if v is None else round(v, 4), "points": None,
                   "evidence": ev}
            if v is not None:
                applicable += c.weight
                got += c.weight * v
                row["points"] = round(c.weight * v, 3)
            rows.append(row)
        total = 100.0 * got / applicable if applicable else 0.0
        return {"total": round(min(100.0, max(0.0, total)), 2), "scorecard": self.name, "breakdown": rows}
