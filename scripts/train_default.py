#!/usr/bin/env python
"""Train the default model shipped in models/default, from the frozen corpus, in one command.

Heads on frozen all-MiniLM-L6-v2 vectors: train on datasets/calls/train.jsonl, select on dev.jsonl,
report test.jsonl and every unseen-writer set (none used for training or selection) and the 12
hand-labelled real Harper Valley calls, and write the model card.
Usage: python scripts/train_default.py [--out models/default] [--seed 13] [--workers N] [--device cpu]
       python scripts/train_default.py --corpus-at 40a0751   # the shipped model: train and dev as at that commit
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
other file and with no error read. **unseen_writers_r6** (30 calls) is by one round-six writer (w42:
Nigeria, Kenya, Malaysia and the Philippines), in no other file and with no error read; four of its
five industries are new to the model (its school instrument rentals are not: other round-six
writers wrote instrument hire too). The 16 resolved calls of each of r5 and r6 make their
resolution-turn figures especially coarse (one call is 0.06). **unseen_writers_r7** (30 calls) is by
one round-seven writer (w50: Wales, Northern Ireland, Texas and Louisiana), in no other file, in five
industries no other writer covers. **unseen_writers_r8** (30 calls) is by one round-eight writer (w56:
Scotland, Australia and the US Northeast), likewise. **unseen_writers_r9** (30 calls) is by one round-nine writer
(w62: Canada, the English Midlands and Kenya), likewise.
**real_hvb** is the 12 hand-labelled real Harper Valley Bank calls: all are resolved and none has an
offer, so their outcome macro-F1 averages over classes that do not occur (outcome accuracy is the
number to read) and their offer F1 and timing F1 of 1.0 only say that no offer was flagged. None of
test, the unseen-writer sets and real_hvb was used for training, for choosing epochs or
thresholds, or for any recipe choice.
Caveats on **unseen_writers**: the decode rule that the resolution turn skips detected offer turns
was found by reading its errors (the pointer landed on after-resolution offers; the rule follows
from labels.md and left dev unchanged), and its errors were read again before the round-four
writers were briefed (on tone vs outcome, two-problem calls and where offers sit; the briefs name
those patterns, never its calls). Its numbers are therefore somewhat optimistic; read
unseen_writers_r4, unseen_writers_r5 and unseen_writers_r6 beside them."""


SHIPPED_CORPUS = "40a0751"  # the commit whose train and dev splits models/default was trained and selected on


def corpus_at(commit: str, dest: Path, root: Path = ROOT) -> dict[str, Path]:
    """Write ``train.jsonl`` and ``dev.jsonl`` as they were at ``commit`` of this repository into
    ``dest``; returns their paths. Test is frozen and the held-out sets are only evaluated, so they
    are always today's. Needs the clone's history (a shallow clone may lack the commit)."""
    import subprocess

    dest.mkdir(parents=True, exist_ok=True)
    out = {}
    for split in ("train", "dev"):
        rel = f"datasets/calls/{split}.jsonl"
        r = subprocess.run(["git", "-C", str(root), "show", f"{commit}:{rel}"], capture_output=True)
        if r.returncode != 0:
            raise SystemExit(f"error: cannot read {rel} at commit {commit}: {r.stderr.decode().strip()} "
                             "(a shallow clone lacks old commits: git fetch --unshallow)")
        out[split] = dest / f"{split}.jsonl"
        out[split].write_bytes(r.stdout)
    return out


# how the shipped model replaced the one before it: true of models/default only, so it goes into that
# card (--card-only on models/default) and not into the card of a run this script trains
SHIPPED_STORY = """**How this model replaced the previous one.** The recipe is round thirteen's (10 members, seeds
13-22, turn vectors from the encoder pinned to fp32, features version 3: the completed-action cue
`lex_done` beside version 2's word lists); the training data grew by rounds seven, eight and nine
(966 to 1,352 calls; dev 243 to 337), round nine with service questions that are not offers
("which card would you like to replace", "do you want it mailed"), read-outs of the customer's own
accounts, outcomes decided by what is said and resolution turns. The rule was written before any
round-nine call existed (docs/model_history.md, round fifteen): ship the retrained model if its dev
selection score on the enlarged dev is at least the previous model's on the same dev minus 0.004,
and if on the 58 real Harper Valley calls it calls at least 50 resolved, flags no offer and keeps
stage agreement at 0.874 or above. It scored 0.880 against 0.863 on the 337 dev calls, and on the
real calls 55 resolved, no offer, stage agreement 0.887, so it was shipped; test and the held-out
sets were scored after that. The real-call pass is narrow: the nearest real agent turns to the
offer threshold (0.5) are two read-outs of a customer's own accounts, at 0.48 and 0.45. The four
models trained on the corpus of rounds seven and eight (rounds ten to thirteen) each flagged one or
two such real turns as offers and were not shipped."""


def notes(dev_calls: int, shipped: bool = False) -> str:
    return NOTES.format(dev=dev_calls) + ("\n" + SHIPPED_STORY if shipped else "")


def count_calls(path: Path) -> int:
    with open(path, encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def render_card_only(out: Path) -> None:
    from transcript_qa.training.api import display_path
    from transcript_qa.training.card import render_card

    cfg = json.loads((out / "transcript_qa.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    cols = {k[: -len("_headline")]: v for k, v in metrics.items() if k.endswith("_headline")}
    card = render_card(cfg, cols, metrics["training"], path=display_path(out), extra_notes=notes(metrics["training"]["dev_calls"],
                                                                                      shipped=out.resolve() == ROOT / "models" / "default"))
    (out / "README.md").write_text(card)


def main() -> int:
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
    ap.add_argument("--cue-dropout", type=float, default=0.0,
                    help="chance of zeroing each word-list cue column for a whole training call (TrainConfig.cue_dropout)")
    ap.add_argument("--encoder-from", metavar="DIR", default=None,
                    help="train the heads over the encoder of this model folder, whose top layers were fine-tuned "
                         "(transcript-qa train --finetune-encoder --finetune-layers K); its layers are copied to --out")
    ap.add_argument("--merge", nargs="+", metavar="DIR", default=None,
                    help="instead of training: average the members of folders this script wrote with consecutive "
                         "seeds (--seed 13 --ensemble 10, then --seed 23 --ensemble 10) into --out, the model "
                         "--ensemble 20 would train; decode chosen on dev again, the card written as after training")
    ap.add_argument("--card-only", action="store_true", help="only re-render README.md from the folder's metrics")
    ap.add_argument("--corpus-at", metavar="COMMIT", default=None,
                    help=f"train and select on train.jsonl and dev.jsonl as at this git commit ({SHIPPED_CORPUS}: the "
                         "corpus of the shipped model, whose card records the training file's hash); test and the "
                         "held-out sets are today's")
    a = ap.parse_args()
    if a.card_only:
        render_card_only(Path(a.out))
        return 0
    data = ROOT / "datasets" / "calls"
    if not a.corpus_at:
        return run(a, data, data / "train.jsonl", data / "dev.jsonl")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tqa-corpus-") as tmp:
        old = corpus_at(a.corpus_at, Path(tmp))
        print(f"train ({count_calls(old['train'])} calls) and dev ({count_calls(old['dev'])}) as at {a.corpus_at}",
              file=sys.stderr)
        return run(a, data, old["train"], old["dev"])


def run(a: argparse.Namespace, data: Path, train_file: Path, dev_file: Path) -> int:
    from transcript_qa.labels import CORPUS_SPLITS
    from transcript_qa.training.api import train
    from transcript_qa.training.trainer import TrainConfig

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

        r = merge_models(a.merge, a.out, train_file, dev_file, data / "test.jsonl", device=a.device,
                         dtype=a.dtype, force=True, extra_eval=extra, card_notes=notes(count_calls(dev_file)))
    else:
        r = train(train_file, a.out, dev_file, data / "test.jsonl", device=a.device, dtype=a.dtype,
                  force=True, encoder_from=a.encoder_from,
                  config=TrainConfig(seed=a.seed, epochs=a.epochs, ensemble=a.ensemble, stage_crf=True,
                                     workers=a.workers, augment_asr=not a.no_asr_copies,
                                     cue_dropout=a.cue_dropout),
                  progress=progress, extra_eval=extra, card_notes=notes(count_calls(dev_file)))
    print(json.dumps({"dev": r["dev_headline"], "test": r["test_headline"],
                      **{k: r[f"{k}_headline"] for k in extra}, "best_epoch": r["training"]["best_epoch"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
