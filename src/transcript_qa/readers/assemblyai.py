"""AssemblyAI transcript JSON (``GET /v2/transcript/{id}``).

Turns come from ``utterances`` (present with ``speaker_labels: true``): ``speaker`` (``"A"``,
``"B"`` ...), ``text``, ``start``/``end`` in milliseconds. Without utterances, ``words`` with a
``speaker`` are grouped by speaker; with neither, the whole ``text`` is one turn of speaker
``unknown``. Consecutive pieces of one speaker are merged. ``id`` is the call id. A transcript
whose ``status`` is not ``completed`` is an error.
"""

from __future__ import annotations

from typing import Any, Iterator

from ._common import UNKNOWN, dict_list, merge_runs
from .base import Document, RawCall, RawTurn, Reader, ReaderError, seconds


class AssemblyAIReader(Reader):
    name = "assemblyai"
    suffixes = (".json",)
    description = "AssemblyAI transcript JSON (utterances with speaker A/B, times in ms)"

    def sniff(self, doc: Document) -> float:
        obj = doc.json
        if not isinstance(obj, dict) or "turns" in obj:
            return 0.0
        utts = dict_list(obj.get("utterances"))
        if utts and "speaker" in utts[0] and "text" in utts[0]:
            return 0.95
        words = dict_list(obj.get("words"))
        if ("audio_url" in obj or "audio_duration" in obj) and "id" in obj and (words or "text" in obj):
            return 0.9
        return 0.0

    def read(self, doc: Document) -> Iterator[RawCall]:
        obj = doc.json
        if not isinstance(obj, dict):
            raise ReaderError("not an AssemblyAI transcript object", doc.line)
        status = obj.get("status")
        if status is not None and str(status).lower() != "completed":
            reason = f": {obj['error']}" if obj.get("error") else ""
            raise ReaderError(f"transcript status is {status!r}, not 'completed'{reason}", doc.line)
        pieces: list[RawTurn] = []
        utts = dict_list(obj.get("utterances"))
        if utts:
            for u in utts:
                pieces.append(RawTurn(speaker=str(u.get("speaker") if u.get("speaker") is not None else UNKNOWN),
                                      text=str(u.get("text") or "").strip(),
                                      start=seconds(u.get("start"), 0.001), end=seconds(u.get("end"), 0.001)))
        else:
            words = dict_list(obj.get("words"))
            if words and any(w.get("speaker") is not None for w in words):
                for w in words:
                    pieces.append(RawTurn(speaker=str(w.get("speaker") if w.get("speaker") is not None else UNKNOWN),
                                          text=str(w.get("text") or "").strip(),
                                          start=seconds(w.get("start"), 0.001), end=seconds(w.get("end"), 0.001)))
            elif isinstance(obj.get("text"), str) and obj["text"].strip():
                start = seconds(words[0].get("start"), 0.001) if words else None
                end = seconds(words[-1].get("end"), 0.001) if words else None
                pieces.append(RawTurn(speaker=UNKNOWN, text=obj["text"].strip(), start=start, end=end))
        meta: dict[str, Any] = {}
        for k in ("audio_url", "audio_duration", "language_code"):
            if obj.get(k) is not None:
                meta[k] = obj[k]
        cid = obj.get("id")
        yield RawCall(call_id=str(cid) if cid else None, turns=merge_runs(pieces), metadata=meta, line=doc.line)
