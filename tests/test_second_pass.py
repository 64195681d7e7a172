"""scripts/second_pass.py: batches out to the second annotators, their answers checked and merged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sp(load_script):
    return load_script("scripts/second_pass.py")


@pytest.fixture
def corpus(tmp_path):
    """A small corpus: four real dev calls (two writers' ids, set here) in dev, one in train, an
    existing second pass that holds the train call."""
    rows = [json.loads(line) for line in (ROOT / "datasets" / "calls" / "dev.jsonl").read_text().splitlines()[:5]]
    for i, r in enumerate(rows):
        r["metadata"]["writer"] = "wA" if i % 2 else "wB"
    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / "train.jsonl").write_text(json.dumps(rows[0]) + "\n")
    (calls / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[1:]))
    old = {"call_id": rows[0]["call_id"], "split": "train", "outcome": rows[0]["outcome"],
           "resolution_turn": rows[0]["resolution_turn"], "confidence": "high", "reason": "kept", "offers": [],
           "offer_low_confidence_turns": []}
    second = tmp_path / "second_pass.jsonl"
    second.write_text(json.dumps(old) + "\n")
    return rows, calls, second


def _agent_turn(call):
    return next(i for i, t in enumerate(call["turns"]) if t["speaker"] == "agent")


def _customer_turn(call):
    return next(i for i, t in enumerate(call["turns"]) if t["speaker"] == "customer")


def _answers(rows, path_out, path_off, flip=None):
    """Outcome answers that agree with the writers except on ``flip``; one offer at an agent turn each."""
    out, off = [], []
    for r in rows:
        o, rt = r["outcome"], r["resolution_turn"]
        if r["call_id"] == flip:
            o, rt = ("escalated", None) if o == "resolved" else ("resolved", len(r["turns"]) - 1)
        out.append({"call_id": r["call_id"], "outcome": o, "resolution_turn": rt, "confidence": "high", "reason": "x"})
        off.append({"call_id": r["call_id"], "offers": [{"turn": _agent_turn(r), "kind": "upsell", "response": "none"}],
                    "low_confidence_turns": []})
    path_out.write_text("".join(json.dumps(a) + "\n" for a in out))
    path_off.write_text("".join(json.dumps(a) + "\n" for a in off))


def test_batches_hold_the_unannotated_calls_unlabeled(sp, corpus, tmp_path):
    rows, calls, second = corpus
    assert sp.main(["batches", "--writers", "wA,wB", "--size", "3", "--out", str(tmp_path / "b"),
                    "--calls", str(calls), "--second", str(second)]) == 0
    texts = [p.read_text() for p in sorted((tmp_path / "b").glob("batch_*.txt"))]
    assert [t.count("=== CALL ") for t in texts] == [3, 1]  # the train call is annotated already
    joined = "\n".join(texts)
    assert rows[0]["call_id"] not in joined and all(r["call_id"] in joined for r in rows[1:])
    first = rows[1]
    assert f"[0] {first['turns'][0]['speaker'].upper()}: {first['turns'][0]['text']}" in joined
    assert '"outcome"' not in joined and "stage" not in joined.lower().split("===")[0]


def test_merge_appends_both_halves_and_keeps_existing_rows(sp, corpus, tmp_path):
    rows, calls, second = corpus
    before = second.read_text()
    _answers(rows[1:], tmp_path / "o.jsonl", tmp_path / "f.jsonl", flip=rows[2]["call_id"])
    assert sp.main(["merge", "--outcome", str(tmp_path / "o.jsonl"), "--offers", str(tmp_path / "f.jsonl"),
                    "--calls", str(calls), "--second", str(second)]) == 0
    text = second.read_text()
    assert text.startswith(before)  # the old row untouched, in its place
    got = [json.loads(line) for line in text.splitlines()]
    assert [g["call_id"] for g in got] == [r["call_id"] for r in rows]
    assert all(g["split"] == "dev" for g in got[1:])
    assert got[1]["offers"] == [{"turn": _agent_turn(rows[1]), "kind": "upsell", "response": "none"}]
    assert got[2]["outcome"] != rows[2]["outcome"]
    # the disagreement goes to the adjudicator, A and B carrying both labels
    assert sp.main(["adjudication", "--writers", "wA,wB", "--out", str(tmp_path / "adj.txt"),
                    "--calls", str(calls), "--second", str(second)]) == 0
    adj = (tmp_path / "adj.txt").read_text()
    assert adj.count("=== CALL ") == 1 and rows[2]["call_id"] in adj
    assert f"outcome={rows[2]['outcome']}" in adj and f"outcome={got[2]['outcome']}" in adj
    r2 = rows[2]
    (tmp_path / "d.jsonl").write_text(json.dumps({"call_id": r2["call_id"], "outcome": r2["outcome"],
                                                  "resolution_turn": r2["resolution_turn"], "reason": "y"}) + "\n")
    assert sp.main(["merge", "--adjudicated", str(tmp_path / "d.jsonl"), "--calls", str(calls),
                    "--second", str(second)]) == 0
    row = json.loads(second.read_text().splitlines()[2])
    assert row["adjudicated"]["outcome"] == r2["outcome"] and row["outcome"] == got[2]["outcome"]
    assert row["offers"] == got[2]["offers"]
    # an adjudication is taken once, and only where the two disagree
    assert sp.main(["merge", "--adjudicated", str(tmp_path / "d.jsonl"), "--calls", str(calls),
                    "--second", str(second)]) == 1
    # and a merged call cannot be annotated again
    assert sp.main(["merge", "--outcome", str(tmp_path / "o.jsonl"), "--offers", str(tmp_path / "f.jsonl"),
                    "--calls", str(calls), "--second", str(second)]) == 1


@pytest.mark.parametrize("defect, message", [
    ("customer_offer", "customer turn, not an agent turn"),
    ("unknown_call", "is not a train or dev call"),
    ("resolved_no_turn", "needs a resolution_turn"),
    ("bad_json", "f.jsonl:2"),
    ("missing_offer_half", "but no offer answer"),
])
def test_merge_refuses_a_bad_answer_naming_file_and_line_and_writes_nothing(sp, corpus, tmp_path, capsys, defect,
                                                                            message):
    rows, calls, second = corpus
    before = second.read_text()
    o, f = tmp_path / "o.jsonl", tmp_path / "f.jsonl"
    _answers(rows[1:], o, f)
    lo, lf = o.read_text().splitlines(), f.read_text().splitlines()
    if defect == "customer_offer":
        a = json.loads(lf[1])
        a["offers"][0]["turn"] = _customer_turn(rows[2])
        lf[1] = json.dumps(a)
    elif defect == "unknown_call":
        a = json.loads(lo[0])
        a["call_id"] = "nobody-001"
        lo[0] = json.dumps(a)
    elif defect == "resolved_no_turn":
        a = json.loads(lo[2])
        a.update(outcome="resolved", resolution_turn=None)
        lo[2] = json.dumps(a)
    elif defect == "bad_json":
        lf[1] = lf[1][:-3]
    elif defect == "missing_offer_half":
        lf = lf[:-1]
    o.write_text("\n".join(lo) + "\n")
    f.write_text("\n".join(lf) + "\n")
    assert sp.main(["merge", "--outcome", str(o), "--offers", str(f), "--calls", str(calls), "--second", str(second)]) == 1
    err = capsys.readouterr().err
    assert message in err and "nothing written" in err
    assert second.read_text() == before


def test_the_shipped_second_pass_round_trips_unchanged(sp, tmp_path):
    """merge rewrites second_pass.jsonl: the file as it is must come back byte for byte."""
    from transcript_qa.labels import load_jsonl

    sp.write_second({d["call_id"]: d for d in load_jsonl(sp.SECOND)}, tmp_path / "again.jsonl")
    assert (tmp_path / "again.jsonl").read_bytes() == sp.SECOND.read_bytes()


def test_resolution_turns_more_than_two_apart_go_to_the_adjudicator(sp, corpus, tmp_path):
    """The corpus counts a disagreement as another outcome, or resolution turns more than 2 apart
    (tests/test_corpus.py checks exactly those are adjudicated), so the adjudicator's batch has both."""
    rows, calls, second = corpus
    resolved = [r for r in rows[1:] if r["outcome"] == "resolved" and r["resolution_turn"] >= 3]
    assert resolved, "the fixture needs a resolved dev call with a resolution turn of 3 or more"
    moved = resolved[0]
    o, f = tmp_path / "o.jsonl", tmp_path / "f.jsonl"
    _answers(rows[1:], o, f)
    lines = [json.loads(x) for x in o.read_text().splitlines()]
    for a in lines:
        if a["call_id"] == moved["call_id"]:
            a["resolution_turn"] = moved["resolution_turn"] - 3
    o.write_text("".join(json.dumps(a) + "\n" for a in lines))
    assert sp.main(["merge", "--outcome", str(o), "--offers", str(f), "--calls", str(calls),
                    "--second", str(second)]) == 0
    assert sp.main(["adjudication", "--writers", "wA,wB", "--out", str(tmp_path / "adj.txt"),
                    "--calls", str(calls), "--second", str(second)]) == 0
    adj = (tmp_path / "adj.txt").read_text()
    assert adj.count("=== CALL ") == 1 and moved["call_id"] in adj
    assert f"resolution_turn={moved['resolution_turn'] - 3}" in adj
    # its decision is taken in; a call two turns apart would have been refused as no disagreement
    (tmp_path / "d.jsonl").write_text(json.dumps({"call_id": moved["call_id"], "outcome": "resolved",
                                                  "resolution_turn": moved["resolution_turn"], "reason": "y"}) + "\n")
    assert sp.main(["merge", "--adjudicated", str(tmp_path / "d.jsonl"), "--calls", str(calls),
                    "--second", str(second)]) == 0
    assert sp.disagrees({"outcome": "resolved", "resolution_turn": 5}, {"outcome": "resolved", "resolution_turn": 7}) is False
