"""``transcript-qa validate``: check labeled files against docs/labels.md."""

from __future__ import annotations

from pathlib import Path

import typer

from . import app


@app.command("validate")
def validate_cmd(
    files: list[Path] = typer.Argument(..., help="Labeled JSONL files (docs/labels.md)."),
    corpus: bool = typer.Option(False, "--corpus", help="Also print label distributions and repeated sentences."),
    warnings: bool = typer.Option(False, "--warnings", help="Print warnings too."),
) -> None:
    """Validate labeled calls; exit 1 when any file has errors."""
    from ..labels import main

    args = [str(f) for f in files] + (["--corpus"] if corpus else []) + (["--warnings"] if warnings else [])
    raise typer.Exit(main(args))
