#!/usr/bin/env python
"""Add a later round of writers' calls (datasets/parts/w*.jsonl) to the corpus without touching test.

The test split is frozen (scripts/build_corpus.py made it once). Calls by writers who are not yet
in the corpus are dealt into train and dev only: within each (writer, outcome) group, ordered by
the SHA-1 of the call_id, along the pattern train, train, dev, train, train (80% / 20%). Writers
named with --holdout go whole into ``unseen_writers.jsonl`` (or the file named by --holdout-file):
an evaluation set by writers no model is trained or selected on.

Refuses a writer already in the corpus, a call_id already used, a part that fails validation, or
a test.jsonl that changed. Run once per round; the parts folder can be deleted afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from transcript_qa.labels import load_jsonl, repeated_sentences, validate_file  # noqa: E402

PATTERN = ("train", "train", "dev", "train", "train")
HOLDOUT_FILE = "unseen_writers.jsonl"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_sorted(path: Path, rows: list[dict]) -> None:
    rows = sorted(rows, key=lambda c: c["call_id"])
    with open(path, "w", encoding="utf-8") as fh:
        for c in rows:
            fh.write(json.dumps(c, ensure_ascii=False) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default=str(ROOT / "datasets" / "parts"))
    ap.add_argument("--calls", default=str(ROOT / "datasets" / "calls"))
    ap.add_argument("--holdout", default="", help="comma-separated writer ids kept whole for unseen-writer evaluation")
    ap.add_argument("--holdout-file", default=HOLDOUT_FILE, help="file (in --calls) that the held-out writers go to")
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    calls_dir = Path(a.calls)
    holdout = {w for w in a.holdout.split(",") if w}
    test_hash = sha256(calls_dir / "test.jsonl")

    existing = {s: load_jsonl(calls_dir / f"{s}.jsonl") for s in ("train", "dev", "test")}
    hold_path = calls_dir / a.holdout_file
    existing["unseen"] = load_jsonl(hold_path) if hold_path.exists() else []
    # every other held-out file counts too: a writer or call_id may be in none of them
    others = [load_jsonl(p) for p in sorted(calls_dir.glob("*.jsonl"))
              if p.name not in ("train.jsonl", "dev.jsonl", "test.jsonl", a.holdout_file)]
    known_writers = {c["metadata"].get("writer") for rows in [*existing.values(), *others] for c in rows}
    known_ids = {c["call_id"] for rows in [*existing.values(), *others] for c in rows}

    new: list[dict] = []
    for f in sorted(Path(a.parts).glob("w*.jsonl")):
        rep = validate_file(f)
        if rep.errors:
            for p in rep.errors[:10]:
                print(p, file=sys.stderr)
            return 1
        rows = load_jsonl(f)
        writers = {c["metadata"].get("writer") for c in rows}
        if writers & known_writers:
            print(f"{f}: writer {sorted(writers & known_writers)} is already in the corpus", file=sys.stderr)
            return 1
        dup = [c["call_id"] for c in rows if c["call_id"] in known_ids]
        if dup:
            print(f"{f}: call_id already in the corpus: {dup[:5]}", file=sys.stderr)
            return 1
        new += rows
    if not new:
        print(f"no parts in {a.parts}", file=sys.stderr)
        return 1
    everything = [c for rows in existing.values() for c in rows] + new
    rep = repeated_sentences(everything)
    if rep:
        print(f"refused: {len(rep)} sentences of 8+ words appear in 5+ calls, e.g. {rep[0]}", file=sys.stderr)
        return 1

    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    added = {"train": [], "dev": [], "unseen": []}
    for c in new:
        w = c["metadata"].get("writer", "?")
        if w in holdout:
            added["unseen"].append(c)
        else:
            groups[(w, c["outcome"])].append(c)
    for key in sorted(groups):
        ordered = sorted(groups[key], key=lambda c: hashlib.sha1(c["call_id"].encode()).hexdigest())
        for i, c in enumerate(ordered):
            added[PATTERN[i % len(PATTERN)]].append(c)
    for name, rows in added.items():
        print(f"{name}: +{len(rows)} calls")
    if a.dry_run:
        return 0
    write_sorted(calls_dir / "train.jsonl", existing["train"] + added["train"])
    write_sorted(calls_dir / "dev.jsonl", existing["dev"] + added["dev"])
    if added["unseen"]:
        write_sorted(hold_path, existing["unseen"] + added["unseen"])
    assert sha256(calls_dir / "test.jsonl") == test_hash, "test.jsonl changed"
    return 0


if __name__ == "__main__":
    sys.exit(main())
