"""OpenAI Whisper and WhisperX JSON output.

Whisper (``whisper audio.wav --output_format json``): ``text``, ``language`` and ``segments[]``
with ``start``, ``end`` (seconds) and ``text``. WhisperX adds a ``speaker`` (``SPEAKER_00``) to
diarised segments and ``words[]`` (``word``, ``start``, ``end``, ``score``, ``speaker``). A segment
without ``speaker`` takes the most common speaker of its words, else ``unknown``.

Consecutive segments of the same known speaker are merged into one turn; ``unknown`` segments
stay one turn each. Plain Whisper has no speakers at all, so its calls are one-speaker calls
(sources.py reports that as a warning; pass ``--agent-speaker unknown`` or use a diariser).
"""

from __future__ import annotations

from collections import Counter
from typing import Iterator

from ._common import UNKNOWN, dict_list, merge_runs
from .base import Document, RawCall, RawTurn, Reader, ReaderError, seconds


class WhisperReader(Reader):
    name = "whisper"
    suffixes = (".json",)
    description = "OpenAI Whisper / WhisperX JSON (segments[], optional speaker SPEAKER_00)"

    def sniff(self, doc: Document) -> float:
        obj = doc.json
        if not isinstance(obj, dict) or "turns" in obj or "results" in obj:
            return 0.0
        segs = dict_list(obj.get("segments"))
        if segs and all(k in segs[0] for k in ("start", "end", "text")):
            return 0.9
        if isinstance(obj.get("segments"), list) and not obj["segments"] and isinstance(obj.get("text"), str) \
                and "language" in obj:
            return 0.8
        return 0.0

    def read(self, doc: Document) -> Iterator[RawCall]:
        obj = doc.json
        if not isinstance(obj, dict) or not isinstance(obj.get("segments"), list):
            raise ReaderError("not Whisper output: no 'segments' list", doc.line)
        pieces: list[RawTurn] = []
        for i, seg in enumerate(obj["segments"]):
            if not isinstance(seg, dict):
                raise ReaderError(f"segments[{i}] is not an object", doc.line)
            speaker = seg.get("speaker")
            if speaker is None:
                votes = Counter(w.get("speaker") for w in dict_list(seg.get("words")) if w.get("speaker"))
                speaker = votes.most_common(1)[0][0] if votes else None
            pieces.append(RawTurn(speaker=str(speaker) if speaker is not None else UNKNOWN,
                                  text=str(seg.get("text") or "").strip(),
                                  start=seconds(seg.get("start")), end=seconds(seg.get("end"))))
        if not pieces and isinstance(obj.get("text"), str) and obj["text"].strip():
            pieces.append(RawTurn(speaker=UNKNOWN, text=obj["text"].strip()))
        meta = {"language": obj["language"]} if obj.get("language") else {}
        yield RawCall(call_id=None, turns=merge_runs(pieces), metadata=meta, line=doc.line)
