#!/usr/bin/env python
"""Train the default model shipped in models/default, from the frozen corpus, in one command.

Heads on frozen all-MiniLM-L6-v2 vectors: train on datasets/calls/train.jsonl, select on dev.jsonl,
report test.jsonl and the three unseen-writer sets (none used for training or selection) and the 12
hand-labelled real Harper Valley calls, and write the model card.
Usage: python scripts/train_default.py [--out models/default] [--seed 13] [--workers N] [--device cpu]
       python scripts/train_default.py --card-only     # re-render the card from metrics.json
       python scripts/train_default.py --merge A B --out DIR   # parts trained with consecutive seeds, as one
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


NOTES = """Columns: **dev** ({dev} calls) chose the epoch, the offer threshold and the Viterbi weight.
**test** is the frozen split (84 calls by the seven round-one writers, whose other calls are in
train). **unseen_writers** (60 calls) is by two round-two writers none of whose calls is in train or
dev, in industries train lacks (municipal services, car servicing, US health insurance, cable TV, car
loans) and in American English. **unseen_writers_r4** (30 calls) is by one round-four writer (w29:
contact centres in Australia, New Zealand, Ireland and India) whose calls are in no other file and
whose errors nobody has read; an easy set (the default model trained before round four also met
every target on it). **unseen_writers_r5** (30 calls) is by one round-five writer (w36: South
Africa, Singapore and the Caribbean, in five industries no other writer covers), likewise in no
other file and with no error read: the most blind of the sets. Its 16 resolved calls make its
resolution-turn figure especially coarse (one call is 0.06).
**real_hvb** is the 12 hand-labelled real Harper Valley Bank calls: all are resolved and none has an
offer, so their outcome macro-F1 averages over classes that do not occur (outcome accuracy is the
number to read) and their offer F1 and timing F1 of 1.0 only say that no offer was flagged. None of
test, the three unseen-writer sets and real_hvb was used for training, for choosing epochs or
thresholds, or for any recipe choice.
**How this model replaced the previous one** (5 members on the same 817 training calls, dev
selection score 0.866). This one averages 10 members (seeds 13-22) over turn vectors from the
encoder pinned to fp32. The rule was set before its dev numbers were read: keep 10 members if they
beat their own first 5 on dev (selection score 0.872 against 0.865, each with its offer threshold
and Viterbi weight chosen on dev), then ship the result if it beats the shipped model on dev (0.872
against 0.866). Only dev decided: the round-two unseen writers' numbers were printed beside dev's
and did not change the rule's outcome, and test was scored only after the model was in place. (A 10-member ensemble
tried on the round-two corpus had been lower on dev and was not kept then.) On the round-two
unseen writers it is lower than the previous model on outcome (0.89 against 0.93) and timing (0.81
against 0.84); on dev's round-one writers higher (outcome 0.93 against 0.89). The previous model
had itself been chosen over the round-four model with the held-out sets in view, so none of them is
blind for comparisons with the models before it.
Caveats on **unseen_writers**: the decode rule that the resolution turn skips detected offer turns
was found by reading its errors (the pointer landed on after-resolution offers; the rule follows
from labels.md and left dev unchanged), and its errors were read again before the round-four
writers were briefed (on tone vs outcome, two-problem calls and where offers sit; the briefs name
those patterns, never its calls). Its numbers are therefore somewhat optimistic; read
unseen_writers_r4 and unseen_writers_r5 beside them."""


def notes(data: Path) -> str:
    with open(data / "dev.jsonl", encoding="utf-8") as fh:
        return NOTES.format(dev=sum(1 for line in fh if line.strip()))


def render_card_only(out: Path) -> None:
    from transcript_qa.training.api import display_path
    from transcript_qa.training.card import render_card

    cfg = json.loads((out / "transcript_qa.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    cols = {k[: -len("_headline")]: v for k, v in metrics.items() if k.endswith("_headline")}
    card = render_card(cfg, cols, metrics["training"], path=display_path(out), extra_notes=notes(ROOT / "datasets" / "calls"))
    (out / "README.md").write_text(card)


def main() -> int:
    from transcript_qa.labels import CORPUS_SPLITS
    from transcript_qa.training.api import train
    from transcript_qa.training.trainer import TrainConfig

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "models" / "default"))
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--ensemble", type=int, default=10, help="heads trained with consecutive seeds, averaged")
    ap.add_argument("--workers", type=int, default=min(5, os.cpu_count() or 1),
                    help="members trained at once, one process each (same heads as one at a time)")
    ap.add_argument("--device", default="cpu", help="cpu (the shipped model) or cuda")
    ap.add_argument("--dtype", default="fp32", help="encoder dtype for training: fp32 (the same vectors on any CPU) or auto")
    ap.add_argument("--no-asr-copies", action="store_true",
                    help="train without the seeded ASR-style copies of the training calls (TrainConfig.augment_asr)")
    ap.add_argument("--merge", nargs="+", metavar="DIR", default=None,
                    help="instead of training: average the members of folders this script wrote with consecutive "
                         "seeds (--seed 13 --ensemble 10, then --seed 23 --ensemble 10) into --out, the model "
                         "--ensemble 20 would train; decode chosen on dev again, the card written as after training")
    ap.add_argument("--card-only", action="store_true", help="only re-render README.md from the folder's metrics")
    a = ap.parse_args()
    if a.card_only:
        render_card_only(Path(a.out))
        return 0
    data = ROOT / "datasets" / "calls"

    def progress(step: int, total: int, rec: dict) -> None:
        if "members_done" in rec:  # --workers > 1: one line as each member finishes
            print(f"member {rec['member']} done ({step}/{total}): best epoch {rec['best_epoch']}, "
                  f"dev score {rec['dev_score']:.3f}", file=sys.stderr)
        elif step % 10 == 0:
            print(f"epoch {step}: loss {rec['loss']:.3f} dev score {rec['dev_score']:.3f}", file=sys.stderr)

    held_out = [s for s in CORPUS_SPLITS if s.startswith("unseen_writers")]
    extra = {**{s: data / f"{s}.jsonl" for s in held_out}, "real_hvb": data / "real_hvb.jsonl"}
    if a.merge:
        from transcript_qa.training.api import merge_models

        r = merge_models(a.merge, a.out, data / "train.jsonl", data / "dev.jsonl", data / "test.jsonl", device=a.device,
                         dtype=a.dtype, force=True, extra_eval=extra, card_notes=notes(data))
    else:
        r = train(data / "train.jsonl", a.out, data / "dev.jsonl", data / "test.jsonl", device=a.device, dtype=a.dtype,
                  force=True,
                  config=TrainConfig(seed=a.seed, epochs=a.epochs, ensemble=a.ensemble, stage_crf=True,
                                     workers=a.workers, augment_asr=not a.no_asr_copies),
                  progress=progress, extra_eval=extra, card_notes=notes(data))
    print(json.dumps({"dev": r["dev_headline"], "test": r["test_headline"],
                      **{k: r[f"{k}_headline"] for k in extra}, "best_epoch": r["training"]["best_epoch"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
