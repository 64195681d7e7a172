"""scripts/ship_check.py: the shipping rule (dev, real-call guard, file sizes) in one command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HV = ROOT / "tests" / "fixtures" / "harper_valley" / "transcript"


@pytest.fixture(scope="module")
def ship_check(load_script):
    return load_script("scripts/ship_check.py")


@pytest.fixture
def candidate(tiny_model, tmp_path):
    """A copy of the tiny model whose metrics.json (where training writes the test numbers) is
    unreadable: the check must not need it."""
    out = tmp_path / "candidate"
    shutil.copytree(tiny_model, out)
    (out / "metrics.json").write_text("{ not json: the check never reads test numbers")
    return out


def _args(candidate, shipped, dev, *extra):
    return ["--candidate", str(candidate), "--shipped", str(shipped), "--dev", str(dev), "--real-calls", str(HV),
            *extra]


def test_same_model_passes_a_rule_it_can_meet(ship_check, candidate, tiny_model, small_split, tmp_path, capsys):
    out = tmp_path / "check.json"
    rc = ship_check.main(_args(candidate, tiny_model, small_split / "dev.jsonl", "--min-resolved", "0",
                               "--max-offers", "1000", "--min-stage-agreement", "0", "--json", str(out)))
    r = json.loads(out.read_text())
    assert rc == 0 and r["ship"] and "verdict: ship" in capsys.readouterr().out
    c = r["checks"]
    # the same heads on the same dev calls: the same score, so the dev check passes with any margin >= 0
    assert c["dev"]["candidate"] == c["dev"]["shipped"] and 0 < c["dev"]["candidate"] <= 1
    assert c["real_calls_resolved"]["of"] == 3 and c["real_calls_offers_flagged"]["value"] >= 0
    assert c["file_sizes"]["largest_mb"] > 0 and not c["file_sizes"]["over_limit"]


@pytest.mark.parametrize("extra, failing", [
    (["--min-resolved", "4"], "real_calls_resolved"),  # 3 real calls in the fixture folder
    (["--max-file-mb", "0.0001"], "file_sizes"),
    (["--min-stage-agreement", "1.01"], "real_calls_stage_agreement"),
    (["--dev-margin", "-0.5"], "dev"),  # must beat the shipped model by 0.5: impossible
])
def test_one_failed_check_stops_the_ship(ship_check, candidate, tiny_model, small_split, tmp_path, capsys, extra,
                                         failing):
    out = tmp_path / "check.json"
    base = ["--min-resolved", "0", "--max-offers", "1000", "--min-stage-agreement", "0"]
    rc = ship_check.main(_args(candidate, tiny_model, small_split / "dev.jsonl", *base, *extra, "--json", str(out)))
    r = json.loads(out.read_text())
    assert rc == 1 and not r["ship"] and "verdict: do not ship" in capsys.readouterr().out
    assert [k for k, c in r["checks"].items() if not c["pass"]] == [failing]


def test_a_folder_that_is_not_a_model_is_refused_by_name(ship_check, tiny_model, small_split, tmp_path):
    with pytest.raises(SystemExit, match="not a model folder"):
        ship_check.main(_args(tmp_path, tiny_model, small_split / "dev.jsonl"))


def test_reports_the_real_turns_nearest_the_offer_threshold(ship_check, load_script, tiny_model, small_split, tmp_path):
    from transcript_qa import Analyzer
    from transcript_qa.sources import iter_calls
    from transcript_qa.transcript import Call

    an = Analyzer.load(tiny_model, device="cpu", dtype="fp32")
    calls = [c for c in iter_calls(HV) if isinstance(c, Call)]
    top = load_script("benchmarks/harper_valley.py").highest_offer_turns(an, calls, an.encode_calls(calls), n=4)
    agent_turns = {(c.id, i) for c in calls for i, t in enumerate(c.turns) if t.role.value == "agent"}
    assert len(top) == 4 and all((cid, turn) in agent_turns for cid, turn, _, _ in top)
    probs = [p for _, _, p, _ in top]
    assert probs == sorted(probs, reverse=True) and all(0 < p <= 1 for p in probs)
    # the most likely turn is the one the model itself would flag first, at its own threshold
    flagged = [o.confidence for r in an.analyze_many(calls) for o in r.offers]
    assert not flagged or abs(max(flagged) - probs[0]) < 1e-3
    assert (probs[0] >= an.decode.offer_threshold) == bool(flagged)
    assert an.decode.offer_threshold > 1e-9  # the caller's analyzer is unchanged
    out = tmp_path / "check.json"
    ship_check.main(_args(tiny_model, tiny_model, small_split / "dev.jsonl", "--json", str(out)))
    r = json.loads(out.read_text())
    assert len(r["real_calls_highest_offer_probability"]) == 3 and r["offer_threshold"] == an.decode.offer_threshold
