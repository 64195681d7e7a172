#!/usr/bin/env python
"""Print the composition tables of datasets/README.md as Markdown, computed from the labeled files.

    python scripts/datasheet_tables.py [--folder datasets/calls]       # print the tables
    python scripts/datasheet_tables.py --write datasets/README.md        # replace them in the datasheet

``--write`` replaces what lies between the ``<!-- tables:start -->`` and ``<!-- tables:end -->`` lines.

Columns: the splits of the written corpus (train, dev, test and the unseen-writer sets), all written calls
together, and the real Harper Valley
calls (real_hvb.jsonl, which are not part of the written corpus and never used for training). Counts of
calls unless a heading says turns or offer turns; percentages are of the column's calls (or turns).
The last table checks the corpus quotas on all written calls.
Standard library only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from transcript_qa.labels import (  # noqa: E402
    CORPUS_SPLITS, OFFER_KINDS, OFFER_RESPONSES, OFFER_TIMINGS, OUTCOMES, SKILLS, STAGES, load_jsonl,
    repeated_sentences,
)

SPLITS = CORPUS_SPLITS
START, END = "<!-- tables:start -->", "<!-- tables:end -->"


def pct(n: int, base: int) -> str:
    return f"{n} ({100 * n / base:.0f}%)" if base else str(n)


def table(head: list[str], rows: list[list], left: int = 1) -> str:
    """A Markdown table; the first ``left`` columns are left-aligned, the rest right-aligned."""
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i < left else "---:" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


def meta(c: dict, key: str, default: str = "?"):
    return (c.get("metadata") or {}).get(key, default)


def offer_turns(c: dict) -> list[dict]:
    return [t["offer"] for t in c["turns"] if t.get("offer")]


def counter_table(cols: dict[str, list[dict]], key, keys: list[str] | None = None, *, base=None) -> str:
    """Rows are the values of ``key(call)`` (a value or a list of values); cells count them per column."""
    counts = {}
    for name, calls in cols.items():
        cnt: Counter = Counter()
        for c in calls:
            v = key(c)
            cnt.update(v if isinstance(v, list) else [v])
        counts[name] = cnt
    if keys is None:
        total: Counter = Counter()
        for cnt in counts.values():
            total.update(cnt)
        keys = [k for k, _ in sorted(total.items(), key=lambda kv: (-kv[1], str(kv[0])))]
    rows = []
    for k in keys:
        row = [k]
        for name, cnt in counts.items():
            b = base(cols[name]) if base else len(cols[name])
            row.append(pct(cnt[k], b) if cnt[k] else "0")
        rows.append(row)
    return table([""] + list(cols), rows)


def quota_rows(calls: list[dict], test: list[dict]) -> list[list]:
    """(quota, actual, holds) for the corpus quotas; computed the same way as tests/test_corpus.py."""
    n = len(calls)
    ind = Counter(meta(c, "industry") for c in calls)
    asr = sum(1 for c in calls if meta(c, "style") == "asr")
    lens = [len(c["turns"]) for c in calls]
    out = Counter(c["outcome"] for c in calls)
    timing = Counter(c["offer_timing"] for c in calls)
    kinds = Counter(o["kind"] for c in calls for o in offer_turns(c))
    resps = Counter(o["response"] for c in calls for o in offer_turns(c))
    hard = sum(1 for c in calls if meta(c, "hard_cases", []))
    rows = [
        ["at least 300 calls", n, n >= 300],
        ["at least 60 test calls", len(test), len(test) >= 60],
        ["at least 8 industries with 10+ calls", sum(1 for v in ind.values() if v >= 10),
         sum(1 for v in ind.values() if v >= 10) >= 8],
        ["at least a quarter in ASR style", pct(asr, n), asr >= n / 4],
        ["every call 8 to 80 turns", f"{min(lens)} to {max(lens)}", min(lens) >= 8 and max(lens) <= 80],
    ]
    for o in ("escalated", "unresolved"):
        rows.append([f"{o} at least 15%", pct(out[o], n), out[o] >= 0.15 * n])
    with_offer = n - timing["none"]
    rows.append(["offers in at least 40% of calls", pct(with_offer, n), with_offer >= 0.40 * n])
    for t in ("before_resolution", "after_resolution", "no_resolution"):
        rows.append([f"offer_timing {t} at least 12%", pct(timing[t], n), timing[t] >= 0.12 * n])
    rows.append(["every offer kind used", ", ".join(f"{k} {kinds[k]}" for k in OFFER_KINDS),
                 all(kinds[k] for k in OFFER_KINDS)])
    rows.append(["every offer response used", ", ".join(f"{k} {resps[k]}" for k in OFFER_RESPONSES),
                 all(resps[k] for k in OFFER_RESPONSES)])
    rows.append(["hard cases in at least 15% of calls", pct(hard, n), hard >= 0.15 * n])
    for s in SKILLS:
        cnt = Counter(c["soft_skills"][s] for c in calls)
        low = min(cnt[v] for v in (1, 2, 4, 5))
        rows.append([f"{s}: each of 1, 2, 4, 5 on at least 4% of calls",
                     " / ".join(f"{v}: {cnt[v]}" for v in (1, 2, 4, 5)) + f" (min {100 * low / n:.1f}%)",
                     low >= 0.04 * n])
    rep = repeated_sentences(calls)
    rows.append(["no sentence of 8+ words in 5+ calls", f"{len(rep)} such sentences", not rep])
    return rows


def render(folder: Path) -> str:
    splits = {s: load_jsonl(folder / f"{s}.jsonl") for s in SPLITS if (folder / f"{s}.jsonl").exists()}
    written = [c for calls in splits.values() for c in calls]
    cols: dict[str, list[dict]] = dict(splits)
    cols["all written"] = written
    real = folder / "real_hvb.jsonl"
    if real.exists():
        cols["real_hvb"] = load_jsonl(real)
    nturns = lambda calls: sum(len(c["turns"]) for c in calls)  # noqa: E731
    noffers = lambda calls: sum(len(offer_turns(c)) for c in calls)  # noqa: E731
    parts: list[str] = []

    def section(title: str, body: str) -> None:
        parts.append(f"### {title}\n\n{body}\n")

    rows = [
        ["calls"] + [len(v) for v in cols.values()],
        ["turns"] + [nturns(v) for v in cols.values()],
        ["turns per call: min / median / max"] + [
            f"{min(len(c['turns']) for c in v)} / {statistics.median(len(c['turns']) for c in v):g} / "
            f"{max(len(c['turns']) for c in v)}" for v in cols.values()],
        ["agent turns"] + [pct(sum(t["speaker"] == "agent" for c in v for t in c["turns"]), nturns(v))
                           for v in cols.values()],
        ["calls with timestamps"] + [pct(sum(1 for c in v if any("start" in t for t in c["turns"])), len(v))
                                     for v in cols.values()],
        ["calls with a hard-case tag"] + [pct(sum(1 for c in v if meta(c, "hard_cases", [])), len(v))
                                          for v in cols.values()],
        ["distinct agents"] + [len({meta(c, "agent_id") for c in v}) for v in cols.values()],
        ["distinct teams (industry, team)"] + [len({(meta(c, "industry"), meta(c, "team")) for c in v})
                                               for v in cols.values()],
        ["distinct companies"] + [len({meta(c, "company") for c in v}) for v in cols.values()],
    ]
    section("Size", table([""] + list(cols), rows))
    section("Writers (calls per split)", counter_table(cols, lambda c: meta(c, "writer", "(real call)")))
    by_writer: dict[str, list[dict]] = {}
    for c in written:
        by_writer.setdefault(meta(c, "writer"), []).append(c)
    rows = []
    for w in sorted(by_writer):
        v = by_writer[w]
        tags = Counter(h for c in v for h in meta(c, "hard_cases", []))
        rows.append([w, len(v), ", ".join(sorted({meta(c, "industry") for c in v})),
                     pct(sum(1 for c in v if meta(c, "style") == "asr"), len(v)),
                     pct(sum(1 for c in v if any("start" in t for t in c["turns"])), len(v)),
                     f"{statistics.mean(len(c['turns']) for c in v):.1f}",
                     ", ".join(f"{k} {n}" for k, n in sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[:4])])
    section("Writers (written corpus)", table(["writer", "calls", "industries", "asr", "timestamps", "mean turns",
                                                "most used hard-case tags"], rows, left=7))
    rows = []
    for w in sorted(by_writer):
        v = by_writer[w]
        first = Counter(next((t["stage"] for t in c["turns"] if t["speaker"] == "customer"), "-") for c in v)
        res = [c for c in v if c["resolution_turn"] is not None]
        on_cust = sum(1 for c in res if c["turns"][c["resolution_turn"]]["speaker"] == "customer")
        rows.append([w] + [first[st] for st in ("opening", "verification", "discovery")] + [pct(on_cust, len(res))])
    section("Writer conventions: stage of the customer's first turn, and resolution_turn on a customer turn",
            table(["writer", "first customer turn: opening", "verification", "discovery",
                   "resolution_turn on a customer turn (of resolved)"], rows))
    section("Industries", counter_table(cols, lambda c: meta(c, "industry")))
    section("Style", counter_table(cols, lambda c: meta(c, "style"), ["clean", "asr"]))
    section("Outcome", counter_table(cols, lambda c: c["outcome"], list(OUTCOMES)))
    section("Offer timing", counter_table(cols, lambda c: c["offer_timing"], list(OFFER_TIMINGS)))
    section("Offer kinds (offer turns; % of offer turns)",
            counter_table(cols, lambda c: [o["kind"] for o in offer_turns(c)], list(OFFER_KINDS), base=noffers))
    section("Offer responses (offer turns; % of offer turns)",
            counter_table(cols, lambda c: [o["response"] for o in offer_turns(c)], list(OFFER_RESPONSES),
                          base=noffers))
    section("Stages (turns; % of turns)",
            counter_table(cols, lambda c: [t["stage"] for t in c["turns"]], list(STAGES), base=nturns))
    skill_rows = []
    for s in SKILLS:
        for name, v in cols.items():
            cnt = Counter(c["soft_skills"][s] for c in v)
            skill_rows.append([s if name == next(iter(cols)) else "", name] + [cnt[k] for k in range(1, 6)]
                              + [f"{statistics.mean(c['soft_skills'][s] for c in v):.2f}"])
    section("Soft-skill scores (calls per score)",
            table(["skill", "split", "1", "2", "3", "4", "5", "mean"], skill_rows, left=2))
    section("Hard-case tags (calls; a call can have several)",
            counter_table(cols, lambda c: list(meta(c, "hard_cases", []))))
    per_agent = Counter(meta(c, "agent_id") for c in written)
    test_agents = {meta(c, "agent_id") for c in splits.get("test", [])}
    train_agents = {meta(c, "agent_id") for c in splits.get("train", [])}
    rows = [
        ["agents (written corpus)", len(per_agent)],
        ["calls per agent: min / median / max",
         f"{min(per_agent.values())} / {statistics.median(per_agent.values()):g} / {max(per_agent.values())}"],
        ["agents with 5+ calls", sum(1 for v in per_agent.values() if v >= 5)],
        ["test agents also seen in train", f"{len(test_agents & train_agents)} of {len(test_agents)}"],
        ["teams (industry, team)", len({(meta(c, "industry"), meta(c, "team")) for c in written})],
    ]
    section("Agents and teams", table(["", "value"], rows))
    qrows = [[q, a, "yes" if ok else "**NO**"] for q, a, ok in quota_rows(written, splits.get("test", []))]
    section("Quotas (written corpus: train + dev + test + the unseen-writer sets)", table(["quota", "actual", "holds"], qrows, left=1))
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=ROOT / "datasets" / "calls")
    ap.add_argument("--write", type=Path, metavar="README", help="replace the tables between the markers in README")
    a = ap.parse_args(argv)
    out = render(a.folder)
    if not a.write:
        print(out, end="")
        return 0
    text = a.write.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print(f"{a.write}: no {START} ... {END} markers", file=sys.stderr)
        return 1
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    a.write.write_text(f"{head}{START}\n\n{out}\n{END}{tail}", encoding="utf-8")
    print(f"{a.write}: tables updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
