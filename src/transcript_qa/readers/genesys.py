"""Genesys Cloud speech & text analytics transcript JSON (the document behind
``GET /api/v2/speechandtextanalytics/conversations/{conversationId}/communications/{communicationId}/transcripturl``).

``transcripts[].phrases[]`` hold ``text`` (or ``decoratedText``), ``participantPurpose``,
``startTimeMs`` (epoch milliseconds), ``offset.milliseconds`` and ``duration.milliseconds``.
Phrases of all transcripts are put in time order. Start times are seconds from
``conversationStartTime`` (or the top-level ``startTime``) when ``startTimeMs`` is given, else
``offset.milliseconds``; the end is start + duration.

Roles from ``participantPurpose``: ``internal``/``agent``/``user`` -> agent, ``external``/
``customer`` -> customer; ``ivr``/``acd``/``bot`` phrases (prompts of the queue or the IVR) are
agent-side with speaker ``ivr``. Other speakers keep the purpose as written. Consecutive phrases
of the same speaker are merged into one turn. ``conversationId`` is the call id.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..transcript import Role
from ._common import UNKNOWN, dict_list, merge_runs
from .base import Document, RawCall, RawTurn, Reader, ReaderError, seconds

AGENT_PURPOSES = {"internal", "agent", "user"}
CUSTOMER_PURPOSES = {"external", "customer"}
SYSTEM_PURPOSES = {"ivr", "acd", "bot", "workflow"}


def _ms(v: Any) -> float | None:
    if isinstance(v, dict):
        v = v.get("milliseconds")
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


class GenesysReader(Reader):
    name = "genesys"
    suffixes = (".json",)
    description = "Genesys Cloud speech & text analytics transcript JSON (transcripts[].phrases[])"

    def sniff(self, doc: Document) -> float:
        obj = doc.json
        if not isinstance(obj, dict):
            return 0.0
        trs = dict_list(obj.get("transcripts"))
        if trs and isinstance(trs[0].get("phrases"), list):
            return 0.95
        return 0.0

    def read(self, doc: Document) -> Iterator[RawCall]:
        obj = doc.json
        if not isinstance(obj, dict) or not isinstance(obj.get("transcripts"), list):
            raise ReaderError("not a Genesys transcript: no 'transcripts' list", doc.line)
        base = _ms(obj.get("conversationStartTime")) or _ms(obj.get("startTime"))
        phrases: list[tuple[float, int, RawTurn]] = []
        for ti, tr in enumerate(obj["transcripts"]):
            if not isinstance(tr, dict) or not isinstance(tr.get("phrases"), list):
                raise ReaderError(f"transcripts[{ti}] has no 'phrases' list", doc.line)
            for k, ph in enumerate(tr["phrases"]):
                if not isinstance(ph, dict):
                    raise ReaderError(f"transcripts[{ti}].phrases[{k}] is not an object", doc.line)
                text = str(ph.get("text") or ph.get("decoratedText") or "").strip()
                purpose = str(ph.get("participantPurpose") or "").strip().lower()
                if purpose in SYSTEM_PURPOSES:
                    speaker, role = "ivr", Role.AGENT
                else:
                    speaker = purpose or UNKNOWN
                    role = (Role.AGENT if purpose in AGENT_PURPOSES
                            else Role.CUSTOMER if purpose in CUSTOMER_PURPOSES else None)
                abs_ms, off_ms = _ms(ph.get("startTimeMs")), _ms(ph.get("offset"))
                start_ms = abs_ms - base if (abs_ms is not None and base is not None) else off_ms
                dur = _ms(ph.get("duration"))
                start = seconds(start_ms, 0.001)
                end = seconds(start_ms + dur, 0.001) if (start_ms is not None and dur is not None) else None
                order = abs_ms if abs_ms is not None else (off_ms if off_ms is not None else float(k))
                phrases.append((order, len(phrases), RawTurn(speaker=speaker, text=text, start=start, end=end,
                                                             role=role)))
        phrases.sort(key=lambda p: (p[0], p[1]))
        meta: dict[str, Any] = {}
        for k in ("communicationId", "mediaType", "organizationId"):
            if obj.get(k) is not None:
                meta[k] = obj[k]
        cid = obj.get("conversationId")
        yield RawCall(call_id=str(cid) if cid else None, turns=merge_runs([p[2] for p in phrases]),
                      metadata=meta, line=doc.line)
