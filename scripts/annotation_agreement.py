#!/usr/bin/env python
"""Agreement between the writers' labels and the second annotation pass (datasets/second_annotation).

Prints the outcome confusion matrix (writers in rows), raw agreement and Cohen's kappa, agreement
per writer, and how far the two resolution turns lie apart on calls both call resolved. The
adjudications of the disagreements are counted too; the corpus labels are not changed by them.
Offers: whether a call has one (kappa), offer turns matched within one turn (F1, the writers as
reference), kind and response on matched turns, and the offer_timing the second pass's offers give
with the writers' outcome and resolution turn.

    python scripts/annotation_agreement.py [--json out.json] [--writers w37,w38,...]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from transcript_qa.evaluation import accuracy, confusion, match_within
from transcript_qa.labels import OUTCOMES, derive_offer_timing, load_jsonl

ROOT = Path(__file__).resolve().parents[1]


def cohen_kappa(pairs: list[tuple[str, str]], labels=OUTCOMES) -> float:
    """Cohen's kappa of two raters over the same items (1 = perfect, 0 = chance)."""
    n = len(pairs)
    if not n:
        raise ValueError("no items")
    po = sum(a == b for a, b in pairs) / n
    ca, cb = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    pe = sum(ca[k] * cb[k] for k in labels) / (n * n)
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def offer_agreement(calls: dict[str, dict], second: dict[str, dict]) -> dict:
    tp = n_ref = n_hyp = 0
    kind_same = resp_same = 0
    has = []
    timing_same = 0
    for c, g in calls.items():
        ref = {i: t["offer"] for i, t in enumerate(g["turns"]) if t.get("offer")}
        hyp = {o["turn"]: o for o in second[c]["offers"]}
        m = match_within(sorted(ref), sorted(hyp))
        tp, n_ref, n_hyp = tp + len(m), n_ref + len(ref), n_hyp + len(hyp)
        kind_same += sum(ref[r]["kind"] == hyp[h]["kind"] for r, h in m)
        resp_same += sum(ref[r]["response"] == hyp[h]["response"] for r, h in m)
        has.append(("yes" if ref else "no", "yes" if hyp else "no"))
        timing_same += g["offer_timing"] == derive_offer_timing(hyp, g["outcome"], g["resolution_turn"])
    p, r = tp / max(1, n_hyp), tp / max(1, n_ref)
    return {
        "offer_turns_writer": n_ref, "offer_turns_second": n_hyp, "offer_turns_matched_within1": tp,
        "offer_turn_f1": round(2 * p * r / max(1e-9, p + r), 4), "offer_turn_precision": round(p, 4),
        "offer_turn_recall": round(r, 4),
        "call_has_offer_agreement": round(accuracy(*zip(*has)), 4),
        "call_has_offer_kappa": round(cohen_kappa(has, ("yes", "no")), 4),
        "offer_kind_agreement_matched": round(kind_same / max(1, tp), 4),
        "offer_response_agreement_matched": round(resp_same / max(1, tp), 4),
        "offer_timing_agreement": round(timing_same / len(calls), 4),
    }


def agreement(calls: dict[str, dict], second: dict[str, dict]) -> dict:
    missing = sorted(set(calls) - set(second))
    if missing:
        raise SystemExit(f"second pass lacks {len(missing)} calls, e.g. {missing[:3]}")
    pairs = [(calls[c]["outcome"], second[c]["outcome"]) for c in calls]
    writer, other = zip(*pairs)
    cm = confusion(writer, other, OUTCOMES)
    per_writer: dict[str, list[int]] = {}
    for c, g in calls.items():
        w = g["metadata"].get("writer", "?")
        per_writer.setdefault(w, [0, 0])
        per_writer[w][0] += g["outcome"] == second[c]["outcome"]
        per_writer[w][1] += 1
    gaps = [abs(calls[c]["resolution_turn"] - second[c]["resolution_turn"]) for c in calls
            if calls[c]["outcome"] == "resolved" and second[c]["outcome"] == "resolved"]
    adj = {c: s["adjudicated"] for c, s in second.items() if "adjudicated" in s}
    adj_changed = sum(a["outcome"] != calls[c]["outcome"] for c, a in adj.items())
    offers = offer_agreement(calls, second) if all("offers" in s for s in second.values()) else {}
    return {
        **offers,
        "calls": len(pairs),
        "outcome_confusion": {a: dict(zip(OUTCOMES, row)) for a, row in zip(OUTCOMES, cm)},
        "outcome_agreement": round(accuracy(writer, other), 4),
        "outcome_kappa": round(cohen_kappa(pairs), 4),
        "outcome_agreement_by_writer": {w: round(k / n, 3) for w, (k, n) in sorted(per_writer.items())},
        "both_resolved": len(gaps),
        "resolution_turn_exact": round(sum(g == 0 for g in gaps) / len(gaps), 4),
        "resolution_turn_within2": round(sum(g <= 2 for g in gaps) / len(gaps), 4),
        "resolution_turn_more_than_2_apart": sum(g > 2 for g in gaps),
        "adjudicated": len(adj),
        "adjudicated_outcome_differs_from_writer": adj_changed,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument("--writers", default="", help="comma-separated writer ids: only their calls (one round, say)")
    a = ap.parse_args()
    calls = {d["call_id"]: d for split in ("train", "dev")
             for d in load_jsonl(ROOT / "datasets" / "calls" / f"{split}.jsonl")}
    if a.writers:
        keep = set(a.writers.split(","))
        calls = {c: d for c, d in calls.items() if d["metadata"].get("writer") in keep}
        if not calls:
            raise SystemExit(f"no train or dev call by {sorted(keep)}")
    second = {d["call_id"]: d for d in load_jsonl(ROOT / "datasets" / "second_annotation" / "second_pass.jsonl")}
    second = {c: d for c, d in second.items() if c in calls}
    r = agreement(calls, second)
    print(f"{r['calls']} train and dev calls; outcome: writers (rows) x second pass (columns)")
    print("            " + " ".join(f"{o:>11}" for o in OUTCOMES))
    for o in OUTCOMES:
        print(f"{o:>11} " + " ".join(f"{r['outcome_confusion'][o][b]:>11}" for b in OUTCOMES))
    print(f"agreement {r['outcome_agreement']:.3f}, Cohen's kappa {r['outcome_kappa']:.3f}")
    print(f"resolution turn on {r['both_resolved']} calls both call resolved: exact {r['resolution_turn_exact']:.3f}, "
          f"within 2 turns {r['resolution_turn_within2']:.3f} ({r['resolution_turn_more_than_2_apart']} more than 2 apart)")
    print(f"adjudicated {r['adjudicated']} disagreements; the adjudicator's outcome differs from the writer's on "
          f"{r['adjudicated_outcome_differs_from_writer']}")
    if "offer_turn_f1" in r:
        print(f"offers: {r['offer_turns_writer']} writer offer turns, {r['offer_turns_second']} second-pass, "
              f"{r['offer_turns_matched_within1']} matched within one turn: F1 {r['offer_turn_f1']:.3f} "
              f"(second pass precision {r['offer_turn_precision']:.3f}, recall {r['offer_turn_recall']:.3f})")
        print(f"call has an offer: agreement {r['call_has_offer_agreement']:.3f}, kappa {r['call_has_offer_kappa']:.3f}; "
              f"on matched turns kind {r['offer_kind_agreement_matched']:.3f}, response "
              f"{r['offer_response_agreement_matched']:.3f}; offer_timing from the second pass's offers (writers' "
              f"outcome and resolution turn) {r['offer_timing_agreement']:.3f}")
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
