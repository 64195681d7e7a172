"""Typed results of analysing one call. They never mutate the Call; ``to_dict`` gives the JSON contract
(schemas/analysis.schema.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .labels import SKILLS, STAGES


@dataclass(frozen=True)
class TurnResult:
    index: int
    id: str
    role: str
    stage: str
    stage_confidence: float


@dataclass(frozen=True)
class StageSpan:
    stage: str
    start_turn: int
    end_turn: int  # inclusive


@dataclass(frozen=True)
class Offer:
    turn: int
    turn_id: str
    kind: str  # upsell | cross_sell | retention
    response: str  # accepted | declined | deferred | none
    confidence: float


@dataclass(frozen=True)
class SkillScore:
    score: int  # 1..5
    value: float  # the unrounded prediction
    evidence: list[str]  # turn ids that support the score
    note: str = ""  # e.g. "no opportunity: the customer showed no frustration"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    encoder: str = ""
    # the offer probability at or above which an agent turn was flagged as an offer (the model's own,
    # chosen on dev, unless the run set another); None in results written before it was recorded
    offer_threshold: float | None = None


@dataclass
class CallAnalysis:
    """The QA findings for one call, with the turns that prove each one."""

    call_id: str
    source: str
    metadata: dict[str, Any]
    turns: list[TurnResult]
    stages: list[StageSpan]
    outcome: str
    outcome_confidence: float
    resolution_turn: int | None
    offers: list[Offer]
    offer_timing: str
    soft_skills: dict[str, SkillScore]
    model: ModelInfo
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. qa_score, added by later steps

    def to_dict(self) -> dict[str, Any]:
        d = {
            "call_id": self.call_id,
            "source": self.source,
            "metadata": self.metadata,
            "turns": [asdict(t) for t in self.turns],
            "stages": [asdict(s) for s in self.stages],
            "outcome": self.outcome,
            "outcome_confidence": self.outcome_confidence,
            "resolution_turn": self.resolution_turn,
            "offers": [asdict(o) for o in self.offers],
            "offer_timing": self.offer_timing,
            "soft_skills": {k: asdict(v) for k, v in self.soft_skills.items()},
            "model": asdict(self.model),
        }
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CallAnalysis":
        known = {"call_id", "source", "metadata", "turns", "stages", "outcome", "outcome_confidence",
                 "resolution_turn", "offers", "offer_timing", "soft_skills", "model"}
        return cls(
            call_id=d["call_id"], source=d.get("source", ""), metadata=d.get("metadata", {}),
            turns=[TurnResult(**t) for t in d["turns"]],
            stages=[StageSpan(**s) for s in d["stages"]],
            outcome=d["outcome"], outcome_confidence=d["outcome_confidence"],
            resolution_turn=d["resolution_turn"],
            offers=[Offer(**o) for o in d["offers"]], offer_timing=d["offer_timing"],
            soft_skills={k: SkillScore(**v) for k, v in d["soft_skills"].items()},
            model=ModelInfo(**d["model"]),
            extra={k: v for k, v in d.items() if k not in known},
        )


def stage_spans(stages: list[str]) -> list[StageSpan]:
    """Contiguous runs of the same stage."""
    spans: list[StageSpan] = []
    for i, s in enumerate(stages):
        if spans and spans[-1].stage == s and spans[-1].end_turn == i - 1:
            spans[-1] = StageSpan(s, spans[-1].start_turn, i)
        else:
            spans.append(StageSpan(s, i, i))
    return spans


__all__ = ["CallAnalysis", "TurnResult", "StageSpan", "Offer", "SkillScore", "ModelInfo", "stage_spans",
           "STAGES", "SKILLS"]
