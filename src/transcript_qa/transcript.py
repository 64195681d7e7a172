"""The input model: Call, Turn, Role. Immutable; analysis results live elsewhere (results.py)."""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Role(str, Enum):
    AGENT = "agent"
    CUSTOMER = "customer"

    def __str__(self) -> str:  # so f-strings print "agent", not "Role.AGENT"
        return self.value


def turn_id(call_id: str, index: int) -> str:
    """Stable, derived turn id: ``<call_id>:t0007``."""
    return f"{call_id}:t{index:04d}"


class Turn(BaseModel):
    """One speaker turn of a call."""

    model_config = ConfigDict(frozen=True)

    id: str  # "<call_id>:t0007"
    index: int  # 0-based position in the call
    speaker: str  # as written in the source ("spk_0", "Dana", "agent")
    role: Role  # after role resolution
    text: str
    start: float | None = None  # seconds from the start of the recording
    end: float | None = None


RoleMethod = Literal["format", "user", "inferred", "default"]


class RoleAssignment(BaseModel):
    """How the roles of a call were decided: from the format, the user's mapping, or inference."""

    model_config = ConfigDict(frozen=True)

    method: RoleMethod
    confidence: float = Field(ge=0.0, le=1.0)
    agent_speakers: tuple[str, ...] = ()  # the speaker labels taken as the agent
    note: str = ""


class Call(BaseModel):
    """A call transcript: ordered turns plus free metadata and where it came from."""

    model_config = ConfigDict(frozen=True)

    id: str
    turns: tuple[Turn, ...]
    metadata: dict[str, Any] = Field(default_factory=dict)
    source: str = ""  # "archive.zip!calls/c1.json" or "calls.jsonl:17"
    roles: RoleAssignment | None = None

    @property
    def texts(self) -> list[str]:
        return [t.text for t in self.turns]

    def to_native(self) -> dict[str, Any]:
        """The native JSON form (docs/formats.md): what ``transcript-qa convert`` writes."""
        d: dict[str, Any] = {"call_id": self.id, "metadata": self.metadata, "source": self.source}
        if self.roles is not None:
            d["roles"] = self.roles.model_dump(mode="json")
        d["turns"] = [
            {
                "id": t.id,
                "speaker": t.speaker,
                "role": t.role.value,
                "text": t.text,
                "start": t.start,
                "end": t.end,
            }
            for t in self.turns
        ]
        return d

    @classmethod
    def build(
        cls,
        call_id: str,
        turns: list[tuple[str, Role, str, float | None, float | None]],
        metadata: dict[str, Any] | None = None,
        source: str = "",
        roles: RoleAssignment | None = None,
    ) -> "Call":
        """Build a call from (speaker, role, text, start, end) tuples, deriving turn ids."""
        return cls(
            id=call_id,
            turns=tuple(
                Turn(id=turn_id(call_id, i), index=i, speaker=sp, role=r, text=tx, start=s, end=e)
                for i, (sp, r, tx, s, e) in enumerate(turns)
            ),
            metadata=metadata or {},
            source=source,
            roles=roles,
        )
