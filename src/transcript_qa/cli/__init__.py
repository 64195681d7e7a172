"""The ``transcript-qa`` command line: thin typer commands over plain functions.

Each command lives in its own module and is imported lazily, so ``--help`` and ``convert``
start without loading torch.
"""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="transcript-qa",
    help="QA analysis of contact-centre call transcripts: stages, resolution, sales offers and their timing, soft skills.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# importing a command module registers its commands; each keeps heavy imports inside its function
from . import analyze, convert, evaluate, labels, labelstudio, report, show, train  # noqa: E402,F401


def main() -> None:
    """Console-script entry point; exit 2 on usage errors (typer's default), 1 on partial failure."""
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
