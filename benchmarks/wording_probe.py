#!/usr/bin/env python
"""Wording probes: does a model still see a resolution, or an offer, said without the word lists?

Two probes in `datasets/probes/`, both made from dev calls (see its README):

- `resolution_paraphrases.jsonl`: the 73 resolved dev calls whose resolution turn contains a word
  of the `resolve` cue list in `features.py` ("done", "refunded", "booked" ...), each with that
  turn paraphrased to keep its meaning, facts and style and avoid every word of the list. Reported:
  how many calls are called resolved, and the resolution turn within 2, as written and paraphrased.
- `offer_paraphrases.jsonl`: the dev offer turns that contain a word of the `offer` cue list
  ("upgrade", "deal", "would you like" ...), paraphrased the same way (still the same offer).
  Reported: how many of those offer turns are found (a predicted offer within one turn).

Each model runs over the calls as written and with the probe's turns paraphrased. The calls are
dev calls: a probe of how a model reads, not a held-out score.

    python benchmarks/wording_probe.py [--model DIR ...] [--dtype auto|fp32] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBES = {"resolution": ROOT / "datasets" / "probes" / "resolution_paraphrases.jsonl",
          "offer": ROOT / "datasets" / "probes" / "offer_paraphrases.jsonl"}


def load_probe(dev_file: Path, probe_file: Path = PROBES["resolution"]):
    """(labelled calls as written, the same calls with the probe's turns paraphrased, the paraphrased
    turn indices of each call), in the order the calls first appear in the probe file."""
    from transcript_qa.training.data import load_labeled

    dev = {lc.call.id: lc for lc in load_labeled(dev_file)}
    edits: dict[str, dict[int, str]] = {}
    for n, line in enumerate(probe_file.read_text(encoding="utf-8").splitlines(), 1):
        p = json.loads(line)
        lc = dev.get(p["call_id"])
        if lc is None:
            raise SystemExit(f"{probe_file}:{n}: call {p['call_id']} is not in {dev_file}")
        if lc.call.turns[p["turn"]].text != p["original"]:
            raise SystemExit(f"{probe_file}:{n}: turn {p['turn']} of {p['call_id']} no longer reads as the probe's original")
        edits.setdefault(p["call_id"], {})[p["turn"]] = p["paraphrase"]
    written, paraphrased, where = [], [], []
    for cid, ed in edits.items():
        lc = dev[cid]
        turns = tuple(t.model_copy(update={"text": ed[i]}) if i in ed else t for i, t in enumerate(lc.call.turns))
        written.append(lc)
        paraphrased.append(lc.call.model_copy(update={"turns": turns}))
        where.append(sorted(ed))
    return written, paraphrased, where


def score(golds: list[dict], preds: list) -> dict:
    """Resolved calls called resolved, and the resolution turn within 2 of the gold one."""
    n = len(golds)
    resolved = sum(p.outcome == "resolved" for p in preds)
    within2 = sum(p.outcome == "resolved" and p.resolution_turn is not None
                  and abs(p.resolution_turn - g["resolution_turn"]) <= 2 for g, p in zip(golds, preds))
    return {"calls": n, "called_resolved": resolved, "resolution_turn_within2": round(within2 / n, 4) if n else None}


def offers_found(where: list[list[int]], preds: list) -> list[list[bool]]:
    """For each call, whether each probed offer turn has a predicted offer within one turn."""
    return [[any(abs(o.turn - t) <= 1 for o in p.offers) for t in turns] for turns, p in zip(where, preds)]


def main() -> int:
    from transcript_qa import Analyzer
    from transcript_qa.training.api import display_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=None, help="model folder (repeatable; default: models/default)")
    ap.add_argument("--dtype", default="auto", help="encoder dtype: auto (as the CLI) or fp32")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    dev_file = ROOT / "datasets" / "calls" / "dev.jsonl"
    probes = {k: load_probe(dev_file, f) for k, f in PROBES.items()}
    out: dict = {"probes": {k: display_path(f) for k, f in PROBES.items()}, "dtype": a.dtype, "models": {}}
    for m in a.model or [None]:
        an = Analyzer.load(m, dtype=a.dtype)
        name = display_path(Path(m)) if m else "models/default"
        res: dict = {}
        # the calls as written, analysed once for both probes (many calls are in both)
        calls = {lc.call.id: lc.call for w, _, _ in probes.values() for lc in w}
        as_written = dict(zip(calls, an.analyze_many(list(calls.values()))))
        written, paraphrased, _ = probes["resolution"]
        golds = [lc.gold for lc in written]
        before = [as_written[lc.call.id] for lc in written]
        after = list(an.analyze_many(paraphrased))
        res["resolution"] = {
            "as_written": score(golds, before), "paraphrased": score(golds, after),
            "no_longer_resolved": [{"call_id": g["call_id"], "now": p.outcome, "confidence": round(p.outcome_confidence, 3)}
                                   for g, b, p in zip(golds, before, after)
                                   if b.outcome == "resolved" and p.outcome != "resolved"]}
        written, paraphrased, where = probes["offer"]
        f_before = offers_found(where, [as_written[lc.call.id] for lc in written])
        f_after = offers_found(where, list(an.analyze_many(paraphrased)))
        res["offer"] = {
            "offer_turns": sum(len(w) for w in where),
            "found_as_written": sum(map(sum, f_before)), "found_paraphrased": sum(map(sum, f_after)),
            "lost": [{"call_id": lc.call.id, "turn": t} for lc, w, fb, fa in zip(written, where, f_before, f_after)
                     for t, x, y in zip(w, fb, fa) if x and not y]}
        out["models"][name] = res
        r, o = res["resolution"], res["offer"]
        n = r["as_written"]["calls"]
        print(f"{name}: resolution probe: called resolved {r['as_written']['called_resolved']}/{n} as written, "
              f"{r['paraphrased']['called_resolved']}/{n} paraphrased; resolution turn within 2 "
              f"{r['as_written']['resolution_turn_within2']} -> {r['paraphrased']['resolution_turn_within2']}")
        print(f"{name}: offer probe: offer turns found {o['found_as_written']}/{o['offer_turns']} as written, "
              f"{o['found_paraphrased']}/{o['offer_turns']} paraphrased")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
