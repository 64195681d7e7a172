"""Helpers of the benchmark scripts that decide what a benchmark reports."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _r(call_id: str, outcome: str, confidence: float = 0.9):
    return SimpleNamespace(call_id=call_id, outcome=outcome, outcome_confidence=confidence)


def test_harper_valley_lists_exactly_the_calls_whose_outcome_changed(load_script):
    changes = load_script("benchmarks/harper_valley.py").outcome_changes
    after = [_r("a", "resolved"), _r("b", "unresolved", 0.9234), _r("c", "escalated")]
    before = [_r("a", "resolved"), _r("b", "resolved"), _r("c", "resolved")]
    assert changes(after, before) == [
        {"call_id": "b", "before": "resolved", "after": "unresolved", "after_confidence": 0.923},
        {"call_id": "c", "before": "resolved", "after": "escalated", "after_confidence": 0.9},
    ]
    assert changes(before, before) == []
    with pytest.raises(ValueError):
        changes(after, list(reversed(before)))


def test_wording_probe_swaps_one_turn_of_resolved_dev_calls_for_a_cue_free_paraphrase(load_script):
    import re

    from transcript_qa.features import _LEX

    probe = load_script("benchmarks/wording_probe.py")
    written, paraphrased, where = probe.load_probe(ROOT / "datasets" / "calls" / "dev.jsonl")
    assert len(written) == len(paraphrased) == 73 and all(len(w) == 1 for w in where)
    resolve = re.compile(_LEX["resolve"])
    for lc, call in zip(written, paraphrased):
        assert lc.gold["outcome"] == "resolved"
        changed = [i for i, (a, b) in enumerate(zip(lc.call.turns, call.turns)) if a.text != b.text]
        assert changed == [lc.gold["resolution_turn"]]  # exactly the resolution turn, nothing else
        i = changed[0]
        assert resolve.search(lc.call.turns[i].text.lower()) and not resolve.search(call.turns[i].text.lower())
    golds = [lc.gold for lc in written[:3]]
    preds = [SimpleNamespace(outcome="resolved", resolution_turn=golds[0]["resolution_turn"] + 2),
             SimpleNamespace(outcome="resolved", resolution_turn=golds[1]["resolution_turn"] + 3),
             SimpleNamespace(outcome="unresolved", resolution_turn=None)]
    assert probe.score(golds, preds) == {"calls": 3, "called_resolved": 2, "resolution_turn_within2": 0.3333}


def test_wording_probe_refuses_a_probe_line_that_no_longer_matches_dev(tmp_path, load_script):
    import json

    probe = load_script("benchmarks/wording_probe.py")
    line = json.loads((ROOT / "datasets" / "probes" / "resolution_paraphrases.jsonl").read_text().splitlines()[0])
    bad = tmp_path / "probe.jsonl"
    bad.write_text(json.dumps({**line, "original": line["original"] + " (edited)"}) + "\n")
    with pytest.raises(SystemExit, match=r"probe\.jsonl:1: turn"):
        probe.load_probe(ROOT / "datasets" / "calls" / "dev.jsonl", bad)


def test_offer_probe_paraphrases_only_offer_turns_and_counts_offers_found_within_one_turn(load_script):
    import re

    from transcript_qa.features import _LEX

    probe = load_script("benchmarks/wording_probe.py")
    written, paraphrased, where = probe.load_probe(ROOT / "datasets" / "calls" / "dev.jsonl", probe.PROBES["offer"])
    offer = re.compile(_LEX["offer"])
    assert sum(map(len, where)) == 83
    for lc, call, turns in zip(written, paraphrased, where):
        changed = [i for i, (a, b) in enumerate(zip(lc.call.turns, call.turns)) if a.text != b.text]
        assert changed == turns and all(lc.gold["turns"][i].get("offer") for i in turns)
        assert all(offer.search(lc.call.turns[i].text.lower()) and not offer.search(call.turns[i].text.lower())
                   for i in turns)
    preds = [SimpleNamespace(offers=[SimpleNamespace(turn=5)]), SimpleNamespace(offers=[])]
    assert probe.offers_found([[4, 7], [2]], preds) == [[True, False], [False]]
