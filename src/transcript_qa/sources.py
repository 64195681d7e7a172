"""Sources of calls: a file, a folder, a zip or tar archive, a JSONL of many calls, or ``-`` for stdin.

Archive members are read in memory (never extracted to disk) with a size bound, and calls stream:
memory does not grow with the size of the archive. A bad file, member or line becomes a
:class:`ReadProblem` and the rest goes on.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Iterator, Union

from .readers import Document, Reader, ReaderError, ReadProblem, SkipDocument, detect, get_reader
from .readers.base import RawCall, looks_binary
from .roles import build_call
from .transcript import Call

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
JSONL_SUFFIXES = (".jsonl", ".ndjson")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
SKIP_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}
# side files that sit beside transcripts in folders and archives: skipped there (a file named
# explicitly on the command line is always read)
SIDE_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg", ".m4a", ".opus", ".png", ".jpg", ".jpeg", ".gif", ".pdf", ".md"}
SIDE_PREFIXES = ("license", "licence", "readme", "notice", "copying", "source.md")


def is_side_file(name: str) -> bool:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return Path(base).suffix in SIDE_SUFFIXES or base.startswith(SIDE_PREFIXES)

Item = Union[Call, ReadProblem]


@dataclass
class ReadOptions:
    """How to read a source: a forced format, role mapping, bounds."""

    format: str | None = None
    agent_speakers: tuple[str, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    csv_columns: dict[str, str] = field(default_factory=dict)  # our name -> the file's column name


@dataclass
class ReadStats:
    """Totals of one pass over a source."""

    documents: int = 0
    calls: int = 0
    errors: int = 0
    warnings: int = 0

    @property
    def read(self) -> int:
        """Calls read."""
        return self.calls

    @property
    def failed(self) -> int:
        """Files, members or lines that could not be read (error records)."""
        return self.errors

    def count(self, item: Item) -> None:
        if isinstance(item, Call):
            self.calls += 1
        elif item.level == "error":
            self.errors += 1
        else:
            self.warnings += 1


def _suffix(name: str) -> str:
    low = name.lower()
    for s in TAR_SUFFIXES:
        if low.endswith(s):
            return s
    return Path(low).suffix


def _is_jsonl_text(head: bytes) -> bool:
    """Two or more lines that each start a JSON object: JSON Lines, not one JSON document."""
    lines = [ln.strip() for ln in head.split(b"\n") if ln.strip()]
    if len(lines) < 2 or not all(ln.startswith(b"{") for ln in lines[:2]):
        return False
    try:
        json.loads(lines[0])
        return True
    except ValueError:
        return False


class CallReader:
    """Turns a source into a stream of Calls and ReadProblems; keeps totals in ``stats``."""

    def __init__(self, options: ReadOptions | None = None):
        self.opt = options or ReadOptions()
        self.stats = ReadStats()
        self._seen: dict[str, int] = {}
        self._forced = get_reader(self.opt.format) if self.opt.format else None
        if self._forced is not None and self.opt.csv_columns and hasattr(self._forced, "columns"):
            self._forced = type(self._forced)(columns=self.opt.csv_columns)  # type: ignore[call-arg]
        # --csv-column without --format: detection must use a CSV reader that knows the mapping
        self._csv: Reader | None = None
        if self._forced is None and self.opt.csv_columns:
            base = get_reader("csv")
            self._csv = type(base)(columns=self.opt.csv_columns)  # type: ignore[call-arg]

    # ---- public -------------------------------------------------------------------------------
    def iter(self, source: str | Path | Iterable[str | Path]) -> Iterator[Item]:
        sources = [source] if isinstance(source, (str, Path)) else list(source)
        for s in sources:
            for item in self._source(s):
                self.stats.count(item)
                yield item

    # ---- sources ------------------------------------------------------------------------------
    def _source(self, source: str | Path) -> Iterator[Item]:
        if str(source) == "-":
            yield from self._stream("<stdin>", sys.stdin.buffer)
            return
        path = Path(source)
        if not path.exists():
            yield ReadProblem(str(path), "no such file or folder")
        elif path.is_dir():
            for p in sorted(path.rglob("*")):
                rel = p.relative_to(path)
                if (p.is_file() and not any(part.startswith(".") for part in rel.parts) and p.name not in SKIP_NAMES
                        and not is_side_file(p.name)):
                    yield from self._file(p, str(p))
        else:
            yield from self._file(path, str(path))

    def _file(self, path: Path, name: str) -> Iterator[Item]:
        suf = _suffix(path.name)
        try:
            if suf == ".zip":
                with zipfile.ZipFile(path) as zf:
                    yield from self._zip(zf, name)
            elif suf in TAR_SUFFIXES:
                with tarfile.open(path, mode="r|*") as tf:
                    yield from self._tar(tf, name)
            elif suf in JSONL_SUFFIXES:
                with open(path, "rb") as fh:
                    yield from self._jsonl(name, fh)
            else:
                size = path.stat().st_size
                if size > self.opt.max_bytes:
                    yield ReadProblem(name, f"file is {size} bytes, over the limit of {self.opt.max_bytes} (--max-bytes)")
                    return
                with open(path, "rb") as fh:
                    yield from self._stream(name, fh)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
            yield ReadProblem(name, f"cannot read archive or file: {e}")

    def _stream(self, name: str, fh: IO[bytes]) -> Iterator[Item]:
        """A byte stream of unknown kind (a file or stdin): JSONL is streamed, anything else read whole."""
        head = fh.read(64 * 1024)
        if _is_jsonl_text(head):
            yield from self._jsonl(name, _Chain(head, fh))
            return
        rest = fh.read(self.opt.max_bytes + 1 - len(head)) if len(head) == 64 * 1024 else b""
        data = head + rest
        if len(data) > self.opt.max_bytes:
            yield ReadProblem(name, f"input is over the limit of {self.opt.max_bytes} bytes (--max-bytes)")
            return
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                yield from self._zip(zf, name)
            return
        if _is_tar(data):
            try:
                with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
                    yield from self._tar(tf, name)
            except (tarfile.TarError, EOFError, OSError) as e:
                yield ReadProblem(name, f"cannot read archive: {e}")
            return
        yield from self._document(Document(name, data))

    def _zip(self, zf: zipfile.ZipFile, name: str) -> Iterator[Item]:
        for info in zf.infolist():
            if info.is_dir() or _skip_member(info.filename):
                continue
            member = f"{name}!{info.filename}"
            if info.file_size > self.opt.max_bytes:
                yield ReadProblem(member, f"member is {info.file_size} bytes, over the limit of {self.opt.max_bytes} (--max-bytes)")
                continue
            try:
                data = zf.read(info)
            except (zipfile.BadZipFile, OSError, RuntimeError) as e:
                yield ReadProblem(member, f"cannot read member: {e}")
                continue
            yield from self._member(member, data)

    def _tar(self, tf: tarfile.TarFile, name: str) -> Iterator[Item]:
        for info in tf:
            if not info.isfile() or _skip_member(info.name):
                continue
            member = f"{name}!{info.name}"
            if info.size > self.opt.max_bytes:
                yield ReadProblem(member, f"member is {info.size} bytes, over the limit of {self.opt.max_bytes} (--max-bytes)")
                continue
            fh = tf.extractfile(info)
            if fh is None:
                continue
            yield from self._member(member, fh.read())

    def _member(self, member: str, data: bytes) -> Iterator[Item]:
        suf = _suffix(member)
        if suf in JSONL_SUFFIXES or (suf != ".csv" and _is_jsonl_text(data[:65536])):
            yield from self._jsonl(member, io.BytesIO(data))
        elif data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                yield from self._zip(zf, member)
        else:
            yield from self._document(Document(member, data))

    def _jsonl(self, name: str, fh: IO[bytes] | "_Chain") -> Iterator[Item]:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            if len(line) > self.opt.max_bytes:
                yield ReadProblem(name, f"line is over the limit of {self.opt.max_bytes} bytes", line=n)
                continue
            doc = Document(name, line, line=n)
            if doc.json is None:
                yield ReadProblem(name, _json_error(doc.text), line=n)
                continue
            yield from self._document(doc)

    # ---- one document -------------------------------------------------------------------------
    def _document(self, doc: Document) -> Iterator[Item]:
        self.stats.documents += 1
        data = doc._data or b""
        if doc.line is None and not data.strip():
            yield ReadProblem(doc.name, "empty file")
            return
        if doc.line is None and looks_binary(data):
            yield ReadProblem(doc.name, "binary data, not a transcript")
            return
        problem: ReadProblem | None = None
        try:
            reader = self._forced or self._detect(doc)
            raws = list(reader.read(doc))
        except SkipDocument as e:
            problem = ReadProblem(doc.name, str(e), line=e.line if e.line is not None else doc.line, level="warning")
        except ReaderError as e:
            reason = str(e)
            if doc.json is None and doc.suffix == ".json":
                reason = _json_error(doc.text)
            problem = ReadProblem(doc.name, reason, line=e.line if e.line is not None else doc.line)
        except Exception as e:  # a reader bug must not stop the batch
            problem = ReadProblem(doc.name, f"{type(e).__name__}: {e}", line=doc.line)
        for w in doc.warnings:  # decoding warnings, also when the document then fails
            yield ReadProblem(doc.name, w, line=doc.line, level="warning")
        if problem is not None:
            yield problem
            return
        for k, raw in enumerate(raws):
            yield from self._call(doc, raw, k, len(raws), reader.name)

    def _detect(self, doc: Document) -> Reader:
        if self._csv is None:
            return detect(doc)
        if self._csv.sniff(doc) > 0:
            return self._csv
        # a CSV the mapping does not fit: read it with the mapping anyway, so the error names the column
        try:
            found = detect(doc)
        except ReaderError:
            if doc.suffix in self._csv.suffixes:
                return self._csv
            raise
        return self._csv if found.name == self._csv.name else found

    def _call(self, doc: Document, raw: RawCall, k: int, n: int, fmt: str) -> Iterator[Item]:
        line = raw.line if raw.line is not None else doc.line
        stem = doc.stem.strip("<>") or "call"  # "<stdin>" -> "stdin"
        cid = raw.call_id or (stem if n == 1 and doc.line is None else f"{stem}-{line if line else k + 1}")
        src = f"{doc.name}:{line}" if line is not None else doc.name
        raw.turns = [t for t in raw.turns if t.text and t.text.strip()]
        if not raw.turns:
            yield ReadProblem(doc.name, f"call {cid!r} has no turns with text", line=line, call_id=cid)
            return
        if cid in self._seen:
            self._seen[cid] += 1
            new = f"{cid}#{self._seen[cid]}"
            yield ReadProblem(doc.name, f"duplicate call id {cid!r}; kept as {new!r}", line=line, level="warning", call_id=new)
            cid = new
        else:
            self._seen[cid] = 1
        call = build_call(raw, cid, src, self.opt.agent_speakers)
        meta = dict(call.metadata)
        meta.setdefault("format", fmt)
        call = call.model_copy(update={"metadata": meta})
        if len({t.speaker for t in raw.turns}) < 2:
            yield ReadProblem(doc.name, f"call {cid!r} has one speaker only; all its turns are taken as {call.turns[0].role.value}",
                              line=line, level="warning", call_id=cid)
        yield call


class _Chain:
    """Iterate lines of ``head`` + the rest of ``fh`` without reading the rest into memory."""

    def __init__(self, head: bytes, fh: IO[bytes]):
        self.head, self.fh = head, fh

    def __iter__(self) -> Iterator[bytes]:
        buf = self.head
        while True:
            nl = buf.find(b"\n")
            if nl >= 0:
                yield buf[: nl + 1]
                buf = buf[nl + 1 :]
                continue
            more = self.fh.read(64 * 1024)
            if not more:
                if buf:
                    yield buf
                return
            buf += more


def _skip_member(name: str) -> bool:
    """Archive members that are not transcripts: hidden files and folders (``.git/``, macOS ``._x``
    resource forks), ``__MACOSX/`` and desktop clutter."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        return True
    return (any(p.startswith(".") for p in parts) or "__MACOSX" in parts or parts[-1] in SKIP_NAMES
            or is_side_file(parts[-1]))


def _is_tar(data: bytes) -> bool:
    """A tar archive, plain (``ustar`` magic) or gzip/bzip2/xz-compressed, read from a stream."""
    if data[257:262] == b"ustar":
        return True
    if data[:2] == b"\x1f\x8b" or data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00":
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
                return tf.next() is not None
        except (tarfile.TarError, EOFError, OSError):
            return False
    return False


def _json_error(text: str) -> str:
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return f"invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})"
    return "JSON that no reader recognises"


def iter_calls(source: str | Path | Iterable[str | Path], options: ReadOptions | None = None, **kw) -> Iterator[Item]:
    """Stream Calls and ReadProblems from any source. ``kw`` are ReadOptions fields."""
    opt = options or ReadOptions(**kw)
    yield from CallReader(opt).iter(source)


def read_calls(source: str | Path, **kw) -> list[Call]:
    """All calls of a source; raises ValueError naming the first error when nothing could be read."""
    items = list(iter_calls(source, **kw))
    calls = [c for c in items if isinstance(c, Call)]
    errs = [p for p in items if isinstance(p, ReadProblem) and p.level == "error"]
    if not calls and errs:
        raise ValueError(str(errs[0]))
    return calls


def read_call(source: str | Path, **kw) -> Call:
    """The one call in a file (the first, when it holds several)."""
    calls = read_calls(source, **kw)
    if not calls:
        raise ValueError(f"{source}: no call found")
    return calls[0]
