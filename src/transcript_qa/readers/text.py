"""Plain-text transcripts: ``Agent: ...`` / ``Customer: ...`` lines and their usual variants.

Handles ``AGENT:``, ``Rep:``, ``Caller:``, ``Speaker 1:``, names (``Dana:``), ``[00:01:02]`` or
``00:01:02`` time prefixes (before or after the speaker), ``- Agent:`` bullets, and continuation
lines (a line with no speaker belongs to the turn above).
"""

from __future__ import annotations

import re
from typing import Iterator

from ..transcript import Role
from .base import Document, RawCall, RawTurn, Reader, ReaderError, timecode

AGENT_WORDS = {
    "agent", "rep", "representative", "advisor", "adviser", "operator", "csr", "associate", "support",
    "consultant", "specialist", "staff", "employee", "host", "service", "banker", "assistant",
}
CUSTOMER_WORDS = {"customer", "caller", "client", "member", "user", "patient", "guest", "cust", "consumer", "visitor"}

_TIME = r"\[?\(?(?P<{n}>\d{{1,2}}:\d{{2}}(?::\d{{2}})?(?:[.,]\d+)?)\)?\]?"
LINE = re.compile(
    r"^\s*(?:[-*•]\s*)?(?:" + _TIME.format(n="t1") + r"\s*[-–]?\s*)?"
    r"(?P<speaker>[A-Za-z][\w .'’-]{0,30}?|\[[^\]]{1,30}\])\s*"
    r"(?:" + _TIME.format(n="t2") + r"\s*)?[:：]\s?(?P<text>.*)$"
)
HEADER = re.compile(r"^\s*(transcript|call id|call_id|date|duration)\b", re.I)


def role_of_label(label: str) -> Role | None:
    """The role a speaker label names ('Agent Dana' -> agent, 'Speaker 1' -> None)."""
    words = re.findall(r"[a-z]+", label.lower())
    if any(w in AGENT_WORDS for w in words):
        return Role.AGENT
    if any(w in CUSTOMER_WORDS for w in words):
        return Role.CUSTOMER
    return None


def _speaker_line(line: str) -> re.Match[str] | None:
    m = LINE.match(line)
    if not m:
        return None
    sp = m.group("speaker").strip().strip("[]").strip()
    # "Note: ..." or a sentence with a colon is not a speaker: keep labels short
    if len(sp.split()) > 3 or sp.lower() in {"note", "http", "https", "re", "subject", "ps"}:
        return None
    return m


class TextReader(Reader):
    name = "text"
    suffixes = (".txt", ".text", ".log", "")
    description = "plain text with 'Speaker: text' lines"

    def sniff(self, doc: Document) -> float:
        if doc.json is not None:
            return 0.0
        lines = [ln for ln in doc.text.splitlines()[:200] if ln.strip()]
        if not lines or lines[0].strip().upper().startswith("WEBVTT") or "-->" in doc.text[:2000]:
            return 0.0
        hits = [m for m in (_speaker_line(ln) for ln in lines) if m]
        if not hits:
            return 0.0
        labels = {m.group("speaker").strip().lower() for m in hits}
        share = len(hits) / len(lines)
        if share < 0.3 or len(labels) > 12:
            return 0.0
        return 0.3 + 0.3 * share

    def read(self, doc: Document) -> Iterator[RawCall]:
        turns: list[RawTurn] = []
        for n, raw in enumerate(doc.text.splitlines(), 1):
            line = raw.strip()
            if not line:
                continue
            m = _speaker_line(line)
            if m:
                label = m.group("speaker").strip().strip("[]").strip()
                t = m.group("t1") or m.group("t2")
                start = timecode(t) if t else None
                turns.append(RawTurn(speaker=label, text=m.group("text").strip(), start=start, role=role_of_label(label)))
            elif turns:
                turns[-1].text = (turns[-1].text + " " + line).strip()
            elif HEADER.match(line):
                continue
            else:
                raise ReaderError(f"line {n}: text before the first 'Speaker:' line: {line[:60]!r}", n)
        turns = [t for t in turns if t.text]
        if not turns:
            raise ReaderError("no 'Speaker: text' lines found")
        # a turn ends where the next begins when only start times are given
        for a, b in zip(turns, turns[1:]):
            if a.start is not None and b.start is not None and a.end is None:
                a.end = b.start
        yield RawCall(call_id=None, turns=turns)
