"""CSV / TSV with one row a turn: call id, speaker, text, start, end.

The delimiter (``,`` tab ``;`` ``|``) is sniffed from the header line. Header names are matched
loosely (case, spaces, ``camelCase`` and the synonyms in ``SYNONYMS``: ``conversation_id``,
``role``, ``utterance``, ``start_time`` ...); a column whose name ends in ``_ms`` / ``millis`` holds
milliseconds. ``columns`` (``--csv-column text=utterance``) names the file's column for any of
our fields and wins over the synonyms. Times may be seconds (``12.5``) or timecodes (``00:01:02.5``).

A file may hold many calls: rows are grouped by call id, one call per id in first-seen order
(rows of one call need not be adjacent); each call's ``line`` is the line of its first row. With
no call-id column the whole file is one call. A row with no text is an error naming its line.
Speaker values that name a role (``agent``, ``Customer``, ``Agent Dana``) set the role.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Iterator

from ._common import UNKNOWN
from .base import Document, RawCall, RawTurn, Reader, ReaderError, seconds, timecode
from .text import role_of_label

FIELDS = ("call_id", "speaker", "text", "start", "end")
SYNONYMS: dict[str, tuple[str, ...]] = {
    "call_id": ("call_id", "callid", "conversation_id", "conversationid", "contact_id", "interaction_id",
                "session_id", "transcript_id", "dialog_id", "dialogue_id", "recording_id", "call", "conversation"),
    "speaker": ("speaker", "role", "speaker_role", "speaker_label", "speaker_name", "participant",
                "participant_role", "participant_purpose", "party", "side", "who", "author", "sender", "channel"),
    "text": ("text", "utterance", "utterance_text", "transcript", "content", "message", "sentence", "phrase",
             "body", "turn_text"),
    "start": ("start", "start_time", "start_s", "start_sec", "start_secs", "start_seconds", "begin", "begin_time",
              "start_ms", "start_time_ms", "begin_offset_millis", "start_offset_ms", "offset", "timestamp", "time"),
    "end": ("end", "end_time", "end_s", "end_sec", "end_secs", "end_seconds", "stop", "stop_time",
            "end_ms", "end_time_ms", "end_offset_millis", "end_offset_ms"),
}
DELIMITERS = (",", "\t", ";", "|")


def norm_header(name: str) -> str:
    """'Start Time' / 'startTime' / 'START-TIME' -> 'start_time'."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip().lstrip("\ufeff"))
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def is_millis(column: str) -> bool:
    n = norm_header(column)
    return n.endswith(("_ms", "millis", "milliseconds", "_msec"))


def sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class CsvReader(Reader):
    name = "csv"
    suffixes = (".csv", ".tsv", ".tab")
    description = "CSV/TSV, one row a turn (call_id, speaker, text, start, end); --csv-column to map headers"

    def __init__(self, columns: dict[str, str] | None = None):
        self.columns = dict(columns or {})

    # ---- header --------------------------------------------------------------------------------
    def _mapping(self, header: list[str]) -> dict[str, int]:
        """Our field -> column index. Raises ReaderError for a --csv-column that is not in the header."""
        normed = [norm_header(h) for h in header]
        mapping: dict[str, int] = {}
        for field, col in self.columns.items():
            if field not in FIELDS:
                raise ReaderError(f"unknown --csv-column name {field!r}; use one of {', '.join(FIELDS)}", 1)
            if col in header:
                mapping[field] = header.index(col)
            elif norm_header(col) in normed:
                mapping[field] = normed.index(norm_header(col))
            else:
                raise ReaderError(f"column {col!r} (for {field}) is not in the header: {', '.join(header)}", 1)
        taken = set(mapping.values())
        for field in FIELDS:
            if field in mapping:
                continue
            for syn in SYNONYMS[field]:
                if syn in normed and normed.index(syn) not in taken:
                    mapping[field] = normed.index(syn)
                    taken.add(mapping[field])
                    break
        return mapping

    def _header(self, text: str) -> tuple[str, list[str]] | None:
        first = next((ln for ln in text.splitlines() if ln.strip()), "")
        if not first:
            return None
        delim = sniff_delimiter(first)
        try:
            header = next(csv.reader([first], delimiter=delim))
        except (csv.Error, StopIteration):
            return None
        return delim, [h.strip() for h in header]

    def sniff(self, doc: Document) -> float:
        if doc.json is not None:
            return 0.0
        text = doc.text.lstrip("\ufeff")
        if text.startswith("WEBVTT"):
            return 0.0
        found = self._header(text[:8192])
        if not found or len(found[1]) < 2:
            return 0.0
        try:
            mapping = self._mapping(found[1])
        except ReaderError:
            return 0.0
        if "text" not in mapping or not ({"speaker", "call_id", "start"} & set(mapping)):
            return 0.0
        return 0.9 if "speaker" in mapping else 0.7

    # ---- rows ----------------------------------------------------------------------------------
    def read(self, doc: Document) -> Iterator[RawCall]:
        text = doc.text.lstrip("\ufeff")
        found = self._header(text)
        if not found:
            raise ReaderError("empty CSV: no header line")
        delim, _ = found
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
        try:
            header = [h.strip() for h in next(rows)]
        except (csv.Error, StopIteration) as e:
            raise ReaderError(f"cannot read the CSV header: {e}", 1)
        mapping = self._mapping(header)
        if "text" not in mapping:
            raise ReaderError(f"no text column in the header ({', '.join(header)}); "
                              "name one with --csv-column text=COLUMN", 1)
        scale = {f: (0.001 if is_millis(header[mapping[f]]) else 1.0) for f in ("start", "end") if f in mapping}
        calls: dict[str | None, RawCall] = {}
        prev = rows.line_num
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except csv.Error as e:
                raise ReaderError(f"line {prev + 1}: {e}", prev + 1)
            line, prev = prev + 1, rows.line_num
            if not row or not any(c.strip() for c in row):
                continue

            def cell(field: str) -> str:
                i = mapping.get(field)
                return row[i].strip() if i is not None and i < len(row) else ""

            txt = cell("text")
            if not txt:
                raise ReaderError(f"line {line}: row has no text (column {header[mapping['text']]!r})", line)
            cid: str | None = None
            if "call_id" in mapping:
                cid = cell("call_id")
                if not cid:
                    raise ReaderError(f"line {line}: row has no call id (column {header[mapping['call_id']]!r})", line)
            speaker = cell("speaker") or UNKNOWN
            try:
                start = self._time(cell("start"), scale.get("start", 1.0))
                end = self._time(cell("end"), scale.get("end", 1.0))
            except ValueError as e:
                raise ReaderError(f"line {line}: bad time value ({e})", line)
            call = calls.get(cid)
            if call is None:
                call = calls[cid] = RawCall(call_id=cid, turns=[], line=line if cid is not None else None)
            call.turns.append(RawTurn(speaker=speaker, text=txt, start=start, end=end,
                                      role=role_of_label(speaker) if speaker != UNKNOWN else None))
        if not calls:
            raise ReaderError("no rows under the header", 1)
        yield from calls.values()

    @staticmethod
    def _time(value: str, scale: float) -> float | None:
        if not value:
            return None
        if ":" in value:
            return timecode(value)  # a timecode is clock time, whatever the column's unit
        s = seconds(value, scale)
        if s is None:
            raise ValueError(repr(value))
        return s
