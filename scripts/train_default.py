#!/usr/bin/env python
"""Train the default model shipped in models/default, from the frozen corpus, in one command.

Heads on frozen all-MiniLM-L6-v2 vectors: train on datasets/calls/train.jsonl, select on dev.jsonl,
report test.jsonl and unseen_writers.jsonl (neither used for training or selection) and the 12
hand-labelled real Harper Valley calls, and write the model card.
Usage: python scripts/train_default.py [--out models/default] [--seed 13]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from transcript_qa.training.api import train
    from transcript_qa.training.trainer import TrainConfig

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "models" / "default"))
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--ensemble", type=int, default=5, help="heads trained with consecutive seeds, averaged")
    a = ap.parse_args()
    data = ROOT / "datasets" / "calls"

    def progress(epoch: int, total: int, rec: dict) -> None:
        if epoch % 10 == 0:
            print(f"epoch {epoch}: loss {rec['loss']:.3f} dev score {rec['dev_score']:.3f}", file=sys.stderr)

    extra = {"unseen_writers": data / "unseen_writers.jsonl", "real_hvb": data / "real_hvb.jsonl"}
    r = train(data / "train.jsonl", a.out, data / "dev.jsonl", data / "test.jsonl", device="cpu", force=True,
              config=TrainConfig(seed=a.seed, epochs=a.epochs, ensemble=a.ensemble, stage_crf=True),
              progress=progress, extra_eval=extra)
    print(json.dumps({"dev": r["dev_headline"], "test": r["test_headline"],
                      **{k: r[f"{k}_headline"] for k in extra}, "best_epoch": r["training"]["best_epoch"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
