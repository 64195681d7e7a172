"""Google Contact Center AI (CCAI) Insights conversations, in both documented JSON forms.

1. The conversation data format for uploading transcripts: ``entries[]`` with ``text``, ``role``
   (``AGENT``, ``AUTOMATED_AGENT``, ``CUSTOMER``, ``END_USER``; ``HUMAN_AGENT`` accepted too),
   ``user_id`` and ``start_timestamp_usec`` (microseconds since the Unix epoch). Times are made
   relative to the first entry when they look like epoch times (after 1970-01-12), and taken as
   offsets from the start otherwise.
2. The Insights ``Conversation`` resource (``conversations.get``): ``transcript.transcriptSegments[]``
   with ``text``, ``channelTag``, ``segmentParticipant.role`` (``HUMAN_AGENT``, ``AUTOMATED_AGENT``,
   ``END_USER``, ``ANY_AGENT``) and ``words[]`` with ``startOffset``/``endOffset`` (``"1.5s"``).
   When a segment has no participant role, ``callMetadata.agentChannel``/``customerChannel`` name
   the role of its channel. The call id is the last part of ``name``.

Speakers are the role in lower case (``agent``, ``end_user``; ``agent_7`` when one role has more
than one ``user_id``), or ``channel_N`` when only the channel is known. Each entry or segment is
one turn (no merging: they are messages / speaker segments already).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterator

from ..transcript import Role
from ._common import dict_list, duration_seconds
from .base import Document, RawCall, RawTurn, Reader, ReaderError

ROLE_OF = {
    "AGENT": Role.AGENT, "HUMAN_AGENT": Role.AGENT, "AUTOMATED_AGENT": Role.AGENT, "ANY_AGENT": Role.AGENT,
    "CUSTOMER": Role.CUSTOMER, "END_USER": Role.CUSTOMER,
}
EPOCH_USEC = 1_000_000 * 86_400 * 11  # timestamps above ~11 days are absolute epoch times


def _usec(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


class GoogleCcaiReader(Reader):
    name = "google_ccai"
    suffixes = (".json",)
    description = "Google CCAI Insights conversation JSON (entries[] or transcript.transcriptSegments[])"

    def sniff(self, doc: Document) -> float:
        obj = doc.json
        if not isinstance(obj, dict):
            return 0.0
        ents = dict_list(obj.get("entries"))
        if ents and "text" in ents[0] and ("role" in ents[0] or "user_id" in ents[0]):
            return 0.95
        tr = obj.get("transcript")
        if isinstance(tr, dict) and dict_list(tr.get("transcriptSegments")):
            return 0.95
        return 0.0

    def read(self, doc: Document) -> Iterator[RawCall]:
        obj = doc.json
        if not isinstance(obj, dict):
            raise ReaderError("not a CCAI conversation object", doc.line)
        if isinstance(obj.get("entries"), list):
            yield self._entries(obj, doc)
        elif isinstance(obj.get("transcript"), dict):
            yield self._resource(obj, doc)
        else:
            raise ReaderError("not a CCAI conversation: no 'entries' and no 'transcript.transcriptSegments'", doc.line)

    def _entries(self, obj: dict[str, Any], doc: Document) -> RawCall:
        ents = obj["entries"]
        users: dict[str, set[str]] = defaultdict(set)
        for e in dict_list(ents):
            users[str(e.get("role", "")).upper()].add(str(e.get("user_id")))
        stamps = [u for u in (_usec(e.get("start_timestamp_usec")) for e in dict_list(ents)) if u is not None]
        base = min(stamps) if stamps and min(stamps) > EPOCH_USEC else 0
        turns: list[RawTurn] = []
        for i, e in enumerate(ents):
            if not isinstance(e, dict):
                raise ReaderError(f"entries[{i}] is not an object", doc.line)
            role_word = str(e.get("role", "")).upper()
            speaker = role_word.lower() or f"user_{e.get('user_id')}"
            if len(users[role_word]) > 1 and e.get("user_id") is not None:
                speaker = f"{speaker}_{e['user_id']}"
            u = _usec(e.get("start_timestamp_usec"))
            turns.append(RawTurn(speaker=speaker, text=str(e.get("text") or "").strip(),
                                 start=round((u - base) / 1e6, 3) if u is not None else None,
                                 role=ROLE_OF.get(role_word)))
        for a, b in zip(turns, turns[1:]):  # an entry ends where the next begins
            if a.start is not None and b.start is not None:
                a.end = b.start
        meta: dict[str, Any] = {}
        info = obj.get("conversation_info")
        if isinstance(info, dict) and info.get("categories"):
            meta["categories"] = [c.get("display_name") for c in dict_list(info["categories"])]
        return RawCall(call_id=None, turns=turns, metadata=meta, line=doc.line)

    def _resource(self, obj: dict[str, Any], doc: Document) -> RawCall:
        segs = obj["transcript"].get("transcriptSegments")
        if not isinstance(segs, list):
            raise ReaderError("'transcript.transcriptSegments' must be a list", doc.line)
        cm = obj.get("callMetadata") if isinstance(obj.get("callMetadata"), dict) else {}
        chan_role = {}
        if cm.get("agentChannel") is not None:
            chan_role[str(cm["agentChannel"])] = "HUMAN_AGENT"
        if cm.get("customerChannel") is not None:
            chan_role[str(cm["customerChannel"])] = "END_USER"
        turns: list[RawTurn] = []
        channels: dict[str, str] = {}
        for i, s in enumerate(segs):
            if not isinstance(s, dict):
                raise ReaderError(f"transcriptSegments[{i}] is not an object", doc.line)
            part = s.get("segmentParticipant") if isinstance(s.get("segmentParticipant"), dict) else {}
            tag = s.get("channelTag")
            role_word = str(part.get("role") or chan_role.get(str(tag), "")).upper()
            if role_word == "ROLE_UNSPECIFIED":
                role_word = chan_role.get(str(tag), "")
            speaker = role_word.lower() if role_word else (f"channel_{tag}" if tag is not None else "unknown")
            if tag is not None and tag != 0:
                channels[speaker] = f"ch_{tag}"
            words = dict_list(s.get("words"))
            start = duration_seconds(words[0].get("startOffset")) if words else None
            end = duration_seconds(words[-1].get("endOffset")) if words else None
            turns.append(RawTurn(speaker=speaker, text=str(s.get("text") or "").strip(), start=start, end=end,
                                 role=ROLE_OF.get(role_word)))
        name = str(obj.get("name") or "")
        meta: dict[str, Any] = {}
        for k in ("agentId", "languageCode", "duration", "startTime"):
            if obj.get(k) is not None:
                meta[k] = obj[k]
        return RawCall(call_id=name.rstrip("/").split("/")[-1] or None, turns=turns, metadata=meta,
                       line=doc.line, channels=channels)
