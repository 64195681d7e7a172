"""``transcript-qa evaluate``: a model against gold calls, per task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from . import app
from .common import DtypeOpt, OfferThresholdOpt, err


def _matrix(title: str, labels: list[str], m: list[list[int]]) -> list[str]:
    w = max(len(l) for l in labels) + 2
    lines = [f"  {title} (rows gold, columns predicted)", "  " + " " * w + "".join(f"{l[:10]:>11}" for l in labels)]
    for l, row in zip(labels, m):
        lines.append("  " + f"{l:<{w}}" + "".join(f"{v:>11}" for v in row))
    return lines


def render_text(m: dict[str, Any]) -> str:
    s, o, r, of, ot, sk = (m[k] for k in ("stages", "outcome", "resolution", "offers", "offer_timing", "soft_skills"))
    out = [f"{m['calls']} gold calls", "",
           f"stages        accuracy {s['stage_accuracy']:.3f}   macro-F1 {s['stage_macro_f1']:.3f}   ({s['turns']} turns)"]
    out += _matrix("stage confusion", s["labels"], s["confusion"])
    out += ["", f"outcome       accuracy {o['outcome_accuracy']:.3f}   macro-F1 {o['outcome_macro_f1']:.3f}"]
    out += _matrix("outcome confusion", o["labels"], o["confusion"])
    out += [f"resolution    turn within 2: {r['resolution_turn_within2']:.3f}   exact: {r['resolution_turn_exact']:.3f}"
            f"   ({r['resolved_calls']} resolved calls)", "",
            f"offers        turn precision {of['offer_turn_precision']:.3f}   recall {of['offer_turn_recall']:.3f}"
            f"   F1 {of['offer_turn_f1']:.3f}   (within one turn; {of['gold_offers']} gold, {of['predicted_offers']} predicted)",
            f"              kind accuracy {of['offer_kind_accuracy']:.3f}   response accuracy {of['offer_response_accuracy']:.3f}",
            f"offer timing  accuracy {ot['offer_timing_accuracy']:.3f}   macro-F1 {ot['offer_timing_macro_f1']:.3f}"]
    out += _matrix("offer-timing confusion", ot["labels"], ot["confusion"])
    out += ["", f"soft skills   mean absolute error {sk['soft_skill_mae']:.3f}",
            f"  {'skill':<18}{'MAE':>7}{'Spearman':>10}{'QWK':>7}{'exact':>7}{'within 1':>10}"]
    for k, v in sk["per_skill"].items():
        out.append(f"  {k:<18}{v['mae']:>7.3f}{v['spearman']:>10.3f}{v['qwk']:>7.3f}{v['exact']:>7.3f}{v['within_one']:>10.3f}")
    if m.get("headline_ci95"):
        out += ["", f"headline with 95% bootstrap intervals ({m['bootstrap_samples']} resamples of the calls)"]
        for k, v in m["headline"].items():
            lo, hi = m["headline_ci95"].get(k, (float("nan"), float("nan")))
            out.append(f"  {k:<26}{v:>7.3f}   [{lo:.3f}, {hi:.3f}]")
    return "\n".join(out)


@app.command("evaluate")
def evaluate_cmd(
    gold: Path = typer.Option(..., "--gold", help="Labeled calls, JSONL (docs/labels.md)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model folder (default: models/default)."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write the JSON metrics here."),
    device: str = typer.Option("auto", "--device"),
    dtype: str = DtypeOpt,
    bootstrap: int = typer.Option(0, "--bootstrap", min=0, metavar="N",
                                  help="Add 95% intervals of the headline metrics from N resamples of the calls."),
    offer_threshold: Optional[float] = OfferThresholdOpt,
) -> None:
    """Run MODEL on the gold calls and print per-task metrics against the human labels."""
    from ..training.api import evaluate_model
    from ..training.data import LabeledDataError

    try:
        m = evaluate_model(model, gold, device=device, dtype=dtype, bootstrap=bootstrap, offer_threshold=offer_threshold)
    except (LabeledDataError, FileNotFoundError) as e:
        err(f"error: {e}")
        raise typer.Exit(2)
    if out:
        out.write_text(json.dumps(m, indent=2) + "\n")
    typer.echo(json.dumps(m, indent=2) if as_json else render_text(m))
