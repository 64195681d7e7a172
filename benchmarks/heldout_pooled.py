#!/usr/bin/env python
"""A model on every written call it never trained or selected on, pooled: test plus every
unseen-writer set (294 calls after round eight; the sets come from CORPUS_SPLITS), with 95%
bootstrap intervals, and each set alone.

One split of 84 calls moves a macro-F1 by a few hundredths per call; the pooled numbers say more
about calls the model has never seen. Numbers as `transcript-qa evaluate` gives them (encoder dtype
"auto").

    python benchmarks/heldout_pooled.py [--model DIR] [--json benchmarks/results/heldout_pooled.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from transcript_qa import Analyzer
    from transcript_qa.evaluation import TARGETS, bootstrap_headline, evaluate, headline
    from transcript_qa.labels import CORPUS_SPLITS
    from transcript_qa.training.data import load_labeled

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model folder (default: models/default)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=None, help="write the numbers here")
    a = ap.parse_args()

    analyzer = Analyzer.load(a.model, device="cpu")
    sets = [s for s in CORPUS_SPLITS if s == "test" or s.startswith("unseen_writers")]
    # the model folder relative to the repo, or its name: never this machine's absolute path in a results file
    out: dict = {"model": str(analyzer.path.relative_to(ROOT) if analyzer.path.is_relative_to(ROOT) else analyzer.path.name),
                 "encoder_dtype": analyzer.encoder.dtype, "sets": {}}
    golds, preds = [], []
    for name in sets:
        calls = load_labeled(ROOT / "datasets" / "calls" / f"{name}.jsonl")
        p = list(analyzer.analyze_many([lc.call for lc in calls]))
        g = [lc.gold for lc in calls]
        out["sets"][name] = {"calls": len(calls), "headline": headline(evaluate(g, p))}
        golds += g
        preds += p
    out["pooled"] = {"calls": len(golds), "headline": headline(evaluate(golds, preds)),
                     "ci95": bootstrap_headline(golds, preds, n=a.bootstrap)}

    def met(k: str, v: float) -> str:
        ok = v <= TARGETS[k] if k == "soft_skill_mae" else v >= TARGETS[k]
        return "" if ok else " (below target)"

    for name, r in [*out["sets"].items(), ("pooled", out["pooled"])]:
        print(f"{name} ({r['calls']} calls)")
        for k in TARGETS:
            ci = r.get("ci95", {}).get(k)
            extra = f"  [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
            print(f"  {k:26s} {r['headline'][k]:.3f}{extra}{met(k, r['headline'][k])}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
