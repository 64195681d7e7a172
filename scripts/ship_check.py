#!/usr/bin/env python
"""Should a retrained model replace the shipped one? The shipping rule, checked in one command.

The rule the README has set before every run since round ten, with its numbers as options:
  (1) dev: the candidate's dev selection score is at least the shipped model's on the same dev
      calls minus --dev-margin (both scored here, fp32 turn vectors);
  (2) real calls (a folder of Harper Valley calls, which have no offers; fp32 vectors too): at
      least --min-resolved calls called resolved, at most --max-offers offers flagged, stage
      agreement with the calls' dialog acts at least --min-stage-agreement;
  (3) no file of the candidate's folder over --max-file-mb (the repo's limit).
Beside the checks it prints the real agent turns with the highest offer probability, flagged or
not, and the candidate's threshold: a pass by a hair and a clear pass look the same otherwise.
It reads dev and the real calls only: never test or the held-out sets, which the rule reads after
the decision, and only for a shipped model. (Their numbers are in the candidate's metrics.json,
written by the training script; this script does not open them.) Prints each check and the
verdict; exits 0 when every check passes, 1 when one fails.

    python scripts/ship_check.py --candidate DIR --real-calls ../shared/data/harper_valley/transcript
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _harper_valley():
    spec = importlib.util.spec_from_file_location("harper_valley", ROOT / "benchmarks" / "harper_valley.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def dev_score(model, dev: Path) -> tuple[float, dict]:
    """(selection score, headline) of a model (folder or loaded Analyzer) on the dev file, fp32
    vectors (as the training run)."""
    from transcript_qa.evaluation import selection_score
    from transcript_qa.training.api import evaluate_model

    m = evaluate_model(model, dev, device="cpu", dtype="fp32")
    return round(selection_score(m), 4), m["headline"]


def file_sizes(folder: Path) -> dict[str, float]:
    return {p.relative_to(folder).as_posix(): round(p.stat().st_size / 2**20, 2)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def check(candidate: Path, shipped: Path, dev: Path, real_calls: Path, *, dev_margin: float = 0.004,
          min_resolved: int = 50, max_offers: int = 0, min_stage_agreement: float = 0.874,
          max_file_mb: float = 20.0) -> dict:
    """Every check of the rule, its numbers, and whether the candidate ships."""
    from transcript_qa.analyzer import Analyzer

    cand = Analyzer.load(candidate, device="cpu", dtype="fp32")  # loaded once, for dev and the real calls
    cand_score, cand_head = dev_score(cand, dev)
    ship_score, ship_head = dev_score(shipped, dev)
    real, _, _, _ = _harper_valley().real_call_report(cand, real_calls)
    resolved = real["outcomes"].get("resolved", 0)
    sizes = file_sizes(candidate)
    big = {f: mb for f, mb in sizes.items() if mb > max_file_mb}
    checks = {
        "dev": {"pass": cand_score >= round(ship_score - dev_margin, 4), "candidate": cand_score,
                "shipped": ship_score, "at_least": round(ship_score - dev_margin, 4)},
        "real_calls_resolved": {"pass": resolved >= min_resolved, "value": resolved, "at_least": min_resolved,
                                "of": real["calls"]},
        "real_calls_offers_flagged": {"pass": real["offers_flagged"] <= max_offers, "value": real["offers_flagged"],
                                      "at_most": max_offers, "turns": real["flagged_offer_turns"]},
        "real_calls_stage_agreement": {"pass": (real["stage_agreement_with_dialog_acts"] or 0) >= min_stage_agreement,
                                       "value": real["stage_agreement_with_dialog_acts"], "at_least": min_stage_agreement},
        "file_sizes": {"pass": not big, "over_limit": big, "largest_mb": max(sizes.values(), default=0.0),
                       "at_most_mb": max_file_mb},
    }
    return {"ship": all(c["pass"] for c in checks.values()), "checks": checks,
            "dev_headline": {"candidate": cand_head, "shipped": ship_head}, "real_calls_outcomes": real["outcomes"],
            "offer_threshold": real["offer_threshold"],
            "real_calls_highest_offer_probability": real["highest_offer_probability_turns"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidate", type=Path, required=True, help="the retrained model folder")
    ap.add_argument("--shipped", type=Path, default=ROOT / "models" / "default")
    ap.add_argument("--dev", type=Path, default=ROOT / "datasets" / "calls" / "dev.jsonl")
    ap.add_argument("--real-calls", type=Path, required=True,
                    help="folder of Harper Valley calls (the 58 of the project's shared data for the real check)")
    ap.add_argument("--dev-margin", type=float, default=0.004)
    ap.add_argument("--min-resolved", type=int, default=50)
    ap.add_argument("--max-offers", type=int, default=0)
    ap.add_argument("--min-stage-agreement", type=float, default=0.874)
    ap.add_argument("--max-file-mb", type=float, default=20.0)
    ap.add_argument("--json", type=Path, help="also write the checks here")
    a = ap.parse_args(argv)
    for p in (a.candidate, a.shipped):
        if not (p / "transcript_qa.json").is_file():
            raise SystemExit(f"{p}: not a model folder (no transcript_qa.json)")
    if not a.dev.is_file():
        raise SystemExit(f"{a.dev}: no such dev file")
    if not a.real_calls.is_dir():
        raise SystemExit(f"{a.real_calls}: no such folder of real calls")
    r = check(a.candidate, a.shipped, a.dev, a.real_calls, dev_margin=a.dev_margin, min_resolved=a.min_resolved,
              max_offers=a.max_offers, min_stage_agreement=a.min_stage_agreement, max_file_mb=a.max_file_mb)
    c = r["checks"]
    mark = {True: "pass", False: "FAIL"}
    print(f"(1) dev selection {c['dev']['candidate']:.4f}, shipped {c['dev']['shipped']:.4f} "
          f"(at least {c['dev']['at_least']:.4f}): {mark[c['dev']['pass']]}")
    print(f"(2) real calls resolved {c['real_calls_resolved']['value']} of {c['real_calls_resolved']['of']} "
          f"(at least {a.min_resolved}): {mark[c['real_calls_resolved']['pass']]}")
    print(f"    offers flagged {c['real_calls_offers_flagged']['value']} (at most {a.max_offers}): "
          f"{mark[c['real_calls_offers_flagged']['pass']]}")
    for cid, turn, conf, text in c["real_calls_offers_flagged"]["turns"]:
        print(f"      {cid} t{turn} ({conf:.2f}): {text[:100]}")
    print(f"    highest offer probabilities on real agent turns (threshold {r['offer_threshold']}; information, not a check):")
    for cid, turn, conf, text in r["real_calls_highest_offer_probability"]:
        print(f"      {cid} t{turn} ({conf:.2f}): {text[:100]}")
    print(f"    stage agreement {c['real_calls_stage_agreement']['value']} (at least {a.min_stage_agreement}): "
          f"{mark[c['real_calls_stage_agreement']['pass']]}")
    print(f"(3) largest file {c['file_sizes']['largest_mb']} MB (at most {a.max_file_mb}): {mark[c['file_sizes']['pass']]}")
    print("verdict: " + ("ship" if r["ship"] else "do not ship"))
    if a.json:
        a.json.write_text(json.dumps(r, indent=2) + "\n")
    return 0 if r["ship"] else 1


if __name__ == "__main__":
    sys.exit(main())
