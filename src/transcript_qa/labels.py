"""The gold label format (docs/labels.md): constants, derivation rules and a validator.

Standard library only, so it runs before the package is installed:
``python src/transcript_qa/labels.py FILE.jsonl [--corpus]``.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

STAGES: tuple[str, ...] = ("opening", "verification", "discovery", "resolution", "offer", "closing")
OUTCOMES: tuple[str, ...] = ("resolved", "escalated", "unresolved")
OFFER_KINDS: tuple[str, ...] = ("upsell", "cross_sell", "retention")
OFFER_RESPONSES: tuple[str, ...] = ("accepted", "declined", "deferred", "none")
OFFER_TIMINGS: tuple[str, ...] = ("none", "before_resolution", "after_resolution", "no_resolution")
SKILLS: tuple[str, ...] = ("empathy", "courtesy", "active_listening", "ownership", "clarity")
# the files of the labeled corpus (datasets/calls/<split>.jsonl); real_hvb.jsonl is kept apart from them
CORPUS_SPLITS: tuple[str, ...] = ("train", "dev", "test", "unseen_writers", "unseen_writers_r4", "unseen_writers_r5",
                                 "unseen_writers_r6", "unseen_writers_r7", "unseen_writers_r8", "unseen_writers_r9")
SPEAKERS: tuple[str, ...] = ("agent", "customer")


def derive_offer_timing(offer_turns: Iterable[int], outcome: str, resolution_turn: int | None) -> str:
    """offer_timing exactly as the spec defines it, from the first offer turn."""
    offers = sorted(offer_turns)
    if not offers:
        return "none"
    if outcome != "resolved" or resolution_turn is None:
        return "no_resolution"
    return "before_resolution" if offers[0] < resolution_turn else "after_resolution"


@dataclass
class Problem:
    where: str  # "file:line"
    message: str
    level: str = "error"  # or "warning"

    def __str__(self) -> str:
        return f"{self.where}: {self.level}: {self.message}"


@dataclass
class ValidationReport:
    calls: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_call(obj: Any) -> tuple[list[str], list[str]]:
    """Check one labeled call; return (errors, warnings) as messages."""
    errs: list[str] = []
    warns: list[str] = []
    if not isinstance(obj, dict):
        return [f"expected a JSON object, got {type(obj).__name__}"], []
    cid = obj.get("call_id")
    if not isinstance(cid, str) or not cid.strip():
        errs.append("'call_id' must be a non-empty string")
    meta = obj.get("metadata", {})
    if not isinstance(meta, dict):
        errs.append("'metadata' must be an object")
    turns = obj.get("turns")
    if not isinstance(turns, list) or not turns:
        errs.append("'turns' must be a non-empty list")
        return errs, warns
    offer_turns: list[int] = []
    speakers = set()
    for i, t in enumerate(turns):
        p = f"turn {i}"
        if not isinstance(t, dict):
            errs.append(f"{p} is not an object")
            continue
        sp = t.get("speaker")
        if sp not in SPEAKERS:
            errs.append(f"{p}: 'speaker' must be one of {list(SPEAKERS)}, got {sp!r}")
        speakers.add(sp)
        text = t.get("text")
        if not isinstance(text, str) or not text.strip():
            errs.append(f"{p} has no 'text'")
        st = t.get("stage")
        if st not in STAGES:
            errs.append(f"{p}: 'stage' must be one of {list(STAGES)}, got {st!r}")
        for k in ("start", "end"):
            if k in t and t[k] is not None and not isinstance(t[k], (int, float)):
                errs.append(f"{p}: '{k}' must be a number of seconds")
        if isinstance(t.get("start"), (int, float)) and isinstance(t.get("end"), (int, float)):
            if t["end"] < t["start"]:
                errs.append(f"{p}: 'end' ({t['end']}) is before 'start' ({t['start']})")
        if "offer" in t and t["offer"] is not None:
            off = t["offer"]
            if sp != "agent":
                errs.append(f"{p}: 'offer' is only allowed on an agent turn")
            if not isinstance(off, dict):
                errs.append(f"{p}: 'offer' must be an object")
            else:
                if off.get("kind") not in OFFER_KINDS:
                    errs.append(f"{p}: offer 'kind' must be one of {list(OFFER_KINDS)}, got {off.get('kind')!r}")
                if off.get("response") not in OFFER_RESPONSES:
                    errs.append(
                        f"{p}: offer 'response' must be one of {list(OFFER_RESPONSES)}, got {off.get('response')!r}"
                    )
            offer_turns.append(i)
            if st != "offer":
                warns.append(f"{p}: has an 'offer' but its stage is {st!r}, not 'offer'")
    if speakers != set(SPEAKERS) and not errs:
        warns.append(f"only one speaker role in the call: {sorted(s for s in speakers if s)}")
    outcome = obj.get("outcome")
    if outcome not in OUTCOMES:
        errs.append(f"'outcome' must be one of {list(OUTCOMES)}, got {outcome!r}")
    rt = obj.get("resolution_turn", "missing")
    if rt == "missing":
        errs.append("'resolution_turn' is missing (use null when not resolved)")
        rt = None
    elif outcome == "resolved":
        if not isinstance(rt, int) or isinstance(rt, bool) or not 0 <= rt < len(turns):
            errs.append(f"'resolution_turn' must be a turn index 0..{len(turns) - 1} when resolved, got {rt!r}")
            rt = None
        elif turns[rt].get("stage") != "resolution":
            warns.append(f"resolution_turn {rt} has stage {turns[rt].get('stage')!r}, expected 'resolution'")
    elif rt is not None:
        errs.append(f"'resolution_turn' must be null when outcome is {outcome!r}, got {rt!r}")
        rt = None
    timing = obj.get("offer_timing")
    if timing not in OFFER_TIMINGS:
        errs.append(f"'offer_timing' must be one of {list(OFFER_TIMINGS)}, got {timing!r}")
    elif outcome in OUTCOMES:
        want = derive_offer_timing(offer_turns, outcome, rt if isinstance(rt, int) else None)
        if timing != want:
            errs.append(f"'offer_timing' is {timing!r} but the turns and resolution_turn give {want!r}")
    ss = obj.get("soft_skills")
    if not isinstance(ss, dict):
        errs.append("'soft_skills' must be an object with the five skills")
    else:
        for s in SKILLS:
            v = ss.get(s)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 5:
                errs.append(f"soft_skills.{s} must be an integer 1 to 5, got {v!r}")
        extra = set(ss) - set(SKILLS)
        if extra:
            errs.append(f"unknown soft skills {sorted(extra)}; known: {list(SKILLS)}")
    return errs, warns


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """Yield (line number, parsed object or None, parse error or None); blank lines are skipped."""
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line), None
            except json.JSONDecodeError as e:
                yield n, None, f"invalid JSON: {e.msg} at column {e.colno}"


def validate_file(path: str | Path) -> ValidationReport:
    """Validate every line of a labeled JSONL file; call ids must be unique."""
    path = Path(path)
    rep = ValidationReport()
    seen: dict[str, int] = {}
    for n, obj, perr in iter_jsonl(path):
        where = f"{path.name}:{n}"
        rep.calls += 1
        if perr:
            rep.problems.append(Problem(where, perr))
            continue
        errs, warns = validate_call(obj)
        cid = obj.get("call_id") if isinstance(obj, dict) else None
        if isinstance(cid, str):
            if cid in seen:
                errs.append(f"duplicate call_id {cid!r} (first on line {seen[cid]})")
            else:
                seen[cid] = n
        rep.problems += [Problem(where, m) for m in errs]
        rep.problems += [Problem(where, m, "warning") for m in warns]
    return rep


_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+")
_NORM = re.compile(r"[^a-z0-9' ]+")


def repeated_sentences(calls: list[dict], min_words: int = 8, max_calls: int = 4) -> list[tuple[str, int]]:
    """Sentences of min_words+ words that appear in more than max_calls calls (templated sameness)."""
    where: dict[str, set[str]] = defaultdict(set)
    for c in calls:
        for t in c.get("turns", []):
            for s in _SENT_SPLIT.split(str(t.get("text", ""))):
                norm = " ".join(_NORM.sub(" ", s.lower()).split())
                if len(norm.split()) >= min_words:
                    where[norm].add(c.get("call_id", ""))
    return sorted(((s, len(ids)) for s, ids in where.items() if len(ids) > max_calls), key=lambda x: -x[1])


def corpus_stats(calls: list[dict]) -> dict[str, Any]:
    """Distribution tables the datasheet prints."""
    n = len(calls)
    st: dict[str, Any] = {"calls": n}
    st["turns"] = sum(len(c["turns"]) for c in calls)
    lens = sorted(len(c["turns"]) for c in calls)
    st["turns_min_median_max"] = (lens[0], lens[len(lens) // 2], lens[-1]) if lens else (0, 0, 0)
    st["industry"] = Counter(c.get("metadata", {}).get("industry", "?") for c in calls)
    st["style"] = Counter(c.get("metadata", {}).get("style", "?") for c in calls)
    st["outcome"] = Counter(c["outcome"] for c in calls)
    st["offer_timing"] = Counter(c["offer_timing"] for c in calls)
    st["calls_with_offer"] = sum(1 for c in calls if c["offer_timing"] != "none")
    st["offer_kind"] = Counter(t["offer"]["kind"] for c in calls for t in c["turns"] if t.get("offer"))
    st["offer_response"] = Counter(t["offer"]["response"] for c in calls for t in c["turns"] if t.get("offer"))
    st["stage"] = Counter(t["stage"] for c in calls for t in c["turns"])
    st["soft_skills"] = {s: Counter(c["soft_skills"][s] for c in calls) for s in SKILLS}
    st["with_timestamps"] = sum(1 for c in calls if any("start" in t for t in c["turns"]))
    st["hard_case"] = sum(1 for c in calls if c.get("metadata", {}).get("hard_cases"))
    st["agents"] = len({c.get("metadata", {}).get("agent_id") for c in calls})
    return st


def load_jsonl(path: str | Path) -> list[dict]:
    return [obj for _, obj, err in iter_jsonl(Path(path)) if err is None]


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Validate labeled call files against docs/labels.md")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--corpus", action="store_true", help="also print distributions and repeated sentences")
    ap.add_argument("--warnings", action="store_true", help="print warnings too")
    a = ap.parse_args(argv)
    bad = 0
    allcalls: list[dict] = []
    for f in a.files:
        rep = validate_file(f)
        for p in rep.problems:
            if p.level == "error" or a.warnings:
                print(p)
        print(f"{f}: {rep.calls} calls, {len(rep.errors)} errors, {len(rep.warnings)} warnings")
        bad += len(rep.errors)
        allcalls += load_jsonl(f)
    if a.corpus and allcalls:
        st = corpus_stats(allcalls)
        n = st["calls"]
        for k, v in st.items():
            if isinstance(v, Counter):
                base = st["turns"] if k == "stage" else sum(v.values()) if k.startswith("offer_") and k != "offer_timing" else n
                print(f"{k}: " + ", ".join(f"{x}={y} ({100 * y / max(1, base):.0f}%)" for x, y in v.most_common()))
            elif k == "soft_skills":
                for s, cnt in v.items():
                    print(f"soft_skills.{s}: " + ", ".join(f"{x}={cnt[x]}" for x in sorted(cnt)))
            else:
                print(f"{k}: {v}")
        for s, k in repeated_sentences(allcalls)[:20]:
            print(f"repeated in {k} calls: {s!r}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
