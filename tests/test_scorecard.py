"""The QA scorecard: the default rubric, hand-computed totals, evidence, team rubrics, bad rubrics."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from transcript_qa.labels import SKILLS
from transcript_qa.scorecard import Scorecard, ScorecardError

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("transcript-qa")
if not EXE.exists():
    EXE = ROOT / ".venv" / "bin" / "transcript-qa"

# a hand-made analysis of an 8-turn call:
#   t0 opening | t1-t2 verification | t3 discovery | t4-t5 resolution (resolved at t5) | t6 offer | t7 closing
STAGE_SPANS = [("opening", 0, 0), ("verification", 1, 2), ("discovery", 3, 3), ("resolution", 4, 5),
               ("offer", 6, 6), ("closing", 7, 7)]


def tid(i: int) -> str:
    return f"c1:t{i:04d}"


def result(outcome="resolved", skills=5, stages=("opening", "verification", "discovery", "resolution", "closing"),
           offer_turn: int | None = 6, offer_timing: str | None = None, resolution_turn: int | None = 5) -> dict:
    scores = dict(zip(SKILLS, skills)) if isinstance(skills, (list, tuple)) else {s: skills for s in SKILLS}
    offers = [] if offer_turn is None else [
        {"turn": offer_turn, "turn_id": tid(offer_turn), "kind": "upsell", "response": "declined", "confidence": 0.9}]
    if offer_timing is None:
        offer_timing = ("none" if offer_turn is None else "no_resolution" if outcome != "resolved"
                        else "before_resolution" if offer_turn < resolution_turn else "after_resolution")
    return {
        "call_id": "c1", "source": "c1.json", "metadata": {},
        "turns": [{"index": i, "id": tid(i), "role": "agent" if i % 2 == 0 else "customer", "stage": "x",
                   "stage_confidence": 0.9} for i in range(8)],
        "stages": [{"stage": s, "start_turn": a, "end_turn": b} for s, a, b in STAGE_SPANS if s in stages],
        "outcome": outcome, "outcome_confidence": 0.8,
        "resolution_turn": resolution_turn if outcome == "resolved" else None,
        "offers": offers, "offer_timing": offer_timing,
        "soft_skills": {s: {"score": scores[s], "value": float(scores[s]), "evidence": [tid(k), tid(k + 2)],
                            "note": ""} for k, s in enumerate(SKILLS)},
        "model": {"name": "m", "version": "1", "encoder": ""},
    }


def rows(score: dict) -> dict[str, dict]:
    return {r["id"]: r for r in score["breakdown"]}


# ---- the default rubric -------------------------------------------------------------------------
def test_default_rubric_loads_and_weights_sum_to_100():
    card = Scorecard.default()
    assert card.name == "service-first"
    assert sum(c.weight for c in card.criteria) == 100
    w = {c.id: c.weight for c in card.criteria}
    assert w == {"resolution": 30, "empathy": 10, "courtesy": 10, "active_listening": 10, "ownership": 10,
                 "clarity": 10, "greeting": 5, "verification": 5, "closing": 5, "offer_timing": 5}
    assert {c.skill for c in card.criteria if c.kind == "soft_skill"} == set(SKILLS)


def test_perfect_call_with_offer_after_resolution_scores_100():
    s = Scorecard.default().score(result(offer_turn=6))
    # 100 * (30*1 + 5 skills*10*1 + 3 stages*5*1 + 5*1) / 100
    assert s["total"] == 100.0
    assert s["scorecard"] == "service-first"
    assert rows(s)["offer_timing"]["value"] == 1.0 and rows(s)["offer_timing"]["points"] == 5.0


def test_offer_before_resolution_costs_the_offer_weight_twice():
    s = Scorecard.default().score(result(offer_turn=3))
    # offer_timing value -1 with weight 5: 100 * (30 + 50 + 15 - 5) / 100
    assert s["total"] == pytest.approx(100 * (30 * 1 + 50 * 1 + 15 * 1 + 5 * -1) / 100) == 90.0
    r = rows(s)["offer_timing"]
    assert (r["value"], r["points"], r["weight"]) == (-1.0, -5.0, 5.0)


def test_no_offer_is_not_applicable_and_the_total_renormalises_over_95():
    card = Scorecard.default()
    s = card.score(result(skills=3, offer_turn=None))
    r = rows(s)["offer_timing"]
    assert r["value"] is None and r["points"] is None
    # skills 3 -> (3-1)/4 = 0.5; applicable weight is 95, not 100
    expected = 100 * (30 * 1 + 5 * 10 * 0.5 + 3 * 5 * 1) / 95
    assert s["total"] == pytest.approx(expected, abs=0.005) == pytest.approx(73.68, abs=0.005)
    # the same call with an offer after resolution is scored over 100
    assert card.score(result(skills=3, offer_turn=6))["total"] == pytest.approx(100 * (30 + 25 + 15 + 5) / 100)


def test_mixed_call_hand_computed():
    # escalated (0.5), skills 5,4,3,2,1 -> 1, .75, .5, .25, 0; no verification stage; offer with no resolution (-0.5)
    r = result(outcome="escalated", skills=[5, 4, 3, 2, 1], stages=("opening", "discovery", "closing"), offer_turn=4)
    assert r["offer_timing"] == "no_resolution"
    s = Scorecard.default().score(r)
    expected = 100 * (30 * 0.5 + 10 * (1 + 0.75 + 0.5 + 0.25 + 0) + 5 * 1 + 5 * 0 + 5 * 1 + 5 * -0.5) / 100
    assert s["total"] == pytest.approx(expected) == 47.5
    b = rows(s)
    assert b["verification"]["value"] == 0.0 and b["verification"]["evidence"] == []
    assert b["ownership"]["value"] == 0.25 and b["ownership"]["points"] == 2.5


def test_total_is_clipped_at_zero():
    r = result(outcome="unresolved", skills=1, stages=(), offer_turn=3, offer_timing="before_resolution")
    s = Scorecard.default().score(r)
    assert sum(x["points"] for x in s["breakdown"] if x["points"] is not None) == -5.0
    assert s["total"] == 0.0


def test_breakdown_lists_evidence_turn_ids():
    s = Scorecard.default().score(result(offer_turn=6))
    b = rows(s)
    assert b["resolution"]["evidence"] == [tid(5)]  # the resolution turn
    for k, skill in enumerate(SKILLS):
        assert b[skill]["evidence"] == [tid(k), tid(k + 2)]  # the skill's evidence turns
    assert b["greeting"]["evidence"] == [tid(0)]  # first turn of each stage span
    assert b["verification"]["evidence"] == [tid(1)]
    assert b["closing"]["evidence"] == [tid(7)]
    assert b["offer_timing"]["evidence"] == [tid(6), tid(5)]  # the offer and the resolution it came after
    assert [x["id"] for x in s["breakdown"]] == [c.id for c in Scorecard.default().criteria]
    # an unresolved call has no resolution turn to point to
    assert rows(Scorecard.default().score(result(outcome="unresolved")))["resolution"]["evidence"] == []


# ---- a team rubric ------------------------------------------------------------------------------
SALES_YAML = """\
# a sales team: offers count a lot, even before resolution
name: sales-team
version: 2
criteria:
  - id: resolution
    kind: outcome
    weight: 20
    values: {resolved: 1, escalated: 0.25, unresolved: 0}
  - id: empathy
    kind: soft_skill
    skill: empathy
    weight: 10
  - id: clarity
    kind: soft_skill
    skill: clarity
    weight: 10
  - id: wrap_up
    kind: stage_present
    stage: closing
    weight: 10
  - id: offer
    kind: offer_timing
    weight: 50
    values: {after_resolution: 1, before_resolution: 0.5, no_resolution: 0.25, none: 0}
"""


def test_team_rubric_from_yaml_scores_differently(tmp_path):
    path = tmp_path / "sales.yaml"
    path.write_text(SALES_YAML, encoding="utf-8")
    team, default = Scorecard.from_yaml(path), Scorecard.default()
    assert team.name == "sales-team" and team.version == 2
    assert [c.id for c in team.criteria] == ["resolution", "empathy", "clarity", "wrap_up", "offer"]

    before = result(skills=[5, 4, 3, 2, 1], offer_turn=3)  # empathy 5 -> 1.0, clarity 1 -> 0.0
    s = team.score(before)
    assert s["scorecard"] == "sales-team"
    assert s["total"] == pytest.approx(100 * (20 * 1 + 10 * 1 + 10 * 0 + 10 * 1 + 50 * 0.5) / 100) == 65.0
    assert rows(s)["clarity"]["evidence"] == [tid(4), tid(6)]
    # a perfect call with an early offer: penalised by the default rubric, still credited by the team's
    early = result(offer_turn=3)
    assert default.score(early)["total"] == 90.0
    assert team.score(early)["total"] == pytest.approx(100 * (20 + 10 + 10 + 10 + 50 * 0.5) / 100) == 75.0
    # no offer: neutral (renormalised) for the default rubric, a zero for the sales team
    none = result(offer_turn=None)
    assert default.score(none)["total"] == 100.0
    assert team.score(none)["total"] == pytest.approx(100 * (20 + 10 + 10 + 10 + 0) / 100) == 50.0
    assert rows(team.score(none))["offer"]["value"] == 0.0


# ---- bad rubrics --------------------------------------------------------------------------------
def rubric(*criteria: str) -> str:
    return "name: bad\ncriteria:\n" + "".join(criteria)


OUTCOME_30 = "  - id: resolution\n    kind: outcome\n    weight: 30\n    values: {resolved: 1, escalated: 0.5, unresolved: 0}\n"
SKILLS_50 = "".join(f"  - id: {s}\n    kind: soft_skill\n    skill: {s}\n    weight: 10\n" for s in SKILLS)
STAGES_20 = "  - id: greeting\n    kind: stage_present\n    stage: opening\n    weight: 20\n"


@pytest.mark.parametrize("text, messages", [
    (rubric(OUTCOME_30, SKILLS_50, "  - id: nps\n    kind: nps\n    weight: 20\n"),
     ["criterion 'nps'", "unknown criterion kind 'nps'", "known kinds: outcome, soft_skill"]),
    (rubric(OUTCOME_30, SKILLS_50.replace("skill: clarity", "skill: humour")),
     ["criterion 'clarity'", "unknown skill 'humour'", "empathy"]),
    (rubric(OUTCOME_30, SKILLS_50, STAGES_20.replace("stage: opening", "stage: farewell")),
     ["criterion 'greeting'", "unknown stage 'farewell'", "opening"]),
    (rubric(OUTCOME_30, SKILLS_50, STAGES_20.replace("weight: 20", "weight: 15")),
     ["weights sum to 95, not 100"]),
    (rubric(OUTCOME_30.replace("escalated: 0.5, ", ""), SKILLS_50, STAGES_20),
     ["criterion 'resolution'", "'values' must give each of resolved, escalated, unresolved", "missing ['escalated']"]),
    (rubric(OUTCOME_30.replace("unresolved: 0", "unresolved: 0, lost: -1"), SKILLS_50, STAGES_20),
     ["unknown ['lost']"]),
    (rubric(OUTCOME_30.replace("escalated: 0.5", "escalated: 5"), SKILLS_50, STAGES_20),
     ["value for 'escalated' must be a number in [-1, 1]"]),
    (rubric(OUTCOME_30, SKILLS_50.replace("id: courtesy", "id: empathy"), STAGES_20),
     ["criterion 'empathy'", "duplicate id"]),
    (rubric(OUTCOME_30.replace("weight: 30", "weight: lots"), SKILLS_50, STAGES_20),
     ["'weight' must be a number >= 0, got 'lots'"]),
    ("name: bad\ncriteria: []\n", ["non-empty 'criteria' list"]),
])
def test_bad_rubrics_give_clear_errors(tmp_path, text, messages):
    path = tmp_path / "team.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScorecardError) as e:
        Scorecard.from_yaml(path)
    msg = str(e.value)
    assert msg.startswith(str(path)), msg
    for m in messages:
        assert m in msg, (m, msg)


def test_the_good_rubric_the_bad_ones_are_made_from_is_valid():
    card = Scorecard.from_text(rubric(OUTCOME_30, SKILLS_50, STAGES_20), "ok.yaml")
    assert card.name == "bad" and len(card.criteria) == 7


def test_invalid_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ncriteria:\n  - id: a\n    kind: outcome\n   weight: 30\n", encoding="utf-8")
    with pytest.raises(ScorecardError, match=re.escape(f"{path}:5: invalid YAML")):
        Scorecard.from_yaml(path)
    path.write_text("name: x\ncriteria:\n  - id: a\n\tkind: outcome\n", encoding="utf-8")
    with pytest.raises(ScorecardError, match=re.escape(f"{path}:4: invalid YAML")):
        Scorecard.from_yaml(path)


def test_unreadable_rubrics_are_scorecard_errors(tmp_path):
    with pytest.raises(ScorecardError, match="no such file"):
        Scorecard.from_yaml(tmp_path / "missing.yaml")
    with pytest.raises(ScorecardError, match=re.escape(f"{tmp_path}: cannot read")):
        Scorecard.from_yaml(tmp_path)  # a folder
    bad = tmp_path / "latin.yaml"
    bad.write_bytes("name: équipe\n".encode("latin-1"))
    with pytest.raises(ScorecardError, match="cannot read"):
        Scorecard.from_yaml(bad)
    with pytest.raises(ScorecardError, match=r"ctl\.yaml:2: invalid YAML"):
        Scorecard.from_text("name: x\ncriteria: \x07\n", "ctl.yaml")  # a control character (yaml ReaderError)


def test_cli_bad_scorecard_exits_2_with_the_message(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(rubric(OUTCOME_30, SKILLS_50, STAGES_20.replace("weight: 20", "weight: 15")), encoding="utf-8")
    src = tmp_path / "call.txt"
    src.write_text("Agent: Hello, how can I help?\nCustomer: My card is blocked.\n", encoding="utf-8")
    out = tmp_path / "r.jsonl"
    env = {**os.environ, "COLUMNS": "250"}
    proc = subprocess.run([str(EXE), "analyze", str(src), "--out", str(out), "--scorecard", str(path), "--quiet"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2, proc.stderr
    err = " ".join(re.sub(r"[│╭╮╰╯─]", " ", proc.stderr).split())
    assert "--scorecard" in err and "weights sum to 95, not 100" in err and "bad.yaml" in err
    assert not out.exists()
