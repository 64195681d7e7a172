"""``transcript-qa analyze``: the batch job over an archive."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from . import app
from .common import AgentOpt, CsvColOpt, DtypeOpt, FormatOpt, MaxBytesOpt, OfferThresholdOpt, err, read_options


@app.command("analyze")
def analyze_cmd(
    source: list[str] = typer.Argument(..., help="Files, folders, .zip/.tar(.gz) archives, .jsonl, or - for stdin."),
    out: Path = typer.Option(..., "--out", "-o", help="Results file: .jsonl (default), .csv or .parquet."),
    out_format: Optional[str] = typer.Option(None, "--out-format", help="jsonl, csv or parquet (default: by suffix)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model folder (default: models/default)."),
    errors: Optional[Path] = typer.Option(None, "--errors", help="Error records, JSON lines (default: OUT.errors.jsonl)."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUT if it exists."),
    resume: bool = typer.Option(False, "--resume", help="Skip calls already in OUT; drop a torn last line."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Calls per batch through the encoder."),
    device: str = typer.Option("auto", "--device", help="cpu, cuda or auto."),
    dtype: str = DtypeOpt,
    scorecard: Optional[Path] = typer.Option(None, "--scorecard", help="YAML QA rubric (default: service-first)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary."),
    summary_json: bool = typer.Option(False, "--summary-json", help="Print the totals as JSON on stdout."),
    format: Optional[str] = FormatOpt,
    agent_speaker: Optional[list[str]] = AgentOpt,
    max_bytes: int = MaxBytesOpt,
    csv_column: Optional[list[str]] = CsvColOpt,
    offer_threshold: Optional[float] = OfferThresholdOpt,
) -> None:
    """Analyse every call under SOURCE; write one result per call; exit 1 if any input failed."""
    from ..batch import BatchError, analyze_archive
    from ..scorecard import Scorecard, ScorecardError

    if device not in ("cpu", "cuda", "auto"):
        raise typer.BadParameter("choose cpu, cuda or auto", param_hint="--device")
    opts = read_options(format, agent_speaker, max_bytes, csv_column)
    try:
        card = Scorecard.from_yaml(scorecard) if scorecard else None
    except ScorecardError as e:
        raise typer.BadParameter(str(e), param_hint="--scorecard")
    try:
        summary = analyze_archive(
            source if len(source) > 1 else source[0], out, model=model, out_format_name=out_format, errors=errors,
            force=force, resume=resume, batch_size=batch_size, device=device, dtype=dtype, read_options=opts, scorecard=card,
            progress=not quiet, offer_threshold=offer_threshold,
        )
    except BatchError as e:
        raise typer.BadParameter(str(e))
    except (FileNotFoundError, RuntimeError) as e:
        err(f"error: {e}")
        raise typer.Exit(2)
    if summary_json:
        print(json.dumps(summary.to_dict()))
    elif not quiet:
        for line in summary.lines():
            err(line)
    raise typer.Exit(1 if summary.failed else 0)
