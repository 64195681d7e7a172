"""What every reader shares: the document it reads, the raw call it yields, and the error records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, ClassVar, Iterator

from ..transcript import Role


class ReaderError(ValueError):
    """A document that a reader cannot turn into calls; the message says why."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


class SkipDocument(ReaderError):
    """A document the reader recognises but that holds no call (a side file such as a corpus's
    per-call metadata). Sources report it as a warning, not an error."""


@dataclass
class RawTurn:
    """A turn as the format gives it, before role resolution."""

    speaker: str
    text: str
    start: float | None = None
    end: float | None = None
    role: Role | None = None  # set when the format itself names the role


@dataclass
class RawCall:
    """A call as the format gives it: roles may still be unknown."""

    call_id: str | None
    turns: list[RawTurn]
    metadata: dict[str, Any] = field(default_factory=dict)
    line: int | None = None  # line in a multi-call document (JSONL, CSV)
    channels: dict[str, str] = field(default_factory=dict)  # speaker label -> channel label, when known


@dataclass
class ReadProblem:
    """An error or warning about one file, archive member or line; the batch goes on."""

    source: str  # "calls.zip!a/b.json" or "calls.jsonl"
    reason: str
    line: int | None = None
    level: str = "error"  # "error" | "warning"
    call_id: str | None = None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"source": self.source, "line": self.line, "level": self.level, "reason": self.reason}
        if self.call_id:
            d["call_id"] = self.call_id
        return d

    def __str__(self) -> str:
        return f"{self.where}: {self.level}: {self.reason}"


ENCODINGS_FALLBACK = ("cp1252", "latin-1")


def decode_bytes(data: bytes) -> tuple[str, str | None]:
    """Decode text as UTF-8 (BOM-aware, UTF-16 by BOM); else a fallback, with a warning message."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        for enc in ENCODINGS_FALLBACK:
            try:
                return data.decode(enc), f"not valid UTF-8 (byte {e.start}); decoded as {enc}"
            except UnicodeDecodeError:
                continue
    return data.decode("utf-8", errors="replace"), "not valid UTF-8; undecodable bytes replaced"


def looks_binary(data: bytes) -> bool:
    """True for data that is clearly not text (NUL bytes or many control characters)."""
    head = data[:4096]
    if not head:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if b"\x00" in head:
        return True
    ctrl = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return ctrl / len(head) > 0.05


class Document:
    """One input document (a file, an archive member, a JSONL line), decoded lazily."""

    def __init__(self, name: str, data: bytes | None = None, *, text: str | None = None, obj: Any = None,
                 line: int | None = None):
        self.name = name
        self.line = line
        self._data = data
        self._text = text
        self._obj = obj
        self._json_tried = obj is not None
        self.warnings: list[str] = []

    @property
    def suffix(self) -> str:
        return PurePath(self.name.split("!")[-1]).suffix.lower()

    @property
    def stem(self) -> str:
        return PurePath(self.name.split("!")[-1]).stem

    @property
    def text(self) -> str:
        if self._text is None:
            if self._data is None:
                self._text = json.dumps(self._obj)
            else:
                self._text, warn = decode_bytes(self._data)
                if warn:
                    self.warnings.append(warn)
        return self._text

    @property
    def json(self) -> Any:
        """The parsed JSON value, or None when the document is not JSON."""
        if not self._json_tried:
            self._json_tried = True
            s = self.text.lstrip()
            if s[:1] in ("{", "["):
                try:
                    self._obj = json.loads(s)
                except json.JSONDecodeError:
                    self._obj = None
        return self._obj


class Reader:
    """Base class of the format readers. Subclasses set ``name``, ``suffixes`` and implement both methods."""

    name: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    def sniff(self, doc: Document) -> float:
        """How sure (0 to 1) this reader is that ``doc`` is its format, from the content."""
        raise NotImplementedError

    def read(self, doc: Document) -> Iterator[RawCall]:
        """Yield the calls in ``doc``; raise ReaderError for a document it cannot read."""
        raise NotImplementedError


def seconds(value: Any, scale: float = 1.0) -> float | None:
    """A time value as seconds (``scale`` 0.001 for milliseconds); None when absent or not a number."""
    if value is None or value == "":
        return None
    try:
        return round(float(value) * scale, 3)
    except (TypeError, ValueError):
        return None


def timecode(value: str) -> float:
    """'01:02:03.450', '02:03,450' or '75.5' -> seconds."""
    value = value.strip().replace(",", ".")
    parts = value.split(":")
    total = 0.0
    for p in parts:
        total = total * 60 + float(p)
    return round(total, 3)
