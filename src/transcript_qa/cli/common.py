"""Options and helpers shared by the commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from ..readers import reader_names

FormatOpt = typer.Option(None, "--format", "-f", help="Force an input format instead of detecting it.")
AgentOpt = typer.Option(
    None, "--agent-speaker", "-a",
    help="Speaker label or channel that is the agent (repeatable), e.g. spk_0, ch_1, 'Dana'. Default: inferred.",
)
MaxBytesOpt = typer.Option(64 * 1024 * 1024, "--max-bytes", help="Largest file, archive member or line read, in bytes.")
CsvColOpt = typer.Option(
    None, "--csv-column",
    help="CSV column mapping NAME=COLUMN (repeatable); NAME is call_id, speaker, text, start or end.",
)


def _check_dtype(value: str) -> str:
    from ..encoder import DTYPES  # numpy only: usage errors still stop before torch is imported

    if value not in DTYPES:
        raise typer.BadParameter(f"choose {', '.join(DTYPES)}")
    return value


DtypeOpt = typer.Option("auto", "--dtype", callback=_check_dtype,
                        help="Encoder precision: auto (bf16 on a GPU or an AMX CPU, else fp32), fp32 or bf16.")


def _check_offer_threshold(value: Optional[float]) -> Optional[float]:
    from ..analyzer import check_offer_threshold

    try:
        return None if value is None else check_offer_threshold(value)
    except ValueError as e:
        raise typer.BadParameter(str(e))


OfferThresholdOpt = typer.Option(
    None, "--offer-threshold", callback=_check_offer_threshold, metavar="P",
    help="Flag an agent turn as an offer when its offer probability is at least P (default: the model's own, "
         "chosen on dev; raise it for fewer, surer offers). Each result records the one used.")


def read_options(format: Optional[str], agent_speaker: Optional[list[str]], max_bytes: int,
                 csv_column: Optional[list[str]] = None):
    """Build ReadOptions from CLI values, failing with exit 2 on bad ones."""
    from ..sources import ReadOptions

    if format and format not in reader_names():
        raise typer.BadParameter(f"unknown format {format!r}; choose from {', '.join(sorted(reader_names()))}",
                                 param_hint="--format")
    cols: dict[str, str] = {}
    for item in csv_column or []:
        if "=" not in item:
            raise typer.BadParameter(f"expected NAME=COLUMN, got {item!r}", param_hint="--csv-column")
        k, v = item.split("=", 1)
        cols[k.strip()] = v.strip()
    return ReadOptions(format=format, agent_speakers=tuple(agent_speaker or ()), max_bytes=max_bytes, csv_columns=cols)


def check_out(out: Path, force: bool, param_hint: str = "--out") -> None:
    """Refuse to overwrite an existing output without --force (``-``, stdout, is never refused)."""
    if str(out) != "-" and out.exists() and not force:
        raise typer.BadParameter(f"{out} exists; pass --force to overwrite", param_hint=param_hint)


def err(msg: str) -> None:
    print(msg, file=sys.stderr)
