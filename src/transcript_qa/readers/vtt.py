"""WebVTT captions (W3C WebVTT): ``WEBVTT`` header, cues of ``start --> end`` plus text.

Speakers come from voice spans (``<v Dana>``, ``<v.loud Dana>``, closed by ``</v>`` or the cue's
end; several voices in one cue become several turns) or from a ``Name: text`` prefix on a cue line
(Zoom, Teams exports). ``NOTE``, ``STYLE`` and ``REGION`` blocks, cue identifiers and cue settings
are skipped; other tags (``<c>``, ``<i>``, ``<b>``, timestamps) are stripped and entities unescaped.

Turns: consecutive cues of the same speaker are merged into one turn (start of the first cue, end
of the last); cues with no speaker label get speaker ``unknown`` and stay one turn each.
"""

from __future__ import annotations

import re
from typing import Iterator

from ._common import UNKNOWN, clean_markup, merge_runs, speaker_prefix
from .base import Document, RawCall, RawTurn, Reader, ReaderError, timecode
from .text import role_of_label

_TS = r"(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}"
TIMING = re.compile(rf"^\s*(?P<start>{_TS})\s*-->\s*(?P<end>{_TS})(?:\s+.*)?$")
VOICE = re.compile(r"<v(?:\.[^\s>]*)?(?:\s+(?P<name>[^>]*))?>|</v\s*>", re.I)
_SKIP_BLOCKS = re.compile(r"^(NOTE|STYLE|REGION)(\s|$)")


def cue_blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    """Blocks separated by blank lines, with the 1-based line number of each block's first line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    block: list[str] = []
    first = 0
    for n, line in enumerate(lines, 1):
        if line.strip():
            if not block:
                first = n
            block.append(line)
        elif block:
            yield first, block
            block = []
    if block:
        yield first, block


def split_voices(payload: str) -> list[tuple[str | None, str]]:
    """Cue text -> ``(speaker or None, text)`` pieces by voice spans, then by ``Name:`` line prefixes."""
    pieces: list[tuple[str | None, str]] = []
    pos, voice = 0, None
    for m in VOICE.finditer(payload):
        pieces.append((voice, payload[pos:m.start()]))
        voice = None if m.group(0).startswith("</") else ((m.group("name") or "").strip() or None)
        pos = m.end()
    pieces.append((voice, payload[pos:]))
    out: list[list] = []  # [speaker or None, text]
    for sp, txt in pieces:
        if sp is not None:
            out.append([sp, txt])
            continue
        fresh = True  # lines without a prefix continue the piece above, within this span
        for line in txt.split("\n"):
            if not line.strip():
                continue
            pre = speaker_prefix(clean_markup(line))
            if pre:
                out.append([pre[0], pre[1]])
            elif fresh or not out:
                out.append([None, line])
            else:
                out[-1][1] += "\n" + line
            fresh = False
    return [(sp, clean_markup(t)) for sp, t in out if clean_markup(t)]


class VttReader(Reader):
    name = "vtt"
    suffixes = (".vtt", ".webvtt")
    description = "WebVTT captions: <v Name> voice spans or 'Name: text' cue lines"

    def sniff(self, doc: Document) -> float:
        head = doc.text.lstrip("\ufeff")[:16]
        return 0.95 if head.startswith("WEBVTT") and (len(head) == 6 or head[6] in " \t\r\n") else 0.0

    def read(self, doc: Document) -> Iterator[RawCall]:
        text = doc.text.lstrip("\ufeff")
        if not text.startswith("WEBVTT"):
            raise ReaderError("not WebVTT: the file must start with 'WEBVTT'", 1)
        turns: list[RawTurn] = []
        for k, (line_no, block) in enumerate(cue_blocks(text)):
            if k == 0 and block[0].startswith("WEBVTT"):
                continue  # the header block
            if _SKIP_BLOCKS.match(block[0]):
                continue
            ti = next((i for i, ln in enumerate(block[:2]) if "-->" in ln), None)
            if ti is None:
                continue  # not a cue (stray text); WebVTT parsers skip it too
            m = TIMING.match(block[ti])
            if not m:
                raise ReaderError(f"line {line_no + ti}: bad cue timing {block[ti].strip()!r}", line_no + ti)
            start, end = timecode(m.group("start")), timecode(m.group("end"))
            for sp, txt in split_voices("\n".join(block[ti + 1:])):
                label = sp or UNKNOWN
                turns.append(RawTurn(speaker=label, text=txt, start=start, end=end,
                                     role=role_of_label(label) if sp else None))
        turns = merge_runs(turns)
        if not turns:
            raise ReaderError("no cues with text")
        yield RawCall(call_id=None, turns=turns)
