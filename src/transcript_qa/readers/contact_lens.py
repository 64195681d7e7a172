"""Amazon Transcribe Call Analytics and Amazon Connect Contact Lens output JSON.

Both have a ``Transcript`` list of turns with ``Content``, ``BeginOffsetMillis`` and
``EndOffsetMillis``. The speaker is named two ways:

- Call Analytics job output: ``ParticipantRole`` (``AGENT`` / ``CUSTOMER``) on each turn,
  ``JobName`` at the top (the call id);
- Contact Lens output in the instance's S3 bucket: ``ParticipantId`` on each turn, resolved to a
  role through the ``Participants`` list (``ParticipantId`` -> ``ParticipantRole``); in the
  documented examples the id is itself ``AGENT`` / ``CUSTOMER``. The call id is
  ``CustomerMetadata.ContactId`` (or a top-level ``ContactId``).

Roles come from the format: AGENT, SUPERVISOR, SYSTEM and CUSTOM_BOT are the agent side, CUSTOMER
the customer. Each entry is one turn (no merging: the service already cut the turns).
"""

from __future__ import annotations

from typing import Any, Iterator

from ..transcript import Role
from ._common import dict_list
from .base import Document, RawCall, RawTurn, Reader, ReaderError, seconds

ROLE_OF = {
    "AGENT": Role.AGENT, "SUPERVISOR": Role.AGENT, "SYSTEM": Role.AGENT, "CUSTOM_BOT": Role.AGENT,
    "CUSTOMER": Role.CUSTOMER,
}


class ContactLensReader(Reader):
    name = "contact_lens"
    suffixes = (".json",)
    description = "Amazon Transcribe Call Analytics / Connect Contact Lens JSON (Transcript[], Participants)"

    def sniff(self, doc: Document) -> float:
        obj = doc.json
        if not isinstance(obj, dict):
            return 0.0
        tr = dict_list(obj.get("Transcript"))
        if tr and any("Content" in t and ("ParticipantId" in t or "ParticipantRole" in t) for t in tr[:5]):
            return 0.95
        return 0.0

    def read(self, doc: Document) -> Iterator[RawCall]:
        obj = doc.json
        if not isinstance(obj, dict) or not isinstance(obj.get("Transcript"), list):
            raise ReaderError("not Call Analytics / Contact Lens output: no 'Transcript' list", doc.line)
        roles_by_id = {str(p.get("ParticipantId")): str(p.get("ParticipantRole", "")).upper()
                       for p in dict_list(obj.get("Participants")) if p.get("ParticipantId") is not None}
        turns: list[RawTurn] = []
        for i, t in enumerate(obj["Transcript"]):
            if not isinstance(t, dict):
                raise ReaderError(f"Transcript[{i}] is not an object", doc.line)
            content = t.get("Content")
            if not isinstance(content, str) or not content.strip():
                continue  # chat events (joins, leaves) have no content
            pid = t.get("ParticipantId")
            role_word = str(t.get("ParticipantRole") or roles_by_id.get(str(pid), "") or "").upper()
            if not role_word and str(pid).upper() in ROLE_OF:
                role_word = str(pid).upper()
            speaker = role_word.lower() if role_word else str(pid if pid is not None else "unknown")
            turns.append(RawTurn(speaker=speaker, text=content.strip(),
                                 start=seconds(t.get("BeginOffsetMillis"), 0.001),
                                 end=seconds(t.get("EndOffsetMillis"), 0.001),
                                 role=ROLE_OF.get(role_word)))
        cm = obj.get("CustomerMetadata") if isinstance(obj.get("CustomerMetadata"), dict) else {}
        cid = obj.get("JobName") or cm.get("ContactId") or obj.get("ContactId")
        meta: dict[str, Any] = {"variant": "call_analytics" if obj.get("JobName") else "contact_lens"}
        for k in ("Channel", "LanguageCode", "AccountId"):
            if obj.get(k) is not None:
                meta[k] = obj[k]
        if cm.get("InstanceId"):
            meta["InstanceId"] = cm["InstanceId"]
        yield RawCall(call_id=str(cid) if cid else None, turns=turns, metadata=meta, line=doc.line)
