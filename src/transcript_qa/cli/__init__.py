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

from . import convert as _convert  # noqa: E402,F401  (registers commands)
from . import labels as _labels  # noqa: E402,F401

for _mod in ("analyze", "show", "report", "train", "evaluate", "labelstudio"):
    try:
        __import__(f"{__name__}.{_mod}")
    except ModuleNotFoundError as e:  # a command module not written yet
        if e.name != f"{__name__}.{_mod}":
            raise


def main() -> None:
    """Console-script entry point; exit 2 on usage errors (typer's default), 1 on partial failure."""
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
