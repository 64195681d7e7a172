"""Helpers the format readers share: markup cleaning, ``Name: text`` prefixes, joining ASR tokens,
merging runs of one speaker, and small JSON accessors.

The merge rule used across readers (docs/formats.md): formats whose pieces are smaller than a turn
(subtitle cues, ASR segments, words, sentences, phrases) merge *consecutive pieces of the same known
speaker* into one turn; pieces whose speaker is unknown stay one turn each, because nothing says
they belong together.
"""

from __future__ import annotations

import html
import re
from typing import Any, Iterable

from .base import RawTurn

UNKNOWN = "unknown"

_TAG = re.compile(r"<[^>]*>|\{\\[^}]*\}")  # HTML-ish tags and SSA override blocks like {\an8}
_WS = re.compile(r"\s+")

# "Dana: hi", "Agent Smith: ...", "SPEAKER_00: ...", "[SPEAKER_00]: ...", "[Dana]: ...", "[SPEAKER_01] hi"
_PREFIX = re.compile(
    r"^\s*(?:-\s*)?(?:"
    r"\[(?P<bracket>[^\]\n]{1,40})\]\s*:"  # [Name]:
    r"|\[(?P<generic>(?:SPEAKER|Speaker|speaker)[ _]?\d{1,3})\]"  # [SPEAKER_00] without a colon
    r"|(?P<plain>[^\W\d_][\w.'’ ()-]{0,38}?)\s*:"  # Name:
    r")\s*(?P<text>.*)$",
    re.S,
)
_NOT_SPEAKERS = {
    "note", "notes", "http", "https", "re", "subject", "ps", "warning", "tip", "example", "caution",
    "important", "source", "update", "edit", "nb",
}


def clean_markup(text: str) -> str:
    """Strip tags (``<i>``, ``<c.x>``, ``<00:01.000>``, ``</v>``), unescape entities, collapse spaces."""
    return _WS.sub(" ", html.unescape(_TAG.sub("", text))).strip()


def squash(text: str) -> str:
    return _WS.sub(" ", text).strip()


def speaker_prefix(line: str) -> tuple[str, str] | None:
    """``(speaker, rest)`` when ``line`` starts with a speaker label and a colon, else None."""
    m = _PREFIX.match(line)
    if not m:
        return None
    label = (m.group("bracket") or m.group("generic") or m.group("plain") or "").strip()
    if not label or len(label.split()) > 4 or label.lower() in _NOT_SPEAKERS:
        return None
    if m.group("plain") is not None and not m.group("text").strip():
        return None  # "Dana:" alone on a line is a heading, not a turn
    return label, m.group("text").strip()


def join_tokens(tokens: Iterable[tuple[str, bool]]) -> str:
    """Join ``(token, is_punctuation)`` pairs: words with spaces, punctuation glued to the word before."""
    out = ""
    for tok, punct in tokens:
        tok = tok.strip()
        if not tok:
            continue
        out = out + tok if (punct or not out) else f"{out} {tok}"
    return out


def merge_runs(turns: list[RawTurn]) -> list[RawTurn]:
    """Merge consecutive turns of the same known speaker (and role); unknown speakers stay apart."""
    out: list[RawTurn] = []
    for t in turns:
        if not t.text.strip():
            continue
        prev = out[-1] if out else None
        if prev is not None and t.speaker == prev.speaker and t.speaker != UNKNOWN and t.role == prev.role:
            prev.text = f"{prev.text} {t.text}".strip()
            if t.end is not None:
                prev.end = t.end
            if prev.start is None:
                prev.start = t.start
        else:
            out.append(RawTurn(speaker=t.speaker, text=t.text.strip(), start=t.start, end=t.end, role=t.role))
    return out


def first_key(obj: dict[str, Any], *keys: str) -> Any:
    """The value of the first key present and not None."""
    for k in keys:
        if obj.get(k) is not None:
            return obj[k]
    return None


def dict_list(value: Any) -> list[dict[str, Any]]:
    """``value`` when it is a non-empty list whose first items are objects, else []."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value[:5]):
        return value
    return []


def duration_seconds(value: Any) -> float | None:
    """A protobuf JSON duration (``"1.500s"``) or a number as seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        v = value.strip()
        if v.endswith("s"):
            v = v[:-1]
        try:
            return round(float(v), 3)
        except ValueError:
            return None
    if isinstance(value, dict):  # {"seconds": "1", "nanos": 500000000}
        try:
            return round(float(value.get("seconds", 0) or 0) + float(value.get("nanos", 0) or 0) / 1e9, 3)
        except (TypeError, ValueError):
            return None
    try:
        return round(float(value), 3)
    except (TypeError, ValueError):
        return None
