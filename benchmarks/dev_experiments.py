#!/usr/bin/env python
"""Compare training recipes on dev (never on test): how the defaults of TrainConfig were chosen.

Trains a small ensemble (2 members by default) on datasets/calls/train.jsonl with the given
TrainConfig overrides, selects on dev.jsonl as `transcript-qa train` does, and appends one line to
benchmarks/results/dev_experiments.jsonl: the headline metrics on all of dev, on the round-one
writers' dev calls (w1-w7, the writers of the frozen test split) and on unseen_writers.jsonl.

    python benchmarks/dev_experiments.py NAME [key=value ...]
    python benchmarks/dev_experiments.py crf stage_crf=true
    python benchmarks/dev_experiments.py wide hidden=256 offer_pos_weight=3.0

Values are JSON (true, 256, {"res_ptr": 0.5, ...}); loss_weights given in part are merged into the
defaults. ``subset=0.75`` trains on that share of train.jsonl's calls (a fixed random draw), for a
learning curve: does more data still help? ``device=cuda`` encodes and trains on a GPU (default
cpu). ``dtype=fp32`` pins the encoder to fp32, the vectors `scripts/train_default.py` trains on
(and caches); the default is the CLI's ``auto``. ``encoder_from=DIR`` trains the heads over the
encoder of a model folder instead of the base one (a fine-tuned encoder, whole or its top layers:
``--finetune-encoder [--finetune-layers K]``). The test split is never loaded.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUND_ONE = {f"w{i}" for i in range(1, 8)}


def main(argv: list[str]) -> int:
    from dataclasses import asdict

    from transcript_qa.encoder import TurnEncoder
    from transcript_qa.evaluation import evaluate, headline
    from transcript_qa.training.data import embed_calls, load_labeled
    from transcript_qa.training.trainer import TrainConfig, train_heads_ensemble

    if not argv or "=" in argv[0] or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    name, kw = argv[0], {"ensemble": 2}
    for a in argv[1:]:
        k, _, v = a.partition("=")
        try:
            kw[k] = json.loads(v)
        except ValueError:
            kw[k] = v
    subset = float(kw.pop("subset", 1.0))
    device = str(kw.pop("device", "cpu"))
    dtype = str(kw.pop("dtype", "auto"))
    encoder_from = kw.pop("encoder_from", None)
    if not 0 < subset <= 1:
        raise SystemExit(f"subset must be in (0, 1], got {subset}")
    if "loss_weights" in kw:
        kw["loss_weights"] = {**TrainConfig().loss_weights, **kw["loss_weights"]}
    cfg = TrainConfig(**kw)
    data, cache = ROOT / "datasets" / "calls", str(ROOT / ".cache" / "transcript-qa")
    if encoder_from:  # the encoder of that folder, as Analyzer.load builds it (base + its fine-tuned layers)
        from transcript_qa.analyzer import model_encoder

        enc = model_encoder(ROOT / str(encoder_from), device=device, dtype=dtype)
    else:
        enc = TurnEncoder(device=device, dtype=dtype)
    train, dev = load_labeled(data / "train.jsonl"), load_labeled(data / "dev.jsonl")
    if subset < 1:
        import random

        train = random.Random(7).sample(train, round(subset * len(train)))
    t0 = time.time()
    an, m = train_heads_ensemble(train, dev, enc, cfg, cache_dir=cache)

    def score(calls):
        preds = an.analyze_encoded([lc.call for lc in calls], embed_calls(calls, enc, cache))
        return headline(evaluate([lc.gold for lc in calls], preds))

    over = {k: v for k, v in kw.items()}
    if encoder_from:
        over["encoder_from"] = str(encoder_from)
    rec = {"name": name, "overrides": over, "config": asdict(cfg), "device": device,
           "dtype": enc.dtype,
           "train_calls": len(train),
           "seconds": round(time.time() - t0), "best_epoch": m["training"]["best_epoch"],
           "decode": an.config["decode"], "dev": headline(m["dev"]),
           "dev_round_one": score([lc for lc in dev if lc.gold["metadata"].get("writer") in ROUND_ONE]),
           "unseen_writers": score(load_labeled(data / "unseen_writers.jsonl"))}
    for k in ("dev", "dev_round_one", "unseen_writers"):
        print(f"{name} {k}: {json.dumps(rec[k])}")
    out = ROOT / "benchmarks" / "results" / "dev_experiments.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
