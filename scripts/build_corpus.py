#!/usr/bin/env python
"""Merge the writers' parts (datasets/parts/w*.jsonl) into frozen train/dev/test splits.

The split is deterministic: within each writer and outcome, calls are ordered by a hash of their
call_id and dealt test / dev / train in the ratio 4 : 4 : 12 (so about 23% / 18% / 59% after rounding within groups). Run once; the test split is frozen
after that (never used for training, tuning or model selection). Refuses to overwrite without --force.
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--parts", default=str(ROOT / "datasets" / "parts"))
    ap.add_argument("--out", default=str(ROOT / "datasets" / "calls"))
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    out = Path(a.out)
    if (out / "test.jsonl").exists() and not a.force:
        print(f"{out}/test.jsonl exists: the test split is frozen; pass --force to rebuild", file=sys.stderr)
        return 2
    calls = []
    for f in sorted(Path(a.parts).glob("w*.jsonl")):
        rep = validate_file(f)
        if rep.errors:
            for p in rep.errors[:10]:
                print(p, file=sys.stderr)
            return 1
        calls += load_jsonl(f)
    rep = repeated_sentences(calls)
    if rep:
        print(f"warning: {len(rep)} sentences of 8+ words appear in 5+ calls, e.g. {rep[0]}", file=sys.stderr)
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for c in calls:
        groups[(c["metadata"].get("writer", "?"), c["outcome"])].append(c)
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    pattern = ["test", "train", "dev", "train", "train", "test", "train", "dev", "train", "train",
               "test", "train", "train", "dev", "train", "test", "train", "train", "dev", "train"]
    for key in sorted(groups):
        ordered = sorted(groups[key], key=lambda c: hashlib.sha1(c["call_id"].encode()).hexdigest())
        for i, c in enumerate(ordered):
            splits[pattern[i % len(pattern)]].append(c)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        rows.sort(key=lambda c: c["call_id"])
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            for c in rows:
                fh.write(json.dumps(c, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
