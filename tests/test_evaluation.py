"""Metrics against hand computations on a tiny fixture."""

from __future__ import annotations

import pytest

from transcript_qa.evaluation import evaluate, macro_f1, match_within, quadratic_weighted_kappa
from transcript_qa.results import CallAnalysis, ModelInfo, Offer, SkillScore, TurnResult, stage_spans

SK = ("empathy", "courtesy", "active_listening", "ownership", "clarity")


def gold(cid, stages, outcome, rt, offers, timing, skills):
    turns = []
    for i, st in enumerate(stages):
        t = {"speaker": "agent" if i % 2 == 0 else "customer", "text": f"turn {i}", "stage": st}
        if i in offers:
            t["offer"] = {"kind": offers[i][0], "response": offers[i][1]}
        turns.append(t)
    return {"call_id": cid, "turns": turns, "outcome": outcome, "resolution_turn": rt, "offer_timing": timing,
            "soft_skills": dict(zip(SK, skills))}


def pred(cid, stages, outcome, rt, offers, timing, skills):
    return CallAnalysis(
        call_id=cid, source="", metadata={},
        turns=[TurnResult(i, f"{cid}:t{i:04d}", "agent" if i % 2 == 0 else "customer", s, 1.0) for i, s in enumerate(stages)],
        stages=stage_spans(list(stages)), outcome=outcome, outcome_confidence=1.0, resolution_turn=rt,
        offers=[Offer(i, f"{cid}:t{i:04d}", k, r, 0.9) for i, (k, r) in offers.items()], offer_timing=timing,
        soft_skills={s: SkillScore(v, float(v), []) for s, v in zip(SK, skills)}, model=ModelInfo("t", "0"))


@pytest.fixture
def fixture():
    g = [
        gold("a", ["opening", "discovery", "discovery", "resolution", "offer", "closing"], "resolved", 3,
             {4: ("upsell", "accepted")}, "after_resolution", (5, 4, 3, 2, 1)),
        gold("b", ["opening", "discovery", "offer", "discovery", "closing", "closing"], "escalated", None,
             {2: ("cross_sell", "declined")}, "no_resolution", (3, 3, 3, 3, 3)),
    ]
    p = [
        # a: one stage wrong (turn 2), resolution at 5 (within 2 of 3), offer at the right turn and kind, wrong response
        pred("a", ["opening", "discovery", "resolution", "resolution", "offer", "closing"], "resolved", 5,
             {4: ("upsell", "declined")}, "before_resolution", (4, 4, 3, 2, 3)),
        # b: all stages right, outcome wrong, a false offer at turn 0 and the real one missed
        pred("b", ["opening", "discovery", "offer", "discovery", "closing", "closing"], "unresolved", None,
             {0: ("retention", "none")}, "no_resolution", (3, 3, 3, 3, 3)),
    ]
    return g, p


def test_hand_computed_metrics(fixture):
    m = evaluate(*fixture)
    assert m["stages"]["stage_accuracy"] == pytest.approx(11 / 12)
    assert m["outcome"]["outcome_accuracy"] == pytest.approx(0.5)
    # outcome labels present: resolved (F1 1), escalated (F1 0), unresolved (F1 0)
    assert m["outcome"]["outcome_macro_f1"] == pytest.approx(1 / 3)
    assert m["resolution"]["resolution_turn_within2"] == 1.0
    assert m["resolution"]["resolution_turn_exact"] == 0.0
    # offers: gold {a:4, b:2}, predicted {a:4, b:0}: 1 match -> P 1/2, R 1/2, F1 1/2
    assert m["offers"]["offer_turn_precision"] == pytest.approx(0.5)
    assert m["offers"]["offer_turn_recall"] == pytest.approx(0.5)
    assert m["offers"]["offer_turn_f1"] == pytest.approx(0.5)
    assert m["offers"]["offer_kind_accuracy"] == 1.0
    assert m["offers"]["offer_response_accuracy"] == 0.0
    # timing: gold [after, no_res], pred [before, no_res]: F1 after 0, before 0, no_resolution 1 -> 1/3
    assert m["offer_timing"]["offer_timing_accuracy"] == 0.5
    assert m["offer_timing"]["offer_timing_macro_f1"] == pytest.approx(1 / 3)
    # skills: a differs on empathy by 1 and clarity by 2; b exact -> per-skill MAE empathy .5, clarity 1
    per = m["soft_skills"]["per_skill"]
    assert per["empathy"]["mae"] == pytest.approx(0.5)
    assert per["clarity"]["mae"] == pytest.approx(1.0)
    assert per["courtesy"]["mae"] == 0.0
    assert m["soft_skills"]["soft_skill_mae"] == pytest.approx((0.5 + 0 + 0 + 0 + 1.0) / 5)
    assert per["clarity"]["within_one"] == 0.5
    assert m["outcome"]["confusion"] == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]


def test_offers_match_within_one_turn_one_to_one():
    assert match_within([4], [5]) == [(4, 5)]
    assert match_within([4], [6]) == []
    assert sorted(match_within([3, 4], [4])) == [(4, 4)]
    assert len(match_within([3, 5], [4])) == 1


def test_macro_f1_and_kappa():
    assert macro_f1(["a", "a", "b"], ["a", "a", "b"], ["a", "b", "c"]) == 1.0
    assert macro_f1(["a", "b"], ["b", "a"], ["a", "b"]) == 0.0
    assert quadratic_weighted_kappa([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    assert quadratic_weighted_kappa([1, 5], [5, 1]) < 0


def test_mismatched_inputs_are_refused(fixture):
    g, p = fixture
    with pytest.raises(ValueError, match="2 gold calls but 1"):
        evaluate(g, p[:1])


def test_bootstrap_intervals_bracket_the_estimate(fixture):
    from transcript_qa.evaluation import bootstrap_headline, headline

    g, p = fixture
    gs, ps = g * 10, p * 10  # 20 calls: half right on outcome, half wrong
    point = headline(evaluate(gs, ps))
    ci = bootstrap_headline(gs, ps, n=200, seed=1)
    assert set(ci) == set(point)
    for k, (lo, hi) in ci.items():
        assert lo <= hi
    lo, hi = ci["stage_accuracy"]
    assert lo < point["stage_accuracy"] < hi  # stage accuracy differs between the two calls: the interval is wide
    assert bootstrap_headline(gs, ps, n=200, seed=1) == ci  # seeded: reproducible
    # a perfect prediction has no spread
    perfect = [pred(x["call_id"], [t["stage"] for t in x["turns"]], x["outcome"], x["resolution_turn"],
                    {i: (t["offer"]["kind"], t["offer"]["response"]) for i, t in enumerate(x["turns"]) if "offer" in t},
                    x["offer_timing"], tuple(x["soft_skills"][s] for s in SK)) for x in gs]
    ci = bootstrap_headline(gs, perfect, n=50)
    assert ci["stage_accuracy"] == (1.0, 1.0) and ci["soft_skill_mae"] == (0.0, 0.0)
