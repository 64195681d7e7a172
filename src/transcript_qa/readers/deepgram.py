"""Deepgram pre-recorded (``/v1/listen``) response JSON: ``metadata`` plus ``results``.

Turns come from ``results.utterances`` (requested with ``utterances=true``): ``transcript``,
``start``/``end`` in seconds, integer ``speaker`` (with ``diarize=true``) and ``channel``. Without
utterances, the words of ``results.channels[].alternatives[0].words`` (``punctuated_word`` when
present) are grouped by speaker. Speakers are named ``speaker_0``, ``speaker_1`` ...; in a
multichannel response (``multichannel=true``, more than one channel) the channel is the speaker
(``channel_0``, ``channel_1``), with ``RawCall.channels`` mapping them to ``ch_0``, ``ch_1`` so
``--agent-speaker ch_0`` works. Consecutive pieces of one speaker are merged into a turn.

Call id: the file name's stem, because Deepgram's ``metadata.request_id`` is an opaque UUID that
says nothing about the call. Two exceptions: ``metadata.extra.call_id`` (set with the request
parameter ``extra=call_id:...``) always wins, and inside JSON Lines, where there is no per-call
file name, ``request_id`` is used. ``request_id`` is kept in the metadata either way.
"""

from __future__ import annotations

from typing import Any, Iterator

from ._common import UNKNOWN, dict_list, merge_runs
from .base import Document, RawCall, RawTurn, Reader, ReaderError, seconds


def _alt(channel: dict[str, Any]) -> dict[str, Any]:
    alts = dict_list(channel.get("alternatives"))
    return alts[0] if alts else {}


class DeepgramReader(Reader):
    name = "deepgram"
    suffixes = (".json",)
    description = "Deepgram /v1/listen JSON (results.utterances, or words with speaker)"

    def sniff(self, doc: Document) -> float:
        obj = doc.json
        if not isinstance(obj, dict) or not isinstance(obj.get("results"), dict):
            return 0.0
        res = obj["results"]
        utts = dict_list(res.get("utterances"))
        if utts and "transcript" in utts[0]:
            return 0.95
        chans = dict_list(res.get("channels"))
        if chans and "alternatives" in chans[0]:
            return 0.95
        return 0.0

    def read(self, doc: Document) -> Iterator[RawCall]:
        obj = doc.json
        if not isinstance(obj, dict) or not isinstance(obj.get("results"), dict):
            raise ReaderError("not a Deepgram response: no 'results' object", doc.line)
        res = obj["results"]
        meta_in = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        utts = dict_list(res.get("utterances"))
        chans = dict_list(res.get("channels"))
        declared = meta_in.get("channels") if isinstance(meta_in.get("channels"), int) else 0
        multi = max(len(chans), declared, len({u.get("channel") for u in utts if u.get("channel") is not None})) > 1
        channels: dict[str, str] = {}

        def label(speaker: Any, channel: Any) -> str:
            if multi and channel is not None:
                lb = f"channel_{channel}"
                channels[lb] = f"ch_{channel}"
                return lb
            return f"speaker_{speaker}" if speaker is not None else UNKNOWN

        pieces: list[RawTurn] = []
        if utts:
            for u in utts:
                pieces.append(RawTurn(speaker=label(u.get("speaker"), u.get("channel")),
                                      text=str(u.get("transcript") or "").strip(),
                                      start=seconds(u.get("start")), end=seconds(u.get("end"))))
        else:
            for ci, ch in enumerate(chans):
                for w in dict_list(_alt(ch).get("words")):
                    pieces.append(RawTurn(speaker=label(w.get("speaker"), ci),
                                          text=str(w.get("punctuated_word") or w.get("word") or "").strip(),
                                          start=seconds(w.get("start")), end=seconds(w.get("end"))))
            if multi:
                pieces.sort(key=lambda t: (t.start is None, t.start or 0.0))
            if not pieces:  # no word timings at all: the channel transcripts
                for ci, ch in enumerate(chans):
                    text = str(_alt(ch).get("transcript") or "").strip()
                    if text:
                        pieces.append(RawTurn(speaker=label(None, ci) if multi else UNKNOWN, text=text))
        if not utts and pieces and all(p.speaker == UNKNOWN for p in pieces):
            # undiarised mono words: one turn, not one turn per word
            turns = [RawTurn(speaker=UNKNOWN, text=" ".join(p.text for p in pieces if p.text),
                             start=pieces[0].start, end=pieces[-1].end)]
        else:
            turns = merge_runs(pieces)
        extra = meta_in.get("extra") if isinstance(meta_in.get("extra"), dict) else {}
        request_id = meta_in.get("request_id")
        cid = extra.get("call_id") or (request_id if doc.line is not None else None)
        meta: dict[str, Any] = {}
        for k in ("request_id", "created", "duration", "channels"):
            if meta_in.get(k) is not None:
                meta[k] = meta_in[k]
        yield RawCall(call_id=str(cid) if cid else None, turns=turns, metadata=meta, line=doc.line,
                      channels=channels)
