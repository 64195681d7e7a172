#!/usr/bin/env python
"""Real calls: run a model over Harper Valley Bank transcripts (real speech; no one here wrote them).

Reports, for a folder of Harper Valley transcript files:
- stage agreement with the calls' dialog acts, on turns whose acts name a stage (a greeting at the
  start -> opening; a problem description -> discovery; thanks/closing at the end -> closing; ...),
- how many offers the model flags (these calls have none, so every flag is a false positive), and
  the three agent turns nearest to being flagged, with their offer probabilities and the threshold,
- the outcome mix (nearly every call completes its banking task),
and the full metrics on the hand-labelled real calls in datasets/calls/real_hvb.jsonl.
With --compare DIR, also runs a second model (the one shipped before, say) over the same calls and
lists every call whose outcome differs between the two: a change of model should be read on these
real calls before it ships, not only on the written held-out sets.
Usage: python benchmarks/harper_valley.py [--folder DIR] [--model DIR] [--compare DIR] [--json FILE]
The default folder is the three calls in tests/fixtures/harper_valley; point --folder at a full copy
(for example the 58 calls of the project's shared data) for the real check.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# dialog act -> the stages it is compatible with; acts not listed say nothing about the stage
ACT_STAGES = {
    "gridspace_problem_description": {"discovery"},
    "gridspace_thanks": {"closing", "resolution", "offer"},
    "gridspace_closing": {"closing"},
    "gridspace_procedure_explanation": {"resolution", "discovery"},
    "gridspace_data_communication": {"resolution", "discovery", "verification"},
    "gridspace_data_question": {"verification", "discovery"},
    "gridspace_confirm_data": {"verification", "discovery", "resolution"},
}


def expected_stages(acts: list[str], index: int, n: int) -> set[str] | None:
    acts = [a for a in acts if a]
    sets = [ACT_STAGES[a] for a in acts if a in ACT_STAGES]
    # a greeting names the stage only at the ends of the call; a turn with several acts
    # ("hi, I'd like to check my balance": greeting + problem description) may take any of their stages
    if "gridspace_greeting" in acts and index <= 3:
        sets.append({"opening"})
    elif "gridspace_greeting" in acts and index >= n - 3:
        sets.append({"closing"})
    if not sets:
        return None
    return set().union(*sets)


def outcome_changes(results: list, before: list) -> list[dict]:
    """The calls whose outcome differs between two models' results over the same calls, in order."""
    if [r.call_id for r in results] != [b.call_id for b in before]:
        raise ValueError("the two result lists are not over the same calls in the same order")
    return [{"call_id": r.call_id, "before": b.outcome, "after": r.outcome,
             "after_confidence": round(r.outcome_confidence, 3)}
            for r, b in zip(results, before) if r.outcome != b.outcome]


def highest_offer_turns(an, calls, embs, n: int = 3) -> list[tuple[str, int, float, str]]:
    """The ``n`` agent turns of ``calls`` (turn vectors ``embs``) with the highest offer probability,
    flagged or not: (call id, turn, probability, text). On calls without offers they say how near the
    model came to flagging one, which the count of flagged offers alone does not."""
    probe = an.with_offer_threshold(1e-9)  # every agent turn comes back as an offer
    rows = [(r.call_id, o.turn, float(o.confidence), c.turns[o.turn].text)
            for c, r in zip(calls, probe.analyze_encoded(calls, embs)) for o in r.offers]
    return sorted(rows, key=lambda x: -x[2])[:n]


def real_call_report(an, folder: Path) -> tuple[dict, list, list, dict[str, tuple[int, int]]]:
    """Run the analyzer over the real calls in ``folder``: (numbers, calls, results, per dialog act
    (agreeing turns, turns)). The numbers are the stage agreement with the dialog acts, the offers
    flagged (every one is false: the calls have none) and the outcome mix."""
    from transcript_qa.analyzer import CALLS_PER_BATCH
    from transcript_qa.sources import iter_calls
    from transcript_qa.transcript import Call

    calls = [c for c in iter_calls(folder) if isinstance(c, Call)]
    if not calls:
        raise SystemExit(f"{folder}: no call found")
    # encoded once, in analyze_many's batches of calls: decoded at the model's threshold and again
    # at a near-zero one for the turns nearest to being flagged
    n = CALLS_PER_BATCH
    embs = [e for b in range(0, len(calls), n) for e in an.encode_calls(calls[b : b + n])]
    res = an.analyze_encoded(calls, embs)
    agree = total = 0
    per_act: Counter = Counter()
    per_act_ok: Counter = Counter()
    for c, r in zip(calls, res):
        acts = c.metadata.get("dialog_acts") or [[] for _ in c.turns]
        for i, (t, tr) in enumerate(zip(c.turns, r.turns)):
            exp = expected_stages(acts[i] if i < len(acts) else [], i, len(c.turns))
            if exp is None:
                continue
            total += 1
            ok = tr.stage in exp
            agree += ok
            key = "+".join(sorted(x.replace("gridspace_", "") for x in acts[i]))
            per_act[key] += 1
            per_act_ok[key] += ok
    offers = sum(len(r.offers) for r in res)
    flagged = [(r.call_id, o.turn, o.confidence, c.turns[o.turn].text) for c, r in zip(calls, res) for o in r.offers]
    out = {
        "calls": len(calls), "turns": sum(len(c.turns) for c in calls),
        "stage_agreement_with_dialog_acts": round(agree / total, 4) if total else None, "turns_with_stage_acts": total,
        "calls_with_an_offer_flagged": sum(1 for r in res if r.offers), "offers_flagged": offers,
        "outcomes": dict(Counter(r.outcome for r in res)), "flagged_offer_turns": flagged,
        "stages_predicted": dict(Counter(t.stage for r in res for t in r.turns)),
        "offer_threshold": an.decode.offer_threshold,
        "highest_offer_probability_turns": highest_offer_turns(an, calls, embs),
    }
    return out, calls, res, {k: (per_act_ok[k], n) for k, n in per_act.most_common()}


def main() -> int:
    from transcript_qa.analyzer import Analyzer
    from transcript_qa.evaluation import evaluate, headline
    from transcript_qa.training.api import display_path
    from transcript_qa.training.data import load_labeled

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=ROOT / "tests/fixtures/harper_valley/transcript")
    ap.add_argument("--model", type=Path)
    ap.add_argument("--compare", type=Path, help="a second model folder: list the calls whose outcome differs")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    an = Analyzer.load(a.model)
    out, calls, res, per_act = real_call_report(an, a.folder)
    total, offers, flagged = out["turns_with_stage_acts"], out["offers_flagged"], out["flagged_offer_turns"]
    gold_file = ROOT / "datasets/calls/real_hvb.jsonl"
    if gold_file.exists():
        gold = load_labeled(gold_file)
        preds = list(an.analyze_many([lc.call for lc in gold]))
        m = evaluate([lc.gold for lc in gold], preds)
        out["hand_labelled_real_calls"] = {"calls": len(gold), **headline(m),
                                           "outcome_accuracy": round(m["outcome"]["outcome_accuracy"], 4),
                                           "offers_flagged": sum(len(p.offers) for p in preds)}
    print(f"Harper Valley: {out['calls']} real calls, {out['turns']} turns ({a.folder})")
    print(f"  stage agreement with dialog acts: {out['stage_agreement_with_dialog_acts']} on {total} turns")
    for k, (ok, n) in list(per_act.items())[:8]:
        print(f"    {k:<45} {ok}/{n}")
    print(f"  offers flagged: {offers} in {out['calls_with_an_offer_flagged']} calls (the calls have none)")
    for f in flagged:
        print(f"    flagged: {f[0]} t{f[1]} ({f[2]:.2f}): {f[3][:100]}")
    print(f"  highest offer probabilities (threshold {out['offer_threshold']}):")
    for f in out["highest_offer_probability_turns"]:
        print(f"    {f[0]} t{f[1]} ({f[2]:.2f}): {f[3][:100]}")
    print(f"  outcomes: {out['outcomes']}")
    if a.compare:
        before = list(Analyzer.load(a.compare).analyze_many(calls))
        out["compared_with"] = display_path(a.compare)  # never this machine's absolute path
        out["outcomes_compared_model"] = dict(Counter(r.outcome for r in before))
        out["outcome_changes"] = outcome_changes(res, before)
        print(f"  compared with {a.compare}: outcomes {out['outcomes_compared_model']}; "
              f"{len(out['outcome_changes'])} calls change outcome")
        for ch in out["outcome_changes"]:
            print(f"    {ch['call_id']}: {ch['before']} -> {ch['after']} ({ch['after_confidence']:.2f})")
    if "hand_labelled_real_calls" in out:
        h = out["hand_labelled_real_calls"]
        print(f"  hand-labelled real calls ({h['calls']}): " + ", ".join(f"{k} {v}" for k, v in h.items() if k != "calls"))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
