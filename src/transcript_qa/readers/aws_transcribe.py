"""Amazon Transcribe batch output JSON (``jobName``, ``results.transcripts``, ``results.items`` ...).

Turns are built, in order of preference, from:

1. ``results.audio_segments`` (newer output): one piece per segment, speaker ``speaker_label``
   (``spk_0``) or ``channel_label`` (``ch_0``);
2. speaker diarization: ``results.items`` (words and punctuation) with each word's speaker taken
   from the item's ``speaker_label`` or, in older output, from ``results.speaker_labels.segments``;
3. channel identification: ``results.channel_labels.channels[].items``, words of both channels
   interleaved by start time, speaker = channel label (``ch_0``, ``ch_1``);
4. otherwise all items as one speaker ``unknown``.

A new turn starts where the speaker changes; punctuation is glued to the word before it. In
channel mode ``RawCall.channels`` maps each speaker to its channel, so ``--agent-speaker ch_0``
works. ``jobName`` is the call id.
"""

from __future__ import annotations

from typing import Any, Iterator

from ._common import UNKNOWN, dict_list, merge_runs
from .base import Document, RawCall, RawTurn, Reader, ReaderError, seconds


def _content(item: dict[str, Any]) -> str:
    alts = item.get("alternatives") or [{}]
    return str((alts[0] or {}).get("content", "") if isinstance(alts[0], dict) else "").strip()


def _words(items: list[dict[str, Any]], speaker_of) -> list[list[Any]]:
    """Items -> [speaker, text, start, end] words, punctuation glued to the word before."""
    words: list[list[Any]] = []
    for it in items:
        text = _content(it)
        if not text:
            continue
        if it.get("type") == "punctuation":
            if words:
                words[-1][1] += text
            continue
        words.append([speaker_of(it), text, seconds(it.get("start_time")), seconds(it.get("end_time"))])
    return words


def _turns(words: list[list[Any]]) -> list[RawTurn]:
    turns: list[RawTurn] = []
    for sp, text, start, end in words:
        if turns and turns[-1].speaker == sp:
            turns[-1].text += " " + text
            turns[-1].end = end if end is not None else turns[-1].end
        else:
            turns.append(RawTurn(speaker=sp, text=text, start=start, end=end))
    return turns


class AwsTranscribeReader(Reader):
    name = "aws_transcribe"
    suffixes = (".json",)
    description = "Amazon Transcribe batch JSON (speaker_labels / channel_labels / audio_segments)"

    def sniff(self, doc: Document) -> float:
        obj = doc.json
        if not isinstance(obj, dict) or not isinstance(obj.get("results"), dict):
            return 0.0
        res = obj["results"]
        if isinstance(res.get("items"), list) and isinstance(res.get("transcripts"), list):
            return 0.95
        if any(k in res for k in ("speaker_labels", "channel_labels", "audio_segments")) and "jobName" in obj:
            return 0.95
        return 0.0

    def read(self, doc: Document) -> Iterator[RawCall]:
        obj = doc.json
        if not isinstance(obj, dict) or not isinstance(obj.get("results"), dict):
            raise ReaderError("not Amazon Transcribe output: no 'results' object", doc.line)
        res = obj["results"]
        status = obj.get("status")
        if status and str(status).upper() not in ("COMPLETED",):
            raise ReaderError(f"transcription job status is {status!r}, not COMPLETED", doc.line)
        channels: dict[str, str] = {}
        segments = dict_list(res.get("audio_segments"))
        items = res.get("items") if isinstance(res.get("items"), list) else []
        if segments:
            pieces = []
            for seg in segments:
                sp = seg.get("speaker_label") or seg.get("channel_label") or UNKNOWN
                if seg.get("channel_label") and not seg.get("speaker_label"):
                    channels[sp] = sp
                pieces.append(RawTurn(speaker=sp, text=str(seg.get("transcript") or "").strip(),
                                      start=seconds(seg.get("start_time")), end=seconds(seg.get("end_time"))))
            turns = merge_runs(pieces)
        elif isinstance(res.get("speaker_labels"), dict):
            by_start: dict[str, str] = {}
            spans: list[tuple[float, float, str]] = []
            for seg in dict_list(res["speaker_labels"].get("segments")):
                for it in dict_list(seg.get("items")) or [seg]:
                    label = it.get("speaker_label") or seg.get("speaker_label")
                    if it.get("start_time") is not None and label:
                        by_start[str(it["start_time"])] = label
                        s, e = seconds(it.get("start_time")), seconds(it.get("end_time"))
                        if s is not None and e is not None:
                            spans.append((s, e, label))

            def speaker_of(it: dict[str, Any]) -> str:
                if it.get("speaker_label"):
                    return str(it["speaker_label"])
                if str(it.get("start_time")) in by_start:
                    return by_start[str(it["start_time"])]
                t = seconds(it.get("start_time"))
                for s, e, label in spans:
                    if t is not None and s <= t <= e:
                        return label
                return UNKNOWN

            turns = _turns(_words(items, speaker_of))
        elif isinstance(res.get("channel_labels"), dict):
            words: list[list[Any]] = []
            for ch in dict_list(res["channel_labels"].get("channels")):
                label = str(ch.get("channel_label") or f"ch_{len(channels)}")
                channels[label] = label
                words.extend(_words(dict_list(ch.get("items")), lambda it, lb=label: lb))
            words.sort(key=lambda w: (w[2] is None, w[2] or 0.0))
            turns = _turns(words)
        else:
            turns = _turns(_words(items, lambda it: str(it.get("speaker_label") or UNKNOWN)))
        if not turns and res.get("transcripts"):
            text = " ".join(str(t.get("transcript", "")) for t in dict_list(res["transcripts"])).strip()
            turns = [RawTurn(speaker=UNKNOWN, text=text)] if text else []
        meta: dict[str, Any] = {}
        for k in ("accountId", "status"):
            if obj.get(k) is not None:
                meta[k] = obj[k]
        if res.get("language_code"):
            meta["language_code"] = res["language_code"]
        cid = obj.get("jobName")
        yield RawCall(call_id=str(cid) if cid else None, turns=turns, metadata=meta, line=doc.line,
                      channels=channels)
