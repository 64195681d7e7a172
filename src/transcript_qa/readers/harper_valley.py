"""The Gridspace-Stanford Harper Valley Bank corpus: ``data/transcript/<sid>.json`` files.

A transcript file is a JSON list of segments with ``speaker_role`` (``agent`` / ``caller``),
``human_transcript`` (corrected by transcriptionists), ``transcript`` (machine ASR), ``index``,
``channel_index`` (1 caller, 2 agent), ``start_ms``, ``offset_ms``, ``duration_ms``,
``dialog_acts`` and ``emotion``.

- Text: ``human_transcript`` by default (``HarperValleyReader(text="asr")`` takes ``transcript``),
  with non-speech tokens (``[noise]``, ``[kids]``, ``<unk>`` ...) removed; segments left empty
  are skipped.
- Time: ``offset_ms`` (from the start of the recording; the corpus README) when present, else
  ``start_ms``. In the corpus ``start_ms`` of the agent channel runs about two seconds off the
  caller's, while ``offset_ms`` matches ``start_timestamp_ms`` on both; end = start + ``duration_ms``.
- Order: by ``index``. Each segment is one turn (no merging), so that
  ``RawCall.metadata["dialog_acts"]`` (one list of Gridspace dialog-act tags per kept turn) stays
  aligned with the turns.
- Roles from ``speaker_role``; ``RawCall.channels`` maps ``agent``/``caller`` to ``ch_2``/``ch_1``.
- The call id is the file stem (the corpus's ``sid``).

The corpus's per-call metadata files (``data/metadata/<sid>.json``: ``sid``, ``agent``,
``caller``, ``tasks`` ...) are recognised and skipped with a warning: they hold no transcript.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..transcript import Role
from ._common import dict_list, squash
from .base import Document, RawCall, RawTurn, Reader, ReaderError, SkipDocument, seconds

ROLE_OF = {"agent": Role.AGENT, "caller": Role.CUSTOMER}
NON_SPEECH = re.compile(r"\[[^\]]*\]|<[^>]*>")


def is_metadata(obj: Any) -> bool:
    return isinstance(obj, dict) and "sid" in obj and "agent" in obj and "caller" in obj and "tasks" in obj


class HarperValleyReader(Reader):
    name = "harper_valley"
    suffixes = (".json",)
    description = "Harper Valley Bank corpus transcript (segments with speaker_role, human_transcript)"

    def __init__(self, text: str = "human"):
        if text not in ("human", "asr"):
            raise ValueError("text must be 'human' or 'asr'")
        self.text = text

    def sniff(self, doc: Document) -> float:
        obj = doc.json
        segs = dict_list(obj)
        if segs and "speaker_role" in segs[0] and ("human_transcript" in segs[0] or "transcript" in segs[0]):
            return 0.95
        if is_metadata(obj):
            return 0.9
        return 0.0

    def read(self, doc: Document) -> Iterator[RawCall]:
        obj = doc.json
        if is_metadata(obj):
            raise SkipDocument("Harper Valley call metadata (no transcript); skipped", doc.line)
        if not isinstance(obj, list):
            raise ReaderError("not a Harper Valley transcript: expected a JSON list of segments", doc.line)
        segs: list[tuple[float, int, dict[str, Any]]] = []
        for i, s in enumerate(obj):
            if not isinstance(s, dict) or "speaker_role" not in s:
                raise ReaderError(f"segment {i} has no 'speaker_role'", doc.line)
            try:
                idx = float(s.get("index", i))
            except (TypeError, ValueError):
                idx = float(i)
            segs.append((idx, i, s))
        segs.sort(key=lambda x: (x[0], x[1]))
        turns: list[RawTurn] = []
        acts: list[list[str]] = []
        channels: dict[str, str] = {}
        key = "human_transcript" if self.text == "human" else "transcript"
        for _, _, s in segs:
            raw = s.get(key)
            if raw is None and key == "human_transcript":
                raw = s.get("transcript")
            text = squash(NON_SPEECH.sub(" ", str(raw or "")))
            if not text:
                continue
            speaker = str(s["speaker_role"]).strip().lower()
            start_ms = s.get("offset_ms") if s.get("offset_ms") is not None else s.get("start_ms")
            start = seconds(start_ms, 0.001)
            dur = s.get("duration_ms")
            end = seconds(float(start_ms) + float(dur), 0.001) if (start is not None and dur is not None) else None
            turns.append(RawTurn(speaker=speaker, text=text, start=start, end=end, role=ROLE_OF.get(speaker)))
            acts.append([str(a) for a in (s.get("dialog_acts") or [])])
            if s.get("channel_index") is not None:
                channels[speaker] = f"ch_{s['channel_index']}"
        meta = {"corpus": "harper_valley", "transcript": self.text, "dialog_acts": acts}
        yield RawCall(call_id=None, turns=turns, metadata=meta, line=doc.line, channels=channels)
