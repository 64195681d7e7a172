"""The QA manager's report: numbers against a hand computation, self-contained HTML, the CLI, a real render."""

from __future__ import annotations

import csv
import json
import math
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from transcript_qa.cli import app
from transcript_qa.labels import SKILLS, derive_offer_timing
from transcript_qa.report import UNKNOWN, build_report, compute_stats, iter_results, load_texts, wilson
from transcript_qa.scorecard import Scorecard

CHROMIUM = "/usr/bin/chromium"


def make_result(call_id: str, agent: str | None = None, team: str | None = None, *, outcome: str = "resolved",
                resolution_turn: int | None = None, offers: list[tuple[int, str]] = (), skills: dict | None = None,
                qa: float | None = 50.0, n_turns: int = 10, breakdown: list[dict] | None = None) -> dict:
    """A minimal valid result line. offers: (turn, response); offer_timing derived as the spec says."""
    meta = {}
    if agent is not None:
        meta["agent_id"] = agent
    if team is not None:
        meta["team"] = team
    turns = [{"index": i, "id": f"{call_id}:t{i:04d}", "role": "agent" if i % 2 == 0 else "customer",
              "stage": "discovery", "stage_confidence": 0.9} for i in range(n_turns)]
    sk = {s: 3 for s in SKILLS} | (skills or {})
    d = {
        "call_id": call_id, "source": f"calls.jsonl:{call_id}", "metadata": meta, "turns": turns,
        "stages": [{"stage": "discovery", "start_turn": 0, "end_turn": n_turns - 1}],
        "outcome": outcome, "outcome_confidence": 0.9, "resolution_turn": resolution_turn,
        "offers": [{"turn": t, "turn_id": f"{call_id}:t{t:04d}", "kind": "upsell", "response": r, "confidence": 0.8}
                   for t, r in offers],
        "offer_timing": derive_offer_timing([t for t, _ in offers], outcome, resolution_turn),
        "soft_skills": {s: {"score": v, "value": float(v), "evidence": [f"{call_id}:t0002"], "note": ""}
                        for s, v in sk.items()},
        "model": {"name": "test", "version": "0", "encoder": ""},
    }
    if qa is not None:
        d["qa_score"] = {"total": qa, "scorecard": "service-first", "breakdown": breakdown or []}
    return d


def fixture() -> list[dict]:
    """8 calls: a1 (T1) x4, a2 (T1) x2, a3 (T2) x1, one with no metadata."""
    return [
        make_result("c1", "a1", "T1", resolution_turn=4, offers=[(6, "accepted")], qa=90,
                    skills={"empathy": 5, "clarity": 4}),
        make_result("c2", "a1", "T1", resolution_turn=5, offers=[(2, "declined")], qa=60,
                    skills={"empathy": 3, "clarity": 2}),
        make_result("c3", "a1", "T1", outcome="unresolved", qa=30, skills={"empathy": 2, "clarity": 2},
                    breakdown=[{"id": "resolution", "weight": 30, "value": 0.0, "points": 0.0, "evidence": []},
                               {"id": "empathy", "weight": 10, "value": 0.25, "points": 2.5,
                                "evidence": ["c3:t0002", "c3:t0004"]},
                               {"id": "courtesy", "weight": 10, "value": 1.0, "points": 10.0, "evidence": []},
                               {"id": "offer_timing", "weight": 5, "value": None, "points": None, "evidence": []}]),
        make_result("c4", "a1", "T1", resolution_turn=3, offers=[(7, "declined"), (5, "accepted")], qa=85,
                    skills={"empathy": 4, "clarity": 5}),
        make_result("c5", "a2", "T1", outcome="escalated", offers=[(3, "declined")], qa=40,
                    skills={"empathy": 1}),
        make_result("c6", "a2", "T1", resolution_turn=6, offers=[(2, "accepted"), (8, "declined")], qa=70,
                    skills={"empathy": 4}),
        make_result("c7", "a3", "T2", resolution_turn=4, offers=[(8, "deferred")], qa=75),
        make_result("c8", outcome="unresolved", qa=20),
    ]


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {r["name"]: r for r in rows}


# ------------------------------------------------------------------------------------------ numbers

def test_wilson_closed_form():
    lo, hi = wilson(3, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.1078, 0.6032)
    assert wilson(0, 0) is None
    lo, hi = wilson(0, 5)
    assert lo == 0.0 and hi == pytest.approx(0.4345, abs=1e-4)
    lo, hi = wilson(5, 5)
    assert hi == 1.0 and lo == pytest.approx(0.5655, abs=1e-4)
    # the formula written out once more: centre +- half, over 1 + z^2/n
    z, k, n = 1.959963984540054, 2, 2
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert wilson(2, 2) == pytest.approx((c - h, min(1.0, c + h)))
    assert round(c - h, 4) == 0.3424


def test_per_agent_numbers():
    s = compute_stats(fixture(), min_sample=2, lowest=3)
    agents = by_name(s["agents"])
    assert list(agents) == ["a1", "a2", "a3", UNKNOWN]  # (unknown) last
    a1, a2, a3, unk = agents["a1"], agents["a2"], agents["a3"], agents[UNKNOWN]
    assert (a1["calls"], a2["calls"], a3["calls"], unk["calls"]) == (4, 2, 1, 1)
    assert a1["team"] == "T1" and unk["team"] == UNKNOWN
    assert a1["resolution"]["rate"] == 0.75 and a2["resolution"]["rate"] == 0.5 and unk["resolution"]["rate"] == 0
    assert a1["offer_rate"]["k"] == 3 and a1["offer_rate"]["rate"] == 0.75
    assert a2["offer_rate"]["rate"] == 1.0 and unk["offer_rate"]["rate"] == 0
    assert a1["timing"] == {"none": 1, "before_resolution": 1, "after_resolution": 2, "no_resolution": 0}
    assert a2["timing"] == {"none": 0, "before_resolution": 1, "after_resolution": 0, "no_resolution": 1}
    # acceptance of the FIRST offer (by turn): c4's first is t5 accepted, c6's first is t2 accepted
    acc = a1["acceptance"]
    assert (acc["before_resolution"]["k"], acc["before_resolution"]["n"]) == (0, 1)
    assert (acc["after_resolution"]["k"], acc["after_resolution"]["n"]) == (2, 2)
    assert acc["after_resolution"]["rate"] == 1.0
    assert acc["after_resolution"]["lo"] == pytest.approx(0.3424, abs=1e-4)
    assert acc["after_resolution"]["hi"] == pytest.approx(1.0)
    assert acc["before_resolution"]["small"] is True and acc["after_resolution"]["small"] is False
    assert (a2["acceptance"]["before_resolution"]["k"], a2["acceptance"]["before_resolution"]["n"]) == (1, 1)
    empty = a2["acceptance"]["after_resolution"]
    assert empty["n"] == 0 and empty["rate"] is None and empty["lo"] is None and empty["small"] is True
    # mean skills
    assert a1["skills"]["empathy"] == pytest.approx((5 + 3 + 2 + 4) / 4)
    assert a1["skills"]["clarity"] == pytest.approx((4 + 2 + 2 + 5) / 4)
    assert a1["skills"]["courtesy"] == 3
    assert a2["skills"]["empathy"] == pytest.approx(2.5)
    assert a1["qa"]["mean"] == pytest.approx((90 + 60 + 30 + 85) / 4)
    assert a1["qa"]["median"] == pytest.approx(72.5)


def test_overall_and_team_numbers():
    s = compute_stats(fixture(), min_sample=10)
    o = s["overall"]
    assert o["calls"] == 8 and o["agents"] == 4
    assert o["outcomes"] == {"resolved": 5, "escalated": 1, "unresolved": 2}
    assert o["resolution"]["rate"] == 5 / 8
    assert o["offer_rate"]["k"] == 6 and o["offer_rate"]["rate"] == 0.75
    acc = o["acceptance"]
    assert (acc["before_resolution"]["k"], acc["before_resolution"]["n"]) == (1, 2)  # c2 declined, c6 accepted
    assert (acc["after_resolution"]["k"], acc["after_resolution"]["n"]) == (2, 3)  # c1, c4 accepted; c7 deferred
    assert (acc["no_resolution"]["k"], acc["no_resolution"]["n"]) == (0, 1)
    lo, hi = wilson(2, 3)
    assert (acc["after_resolution"]["lo"], acc["after_resolution"]["hi"]) == (lo, hi)
    assert all(acc[t]["small"] for t in acc)  # n < 10 everywhere
    assert o["qa"]["mean"] == pytest.approx(470 / 8) and o["qa"]["median"] == pytest.approx(65)
    assert o["qa"]["histogram"] == [0, 0, 1, 1, 1, 0, 1, 2, 1, 1]  # 20 30 40 | 60 70 75 85 90
    teams = by_name(s["teams"])
    assert list(teams) == ["T1", "T2", UNKNOWN]
    assert teams["T1"]["calls"] == 6 and teams["T1"]["agents"] == 2
    assert teams["T1"]["resolution"]["k"] == 4
    assert teams["T1"]["timing"]["before_resolution"] == 2


def test_lowest_order_and_evidence():
    s = compute_stats(fixture(), lowest=3)
    assert [c["call_id"] for c in s["lowest"]] == ["c8", "c3", "c5"]
    assert s["lowest"][0]["agent"] == UNKNOWN
    c3 = s["lowest"][1]
    # criteria sorted by points lost; n/a last
    assert [c["id"] for c in c3["criteria"]] == ["resolution", "empathy", "courtesy", "offer_timing"]
    emp = c3["criteria"][1]
    assert emp["lost"] == 7.5
    assert [(x["id"], x["index"], x["role"]) for x in emp["evidence"]] == [("c3:t0002", 2, "agent"),
                                                                           ("c3:t0004", 4, "agent")]
    assert compute_stats(fixture(), lowest=0)["lowest"] == []
    assert compute_stats(fixture(), lowest=0)["overall"]["calls"] == 8  # still reads every call
    # ties broken by call id; calls without a QA score are not ranked
    rs = [make_result("b", "x", qa=10), make_result("a", "x", qa=10), make_result("z", "x", qa=None)]
    s = compute_stats(rs, lowest=5)
    assert [c["call_id"] for c in s["lowest"]] == ["a", "b"]
    assert s["overall"]["qa"]["n"] == 2 and s["overall"]["calls"] == 3


def test_agent_table_and_csv(tmp_path):
    rep = build_report(fixture(), min_sample=2, charts=False)
    rows = {r["agent_id"]: r for r in rep.agent_table()}
    assert rows["a1"]["calls"] == 4 and rows["a1"]["resolution_rate"] == 0.75
    assert rows["a1"]["accept_after_rate"] == 1.0 and rows["a1"]["accept_after_lo"] == 0.3424
    assert rows["a1"]["accept_before_small_sample"] is True
    assert rows["a2"]["accept_after_rate"] is None
    rep.write_csv(tmp_path / "agents.csv")
    with open(tmp_path / "agents.csv", newline="") as fh:
        got = list(csv.DictReader(fh))
    assert [r["agent_id"] for r in got] == ["a1", "a2", "a3", UNKNOWN]
    assert got[0]["offer_rate"] == "0.75" and got[1]["accept_after_rate"] == ""


# ------------------------------------------------------------------------------------------ HTML

def external_refs(page: str) -> list[str]:
    bad = re.findall(r"https?://[^\s\"'<>)]*", page)
    bad += re.findall(r"<script[^>]+src\s*=", page, re.I) + re.findall(r"<link\b", page, re.I)
    bad += re.findall(r"@import|url\(\s*['\"]?(?!data:)", page, re.I)
    return bad


def test_html_self_contained_and_escaped():
    rs = fixture()
    rs[0]["metadata"]["agent_id"] = "<b>a&1</b>"
    rs[3]["metadata"]["agent_id"] = "<b>a&1</b>"
    page = build_report(rs, title="Q3 <review>", lowest=3).html()
    assert page.startswith("<!DOCTYPE html>")
    assert external_refs(page) == []
    assert "&lt;b&gt;a&amp;1&lt;/b&gt;" in page and "<b>a&1</b>" not in page
    assert "Q3 &lt;review&gt;" in page
    for a in ("a2", "a3", "(unknown)", "c8", "c3:t0004"):
        assert a in page
    assert page.count("data:image/png;base64,") == 4
    assert "small sample" in page
    assert "document.body.dataset.ok='1'" in page


def test_html_texts_and_empty():
    texts = {"c3": [f"turn {i} <text>" for i in range(10)]}
    page = build_report(fixture(), lowest=3, texts=texts, charts=False).html()
    assert "turn 4 &lt;text&gt;" in page and "turn 2 &lt;text&gt;" in page
    empty = build_report([], charts=False).html()
    assert "No calls to report" in empty and external_refs(empty) == []


def test_iter_results_skips_bad_lines(tmp_path):
    p = tmp_path / "r.jsonl"
    good = fixture()[:2]
    p.write_text(json.dumps(good[0]) + "\n[1, 2]\n\n" + json.dumps({"call_id": "x"}) + "\n"
                 + json.dumps(good[0]) + "\n" + json.dumps(good[1]) + "\n" + json.dumps(good[1])[:40])
    problems: list[str] = []
    got = list(iter_results(p, problems))
    assert [r["call_id"] for r in got] == ["c1", "c2"]
    assert [q.split(": skipped")[0] for q in problems] == [f"{p}:2", f"{p}:4", f"{p}:5", f"{p}:7"]
    assert "torn" in problems[-1] and "repeated" in problems[2]


def test_load_texts(tmp_path):
    p = tmp_path / "calls.jsonl"
    p.write_text(json.dumps({"call_id": "c3", "turns": [{"speaker": "agent", "text": "hi"}]}) + "\n"
                 + json.dumps({"call_id": "c9", "turns": [{"speaker": "agent", "text": "no"}]}) + "\nnot json\n")
    problems: list[str] = []
    assert load_texts(p, ids=["c3"], problems=problems) == {"c3": ["hi"]}
    assert len(problems) == 1 and ":3:" in problems[0]


# ------------------------------------------------------------------------------------------ CLI

def write_jsonl(path: Path, rows: list[dict], tail: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail, encoding="utf-8")
    return path


def test_cli_writes_refuses_and_csv(tmp_path):
    res = write_jsonl(tmp_path / "results.jsonl", fixture(), tail='{"call_id": "torn"')
    out, agents = tmp_path / "report.html", tmp_path / "agents.csv"
    calls = write_jsonl(tmp_path / "calls.jsonl",
                        [{"call_id": "c3", "turns": [{"speaker": "agent", "text": f"c3 says {i}"} for i in range(10)]}])
    runner = CliRunner()
    r = runner.invoke(app, ["report", str(res), "--out", str(out), "--csv", str(agents), "--min-sample", "2",
                            "--title", "Weekly QA", "--calls", str(calls)])
    assert r.exit_code == 0, r.output
    page = out.read_text()
    assert "Weekly QA" in page and "a1" in page and "c3 says 4" in page
    assert f"{res}:9: skipped: invalid JSON (torn last line?)" in r.stderr
    with open(agents, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [x["agent_id"] for x in rows] == ["a1", "a2", "a3", UNKNOWN] and rows[0]["calls"] == "4"
    # refuses to overwrite either file without --force
    before = out.read_text()
    r = runner.invoke(app, ["report", str(res), "--out", str(out)])
    assert r.exit_code == 2 and "--force" in r.output
    assert out.read_text() == before
    other = tmp_path / "other.html"
    r = runner.invoke(app, ["report", str(res), "--out", str(other), "--csv", str(agents)])
    assert r.exit_code == 2 and not other.exists()
    r = runner.invoke(app, ["report", str(res), "--out", str(out), "--csv", str(agents), "--force"])
    assert r.exit_code == 0, r.output


def test_cli_bad_inputs(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["report", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o.html")])
    assert r.exit_code == 2
    flat = tmp_path / "results.csv"
    flat.write_text("call_id\nc1\n")
    r = runner.invoke(app, ["report", str(flat), "--out", str(tmp_path / "o.html")])
    assert r.exit_code == 2 and "JSONL" in r.output
    junk = tmp_path / "junk.jsonl"
    junk.write_text("not json\n")
    r = runner.invoke(app, ["report", str(junk), "--out", str(tmp_path / "o.html")])
    assert r.exit_code == 1 and not (tmp_path / "o.html").exists()
    assert f"{junk}:1: skipped" in r.stderr


# ------------------------------------------------------------------------------------------ realistic render

TEAMS = {"cards": ["bank-a01", "bank-a02", "bank-a03"], "mortgages": ["bank-m01", "bank-m02"]}


def synthetic_results(n: int = 40, seed: int = 8) -> list[dict]:
    """Plausible results: 5 agents in 2 teams, offers before/after resolution, scored by the default rubric."""
    rng = random.Random(seed)
    card = Scorecard.default()
    agents = [(a, t) for t, names in TEAMS.items() for a in names]
    skill_bias = {"bank-a01": 0.6, "bank-a02": 0.0, "bank-a03": -0.8, "bank-m01": 0.3, "bank-m02": -0.3}
    out = []
    for i in range(n):
        agent, team = agents[i % len(agents)] if i < 10 else rng.choice(agents)
        cid = f"{team[:4]}-{i:03d}"
        n_turns = rng.randint(14, 34)
        outcome = rng.choices(["resolved", "escalated", "unresolved"], [0.7, 0.15, 0.15])[0]
        rt = rng.randint(n_turns // 2, n_turns - 4) if outcome == "resolved" else None
        offers = []
        if rng.random() < 0.55:
            if rt is not None and rng.random() < (0.6 if skill_bias[agent] >= 0 else 0.3):
                t = rng.randint(rt + 1, n_turns - 2)
                resp = "accepted" if rng.random() < 0.55 else rng.choice(["declined", "deferred"])
            else:
                t = rng.randint(3, (rt or n_turns) - 1)
                resp = "accepted" if rng.random() < 0.2 else rng.choice(["declined", "declined", "none"])
            offers.append((t - t % 2, resp))  # agent turns are even
        skills = {s: max(1, min(5, round(rng.gauss(3.4 + skill_bias[agent], 0.9)))) for s in SKILLS}
        r = make_result(cid, agent, team, outcome=outcome, resolution_turn=rt - rt % 2 if rt else None,
                        offers=offers, skills=skills, qa=None, n_turns=n_turns)
        stages = ["opening", "verification", "discovery", "resolution", "closing"]
        if rng.random() < 0.2:
            stages.remove("verification")
        cut = [0] + sorted(rng.sample(range(2, n_turns - 1), len(stages) - 1)) + [n_turns]
        r["stages"] = [{"stage": st, "start_turn": a, "end_turn": b - 1} for st, a, b in zip(stages, cut, cut[1:])]
        for sk in r["soft_skills"].values():  # cite one or two agent turns
            sk["evidence"] = [f"{cid}:t{t:04d}" for t in sorted(rng.sample(range(0, n_turns, 2), rng.randint(1, 2)))]
        r["qa_score"] = card.score(r)
        out.append(r)
    return out


def synthetic_texts(results: list[dict]) -> dict[str, list[str]]:
    """Turn texts that fit each call: a greeting, the offer at the offer turn, the fix at the resolution turn."""
    agent = ["I'm sorry to hear that, let me check your account.", "Could you confirm the last four digits?",
             "I can see the payment was declined by the fraud filter.", "Bear with me one moment.",
             "Is there anything else I can help with?"]
    cust = ["Hi, my card was declined abroad.", "Yes, the last four are 4821.", "Okay, it went through now.",
            "Hmm, maybe, tell me more.", "That's everything, thanks."]
    out = {}
    for r in results:
        texts = [agent[(i // 2) % len(agent)] if i % 2 == 0 else cust[(i // 2) % len(cust)]
                 for i in range(len(r["turns"]))]
        texts[0] = "Good morning, Northmere Bank, you're speaking with Sam. How can I help?"
        if r["resolution_turn"] is not None:
            texts[r["resolution_turn"]] = "I've lifted the block, so the card will work again now."
        for o in r["offers"]:
            texts[o["turn"]] = "While I have you: our travel card has no foreign fees. Shall I add one?"
        texts[-1] = "Thanks for calling Northmere, have a good day."
        out[r["call_id"]] = texts
    return out


def test_synthetic_fixture_shape():
    rs = synthetic_results()
    s = compute_stats(rs, min_sample=5)
    assert s["overall"]["calls"] == 40 and len(s["agents"]) == 5 and len(s["teams"]) == 2
    assert s["overall"]["timing"]["before_resolution"] > 0 and s["overall"]["timing"]["after_resolution"] > 0


def chromium(*args: str, timeout: int = 90) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run", *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None,
                    reason="needs Chromium at /usr/bin/chromium (apt-get install chromium)")
def test_renders_in_headless_chromium(tmp_path):
    rs = synthetic_results()
    rep = build_report(rs, title="Northmere Bank — weekly QA", min_sample=5, lowest=5,
                       texts=synthetic_texts(rs))
    page = tmp_path / "report.html"
    rep.write_html(page)
    dom = chromium(f"--user-data-dir={tmp_path / 'profile1'}", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-ok="1"' in dom.stdout  # the inline script ran to its end without throwing
    for a in ("bank-a01", "bank-m02", "cards", "mortgages"):
        assert a in dom.stdout
    png = tmp_path / "report.png"
    shot = chromium(f"--user-data-dir={tmp_path / 'profile2'}", f"--screenshot={png}", "--window-size=1280,2400",
                    "--hide-scrollbars", page.as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000
