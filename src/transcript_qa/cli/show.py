"""``transcript-qa show``: a readable table of analysis results."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from . import app

ABBR = {"empathy": "emp", "courtesy": "cou", "active_listening": "lis", "ownership": "own", "clarity": "cla"}


@app.command("show")
def show_cmd(results: Path = typer.Argument(..., help="Results JSONL from `analyze`."),
             limit: int = typer.Option(50, "--limit", help="Show at most this many calls.")) -> None:
    """Print one line per call: outcome, offers and their timing, soft skills, QA score."""
    from rich.console import Console
    from rich.table import Table

    rows = [json.loads(l) for l in results.read_text(encoding="utf-8").splitlines() if l.strip()]
    t = Table(title=f"{len(rows)} calls analysed")
    for c in ("call", "turns", "outcome", "resolved at", "offers", "timing", "skills " + "/".join(ABBR.values()), "QA"):
        t.add_column(c)
    for r in rows[:limit]:
        offers = ", ".join(f"t{o['turn']} {o['kind']}->{o['response']}" for o in r["offers"]) or "-"
        cid = r["call_id"] if len(r["call_id"]) <= 28 else r["call_id"][:27] + "…"
        skills = " ".join(str(r["soft_skills"][s]["score"]) for s in ABBR)
        qa = r.get("qa_score", {}).get("total")
        t.add_row(cid, str(len(r["turns"])), r["outcome"],
                  "-" if r["resolution_turn"] is None else f"t{r['resolution_turn']}", offers, r["offer_timing"],
                  skills, "-" if qa is None else f"{qa:.0f}")
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # a pipe or a log: don't squeeze the table into 80 columns
    console.print(t)
