"""Twilio Voice Intelligence (Conversational Intelligence) transcript sentences.

Accepted shapes:

- the API list response of ``GET /v2/Transcripts/{TranscriptSid}/Sentences``:
  ``{"sentences": [...], "meta": {...}}``;
- a bare JSON array of sentence objects;
- the Transcript resource (``GET /v2/Transcripts/{Sid}``) with the sentences added under
  ``"sentences"`` (our convention for keeping both in one file), which carries
  ``channel.participants[]`` (``channel_participant``, ``role``: ``Agent`` / ``Customer``).

A sentence has ``media_channel``, ``sentence_index``, ``start_time``/``end_time`` (seconds, often
as strings) and ``transcript``. Sentences are put in ``sentence_index`` order; the speaker is the
channel, ``channel_1`` / ``channel_2``, with ``RawCall.channels`` mapping them to ``ch_1`` / ``ch_2``
(Twilio numbers channels from 1). Roles come from the participants when the file has them, and are
inferred from the text otherwise. Consecutive sentences of one channel are merged into a turn.
Call id: the Transcript ``sid`` (``GT...``), or the one in ``meta.url``; else the file stem.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..transcript import Role
from ._common import dict_list, merge_runs
from .base import Document, RawCall, RawTurn, Reader, ReaderError, seconds

ROLE_OF = {"agent": Role.AGENT, "human_agent": Role.AGENT, "ai_agent": Role.AGENT, "customer": Role.CUSTOMER}
_GT = re.compile(r"/Transcripts/(GT[0-9a-fA-F]{32})")


def _is_sentence(d: dict[str, Any]) -> bool:
    return "media_channel" in d and "transcript" in d and ("sentence_index" in d or "start_time" in d)


class TwilioReader(Reader):
    name = "twilio"
    suffixes = (".json",)
    description = "Twilio Voice Intelligence transcript sentences (media_channel, sentence_index)"

    def sniff(self, doc: Document) -> float:
        obj = doc.json
        sents = dict_list(obj.get("sentences")) if isinstance(obj, dict) else dict_list(obj)
        return 0.95 if sents and _is_sentence(sents[0]) else 0.0

    def read(self, doc: Document) -> Iterator[RawCall]:
        obj = doc.json
        sents = obj.get("sentences") if isinstance(obj, dict) else obj
        if not isinstance(sents, list):
            raise ReaderError("not Twilio transcript sentences: expected a 'sentences' list", doc.line)
        res = obj if isinstance(obj, dict) else {}
        roles: dict[str, Role] = {}
        chan = res.get("channel") if isinstance(res.get("channel"), dict) else {}
        for p in dict_list(chan.get("participants")):
            role = ROLE_OF.get(str(p.get("role") or "").strip().lower().replace(" ", "_"))
            if p.get("channel_participant") is not None and role is not None:
                roles[f"channel_{p['channel_participant']}"] = role
        rows: list[tuple[int, int, RawTurn]] = []
        channels: dict[str, str] = {}
        for i, s in enumerate(sents):
            if not isinstance(s, dict) or not _is_sentence(s):
                raise ReaderError(f"sentences[{i}] is not a sentence object (media_channel, transcript)", doc.line)
            speaker = f"channel_{s['media_channel']}"
            channels[speaker] = f"ch_{s['media_channel']}"
            try:
                idx = int(s.get("sentence_index", i))
            except (TypeError, ValueError):
                idx = i
            rows.append((idx, i, RawTurn(speaker=speaker, text=str(s.get("transcript") or "").strip(),
                                         start=seconds(s.get("start_time")), end=seconds(s.get("end_time")),
                                         role=roles.get(speaker))))
        rows.sort(key=lambda r: (r[0], r[1]))
        cid = res.get("sid")
        if not cid:
            meta_in = res.get("meta") if isinstance(res.get("meta"), dict) else {}
            m = _GT.search(str(meta_in.get("url") or meta_in.get("first_page_url") or ""))
            cid = m.group(1) if m else None
        meta: dict[str, Any] = {}
        for k in ("service_sid", "language_code", "duration", "date_created"):
            if res.get(k) is not None:
                meta[k] = res[k]
        yield RawCall(call_id=str(cid) if cid else None, turns=merge_runs([r[2] for r in rows]), metadata=meta,
                      line=doc.line, channels=channels)
