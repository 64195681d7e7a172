#!/usr/bin/env python
"""Role inference accuracy: hide the roles, relabel speakers generically, check the agent is found.

Runs on the labeled corpus (datasets/calls/*.jsonl) and, when given, a Harper Valley folder
(real calls). Prints a table and writes JSON. Target (issue 2): the right agent on >= 97% of
two-speaker calls.
Usage: python benchmarks/roles.py [--harper-valley DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from transcript_qa.readers.base import RawCall, RawTurn
    from transcript_qa.roles import infer_agent
    from transcript_qa.sources import iter_calls
    from transcript_qa.transcript import Call

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--harper-valley", type=Path, default=ROOT / "tests/fixtures/harper_valley/transcript")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    rng = random.Random(7)
    sets: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {}
    for split in ("train", "dev", "test"):
        for line in (ROOT / f"datasets/calls/{split}.jsonl").read_text().splitlines():
            c = json.loads(line)
            sets.setdefault(f"corpus {c['metadata'].get('style', '?')}", []).append(
                (c["call_id"], [(t["speaker"], t["text"]) for t in c["turns"]]))
    hv = [c for c in iter_calls(a.harper_valley) if isinstance(c, Call)]
    sets["harper_valley (real)"] = [(c.id, [(t.role.value, t.text) for t in c.turns]) for c in hv]
    rows, wrong = {}, []
    for name, calls in sets.items():
        ok = n = 0
        for cid, turns in calls:
            labels = ["spk_0", "spk_1"]
            rng.shuffle(labels)  # the agent is spk_0 or spk_1 at random: no position leak
            lab = {"agent": labels[0], "customer": labels[1]}
            raw = RawCall(cid, [RawTurn(lab[r], t) for r, t in turns])
            if len({r for r, _ in turns}) < 2:
                continue
            agents, conf, _ = infer_agent(raw)
            n += 1
            if agents[0] == lab["agent"]:
                ok += 1
            else:
                wrong.append((name, cid, conf))
        rows[name] = {"calls": n, "correct": ok, "accuracy": round(ok / n, 4) if n else None}
    total_n = sum(r["calls"] for r in rows.values())
    total_ok = sum(r["correct"] for r in rows.values())
    rows["all"] = {"calls": total_n, "correct": total_ok, "accuracy": round(total_ok / total_n, 4)}
    print(f"{'set':<24}{'calls':>7}{'correct':>9}{'accuracy':>10}")
    for k, r in rows.items():
        print(f"{k:<24}{r['calls']:>7}{r['correct']:>9}{r['accuracy']:>10.3f}")
    for w in wrong[:20]:
        print("wrong:", *w)
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "wrong": wrong}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
