"""``transcript-qa convert``: read any supported format, write native JSON lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from . import app
from .common import AgentOpt, CsvColOpt, FormatOpt, MaxBytesOpt, check_out, err, read_options


@app.command("convert")
def convert_cmd(
    source: list[str] = typer.Argument(..., help="Files, folders, .zip/.tar(.gz) archives, .jsonl, or - for stdin."),
    out: Path = typer.Option(Path("-"), "--out", "-o", help="Output JSONL file; - for stdout."),
    errors: Optional[Path] = typer.Option(None, "--errors", help="Write error records (JSON lines) here instead of stderr."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
    format: Optional[str] = FormatOpt,
    agent_speaker: Optional[list[str]] = AgentOpt,
    max_bytes: int = MaxBytesOpt,
    csv_column: Optional[list[str]] = CsvColOpt,
) -> None:
    """Convert every call under SOURCE to native JSON lines (one call a line)."""
    from ..sources import CallReader
    from ..transcript import Call

    opts = read_options(format, agent_speaker, max_bytes, csv_column)
    check_out(out, force)
    reader = CallReader(opts)
    fh = sys.stdout if str(out) == "-" else open(out, "w", encoding="utf-8")
    efh = open(errors, "w", encoding="utf-8") if errors else None
    try:
        for item in reader.iter(source):
            if isinstance(item, Call):
                fh.write(json.dumps(item.to_native(), ensure_ascii=False) + "\n")
            elif efh:
                efh.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
            else:
                err(str(item))
    finally:
        if fh is not sys.stdout:
            fh.close()
        if efh:
            efh.close()
    s = reader.stats
    err(f"read {s.calls} calls from {s.documents} documents; {s.errors} failed, {s.warnings} warnings")
    raise typer.Exit(1 if s.errors else 0)


@app.command("formats")
def formats_cmd() -> None:
    """List the input formats and what each reads."""
    from ..readers import READERS

    for r in READERS:
        typer.echo(f"{r.name:16} {', '.join(s for s in r.suffixes if s) or '-':28} {r.description}")
