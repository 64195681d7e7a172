"""The native JSON format (docs/formats.md): the gold label format of docs/labels.md without the labels.

One call per JSON object; a JSON array of such objects or JSON Lines hold many. Label fields
(``stage``, ``offer``, ``outcome`` ...) are allowed and ignored, so a labeled file is valid input.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..transcript import Role
from .base import Document, RawCall, RawTurn, Reader, ReaderError, seconds

ROLE_WORDS = {"agent": Role.AGENT, "customer": Role.CUSTOMER}


def is_native_call(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("turns"), list)
        and all(isinstance(t, dict) and "text" in t for t in obj["turns"][:5])
    )


def native_call(obj: dict[str, Any], line: int | None = None) -> RawCall:
    """One native call object -> RawCall. ``role`` wins over ``speaker`` for the role."""
    turns_in = obj.get("turns")
    if not isinstance(turns_in, list):
        raise ReaderError("'turns' must be a list", line)
    turns: list[RawTurn] = []
    for i, t in enumerate(turns_in):
        if not isinstance(t, dict):
            raise ReaderError(f"turn {i} is not an object", line)
        if not isinstance(t.get("text"), str):
            raise ReaderError(f"turn {i} has no 'text'", line)
        speaker = str(t.get("speaker", t.get("role", "")) or "")
        role_word = str(t.get("role") or t.get("speaker") or "").strip().lower()
        turns.append(
            RawTurn(
                speaker=speaker,
                text=t["text"],
                start=seconds(t.get("start")),
                end=seconds(t.get("end")),
                role=ROLE_WORDS.get(role_word),
            )
        )
    meta = obj.get("metadata") or {}
    if not isinstance(meta, dict):
        raise ReaderError("'metadata' must be an object", line)
    cid = obj.get("call_id", obj.get("id"))
    return RawCall(call_id=str(cid) if cid is not None else None, turns=turns, metadata=dict(meta), line=line)


class NativeReader(Reader):
    name = "native"
    suffixes = (".json", ".jsonl", ".ndjson")
    description = "transcript-qa native JSON / JSONL (labeled files too)"

    def sniff(self, doc: Document) -> float:
        obj = doc.json
        if is_native_call(obj):
            return 0.9
        if isinstance(obj, list) and obj and all(is_native_call(o) for o in obj[:3]):
            return 0.9
        return 0.0

    def read(self, doc: Document) -> Iterator[RawCall]:
        obj = doc.json
        if isinstance(obj, list):
            for i, o in enumerate(obj):
                if not is_native_call(o):
                    raise ReaderError(f"item {i} of the array is not a call object with 'turns'")
                yield native_call(o, doc.line)
        elif is_native_call(obj):
            yield native_call(obj, doc.line)
        else:
            raise ReaderError("not a native call: expected an object with a 'turns' list", doc.line)
