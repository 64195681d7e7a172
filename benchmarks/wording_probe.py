#!/usr/bin/env python
"""Wording probe: does a model still see a resolution when the agent says it without the word lists?

`datasets/probes/resolution_paraphrases.jsonl` holds the 73 resolved dev calls whose resolution
turn contains a word of the `resolve` cue list in `features.py` ("done", "refunded", "booked",
"cancelled" ...), each with a paraphrase of that one turn that keeps its meaning, facts and style
(ASR-style turns stay lower case without punctuation) and avoids every word of the list. The probe
runs each model over the calls as written and with that turn paraphrased, and reports how many are
called resolved, the resolution turn within 2, and the calls that stop being called resolved. The
calls are dev calls: a probe of how a model reads, not a held-out score.

    python benchmarks/wording_probe.py [--model DIR ...] [--dtype auto|fp32] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "datasets" / "probes" / "resolution_paraphrases.jsonl"


def load_probe(dev_file: Path, probe_file: Path = PROBE):
    """(labelled calls as written, the same calls with the resolution turn paraphrased)."""
    from transcript_qa.training.data import load_labeled

    dev = {lc.call.id: lc for lc in load_labeled(dev_file)}
    written, paraphrased = [], []
    for n, line in enumerate(probe_file.read_text(encoding="utf-8").splitlines(), 1):
        p = json.loads(line)
        lc = dev.get(p["call_id"])
        if lc is None:
            raise SystemExit(f"{probe_file}:{n}: call {p['call_id']} is not in {dev_file}")
        turn = lc.call.turns[p["turn"]]
        if turn.text != p["original"]:
            raise SystemExit(f"{probe_file}:{n}: turn {p['turn']} of {p['call_id']} no longer reads as the probe's original")
        turns = list(lc.call.turns)
        turns[p["turn"]] = turn.model_copy(update={"text": p["paraphrase"]})
        written.append(lc)
        paraphrased.append(lc.call.model_copy(update={"turns": tuple(turns)}))
    return written, paraphrased


def score(golds: list[dict], preds: list) -> dict:
    """Resolved calls called resolved, and the resolution turn within 2 of the gold one."""
    n = len(golds)
    resolved = sum(p.outcome == "resolved" for p in preds)
    within2 = sum(p.outcome == "resolved" and p.resolution_turn is not None
                  and abs(p.resolution_turn - g["resolution_turn"]) <= 2 for g, p in zip(golds, preds))
    return {"calls": n, "called_resolved": resolved, "resolution_turn_within2": round(within2 / n, 4) if n else None}


def main() -> int:
    from transcript_qa import Analyzer
    from transcript_qa.training.api import display_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=None, help="model folder (repeatable; default: models/default)")
    ap.add_argument("--dtype", default="auto", help="encoder dtype: auto (as the CLI) or fp32")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    written, paraphrased = load_probe(ROOT / "datasets" / "calls" / "dev.jsonl")
    golds = [lc.gold for lc in written]
    out: dict = {"probe": display_path(PROBE), "dtype": a.dtype, "models": {}}
    for m in a.model or [None]:
        an = Analyzer.load(m, dtype=a.dtype)
        before = list(an.analyze_many([lc.call for lc in written]))
        after = list(an.analyze_many(paraphrased))
        lost = [{"call_id": g["call_id"], "now": p.outcome, "confidence": round(p.outcome_confidence, 3)}
                for g, b, p in zip(golds, before, after) if b.outcome == "resolved" and p.outcome != "resolved"]
        name = display_path(Path(m)) if m else "models/default"
        out["models"][name] = {"as_written": score(golds, before), "paraphrased": score(golds, after),
                               "no_longer_resolved": lost}
        r = out["models"][name]
        print(f"{name}: called resolved {r['as_written']['called_resolved']}/{len(golds)} as written, "
              f"{r['paraphrased']['called_resolved']}/{len(golds)} paraphrased; resolution turn within 2 "
              f"{r['as_written']['resolution_turn_within2']} -> {r['paraphrased']['resolution_turn_within2']}; "
              f"{len(lost)} calls lost")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
