#!/usr/bin/env python
"""Guideline fixes applied to every split by rule, after the split was frozen (membership unchanged).

Found by the datasheet review (not by looking at model errors):
1. Writers w1, w5 and w6 labelled the customer's first turn `opening` even when it states the
   problem; docs/labels.md makes that `discovery`. Rule: a first customer turn labelled `opening`
   with more than six words becomes `discovery` (short ones such as "hi" stay `opening`).
Idempotent: running it again changes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fix(c: dict) -> int:
    for t in c["turns"]:
        if t["speaker"] == "customer":
            if t["stage"] == "opening" and len(t["text"].split()) > 6:
                t["stage"] = "discovery"
                return 1
            return 0
    return 0


def main() -> int:
    total = 0
    for split in ("train", "dev", "test"):
        p = ROOT / "datasets" / "calls" / f"{split}.jsonl"
        calls = [json.loads(l) for l in p.read_text(encoding="utf-8").splitlines() if l.strip()]
        n = sum(fix(c) for c in calls)
        p.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in calls), encoding="utf-8")
        print(f"{split}: {n} first customer turns opening -> discovery")
        total += n
    return 0


if __name__ == "__main__":
    sys.exit(main())
