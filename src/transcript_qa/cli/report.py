"""``transcript-qa report``: one self-contained HTML page (and optionally a per-agent CSV) over a results file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from .common import check_out, err


@app.command("report")
def report_cmd(
    results: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                   help="Results JSONL from `analyze`."),
    out: Path = typer.Option(..., "--out", "-o", help="The HTML report to write."),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="Also write the per-agent table as CSV."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out and --csv if they exist."),
    title: str = typer.Option("Contact-centre QA report", "--title", help="The report's title."),
    min_sample: int = typer.Option(10, "--min-sample", min=1,
                                   help="Rates over fewer calls (or offers) than this are flagged 'small sample'."),
    lowest: int = typer.Option(10, "--lowest", min=0, help="How many of the lowest-scoring calls to show."),
    calls: Optional[Path] = typer.Option(None, "--calls", exists=True, dir_okay=False, readable=True,
                                         help="The calls (native or labeled JSONL), to show the evidence turns' text."),
) -> None:
    """Write a QA manager's report: per-agent and per-team rates with confidence intervals, charts, lowest calls."""
    from ..report import build_report, iter_results, load_texts

    if results.suffix.lower() in (".csv", ".parquet", ".pq"):
        raise typer.BadParameter("the report reads the JSONL results of `analyze` (--out-format jsonl)",
                                 param_hint="RESULTS")
    check_out(out, force, "--out")
    if csv_out is not None:
        check_out(csv_out, force, "--csv")
        if csv_out.resolve() == out.resolve():
            raise typer.BadParameter("--csv and --out name the same file", param_hint="--csv")
    problems: list[str] = []
    rep = build_report(iter_results(results, problems), title=title, min_sample=min_sample, lowest=lowest,
                       source=results.name)
    for p in problems:
        err(f"warning: {p}")
    n = rep.stats["overall"]["calls"]
    if n == 0:
        err(f"error: no usable results in {results}; nothing written")
        raise typer.Exit(1)
    if calls is not None:
        text_problems: list[str] = []
        rep.texts = load_texts(calls, ids=rep.lowest_ids(), problems=text_problems)
        for p in text_problems[:20]:
            err(f"warning: {p}")
        if len(text_problems) > 20:
            err(f"warning: {len(text_problems) - 20} more unusable lines in {calls}")
        missing = [c for c in rep.lowest_ids() if c not in rep.texts]
        if missing:
            err(f"warning: {len(missing)} of the lowest-scoring calls are not in {calls}; their texts are not shown")
    rep.write_html(out)
    if csv_out is not None:
        rep.write_csv(csv_out)
    err(f"report: {out} ({n} calls, {len(rep.stats['agents'])} agents, {len(rep.stats['teams'])} teams"
        + (f"; {len(problems)} line{'' if len(problems) == 1 else 's'} skipped" if problems else "") + ")"
        + (f"; agents: {csv_out}" if csv_out else ""))
