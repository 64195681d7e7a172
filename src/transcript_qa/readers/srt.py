"""SubRip subtitles (``.srt``): numbered cues of ``00:00:01,600 --> 00:00:04,200`` plus text lines.

Speakers come from a prefix on a cue line: ``[SPEAKER_00]: text`` (WhisperX), ``SPEAKER_00: text``,
``Name: text`` or ``[SPEAKER_00] text``. A cue line without a prefix continues the speaker of the
line above in the same cue; a cue with no prefix at all has speaker ``unknown``. Formatting tags
(``<i>``, ``<font>``, ``{\\an8}``) are stripped.

Turns: consecutive cues of the same known speaker are merged (as for WebVTT); ``unknown`` cues
stay one turn each.
"""

from __future__ import annotations

import re
from typing import Iterator

from ._common import UNKNOWN, clean_markup, merge_runs, speaker_prefix
from .base import Document, RawCall, RawTurn, Reader, ReaderError, timecode
from .text import role_of_label
from .vtt import cue_blocks

_TS = r"\d{1,2}:\d{2}:\d{2}(?:[,.]\d{1,3})?"
TIMING = re.compile(rf"^\s*(?P<start>{_TS})\s*-->\s*(?P<end>{_TS})(?:\s+.*)?$")


class SrtReader(Reader):
    name = "srt"
    suffixes = (".srt",)
    description = "SubRip subtitles with '[SPEAKER_00]:' or 'Name:' prefixes"

    def sniff(self, doc: Document) -> float:
        text = doc.text.lstrip("\ufeff")
        if text.startswith("WEBVTT") or doc.json is not None:
            return 0.0
        lines = [ln for ln in text[:4000].splitlines() if ln.strip()][:6]
        timings = [ln for ln in lines if TIMING.match(ln)]
        if not timings:
            return 0.0
        return 0.9 if lines[0].strip().isdigit() else 0.8

    def read(self, doc: Document) -> Iterator[RawCall]:
        turns: list[RawTurn] = []
        cues = 0
        for line_no, block in cue_blocks(doc.text.lstrip("\ufeff")):
            ti = next((i for i, ln in enumerate(block[:2]) if "-->" in ln), None)
            if ti is None:
                raise ReaderError(f"line {line_no}: expected a cue number and a 'start --> end' line, "
                                  f"got {block[0].strip()[:60]!r}", line_no)
            m = TIMING.match(block[ti])
            if not m:
                raise ReaderError(f"line {line_no + ti}: bad cue timing {block[ti].strip()!r}", line_no + ti)
            cues += 1
            start, end = timecode(m.group("start")), timecode(m.group("end"))
            current: str | None = None
            for raw in block[ti + 1:]:
                line = clean_markup(raw)
                if not line:
                    continue
                pre = speaker_prefix(line)
                if pre:
                    current, line = pre
                    turns.append(RawTurn(speaker=current, text=line, start=start, end=end,
                                         role=role_of_label(current)))
                elif current is not None and turns:
                    turns[-1].text = f"{turns[-1].text} {line}".strip()
                else:
                    turns.append(RawTurn(speaker=UNKNOWN, text=line, start=start, end=end))
                    current = UNKNOWN
        turns = merge_runs(turns)
        if not turns:
            raise ReaderError("no cues with text" if cues else "no subtitle cues found")
        yield RawCall(call_id=None, turns=turns)

