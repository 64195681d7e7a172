#!/usr/bin/env python
"""Does accuracy hold on calls unlike the training calls? Two checks on the frozen test split.

1. Style transfer: heads trained on clean calls only (with and without ASR-style augmentation) or
   on ASR-style calls only, evaluated on the clean and on the ASR test calls separately.
2. Leave one writer out: the corpus was written by seven writers with their own phrasing and
   conventions; train without writer W (train and dev minus W), evaluate on W's test calls.
Single models (no ensemble), dev used for early stopping as usual. Prints tables, writes JSON.
Usage: python benchmarks/generalization.py [--only style|writers] [--json FILE]
With --only, the other part of an existing JSON file is kept as it was.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = ["stage_accuracy", "outcome_macro_f1", "resolution_turn_within2", "offer_turn_f1", "offer_timing_macro_f1",
        "soft_skill_mae"]


def main() -> int:
    from transcript_qa.encoder import TurnEncoder
    from transcript_qa.evaluation import evaluate, headline
    from transcript_qa.training.data import embed_calls, load_labeled
    from transcript_qa.training.trainer import TrainConfig, train_heads

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["style", "writers"])
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "generalization.json")
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "transcript-qa"))
    a = ap.parse_args()
    enc = TurnEncoder(device="cpu")
    data = ROOT / "datasets" / "calls"
    tr, dv, te = (load_labeled(data / f"{s}.jsonl") for s in ("train", "dev", "test"))
    style = lambda lc: lc.gold["metadata"].get("style")  # noqa: E731
    writer = lambda lc: lc.gold["metadata"].get("writer")  # noqa: E731
    te_embs = dict(zip([lc.call_id for lc in te], embed_calls(te, enc, a.cache)))

    def score(an, calls):
        preds = an.analyze_encoded([lc.call for lc in calls], [te_embs[lc.call_id] for lc in calls])
        return headline(evaluate([lc.gold for lc in calls], preds))

    out: dict = {"style": [], "writers": []}
    if a.only and a.json.exists():  # keep the other part of an earlier run (each row records its train_calls)
        out.update({k: v for k, v in json.loads(a.json.read_text()).items() if not k.startswith(a.only)})
        out[a.only] = []
    t0 = time.time()
    if a.only in (None, "style"):
        runs = [
            ("clean only", [x for x in tr if style(x) == "clean"], [x for x in dv if style(x) == "clean"], False),
            ("clean + ASR-style copies", [x for x in tr if style(x) == "clean"], [x for x in dv if style(x) == "clean"], True),
            ("ASR only", [x for x in tr if style(x) == "asr"], [x for x in dv if style(x) == "asr"], False),
            ("all (default recipe)", tr, dv, True),
        ]
        for name, t, d, aug in runs:
            an, _ = train_heads(t, d, enc, TrainConfig(augment_asr=aug), cache_dir=a.cache)
            for ts in ("clean", "asr"):
                calls = [x for x in te if style(x) == ts]
                out["style"].append({"train": name, "train_calls": len(t), "test": f"{ts} test", "calls": len(calls),
                                     **score(an, calls)})
                print(name, "->", ts, out["style"][-1], flush=True)
    if a.only in (None, "writers"):
        for w in sorted({writer(x) for x in te}):  # writers with test calls (round one)
            t = [x for x in tr if writer(x) != w]
            d = [x for x in dv if writer(x) != w]
            an, _ = train_heads(t, d, enc, TrainConfig(), cache_dir=a.cache)
            held = [x for x in te if writer(x) == w]
            seen = [x for x in te if writer(x) != w]
            out["writers"].append({"held_out": w, "train_calls": len(t), "unseen_writer_calls": len(held),
                                   "unseen": score(an, held), "seen_writers": score(an, seen)})
            print(w, out["writers"][-1], flush=True)
    out["seconds"] = round(time.time() - t0)
    hdr = f"{'':<34}" + "".join(f"{k[:14]:>16}" for k in KEYS)
    if out["style"]:
        print("\nStyle transfer (test calls of one style)\n" + hdr)
        for r in out["style"]:
            print(f"{r['train'][:20] + ' -> ' + r['test']:<34}" + "".join(f"{r[k]:>16.3f}" for k in KEYS))
    if out["writers"]:
        print("\nLeave one writer out: unseen writer's test calls vs the other writers' test calls\n" + hdr)
        for r in out["writers"]:
            print(f"{r['held_out'] + ' unseen (' + str(r['unseen_writer_calls']) + ')':<34}" + "".join(f"{r['unseen'][k]:>16.3f}" for k in KEYS))
        import numpy as np

        for part in ("unseen", "seen_writers"):
            mean = {k: float(np.mean([r[part][k] for r in out["writers"]])) for k in KEYS}
            out[f"writers_mean_{part}"] = mean
            print(f"{'mean ' + part:<34}" + "".join(f"{mean[k]:>16.3f}" for k in KEYS))
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(out, indent=2))
    print(f"written {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
