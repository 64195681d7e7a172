"""The labeled corpus in datasets/calls: it validates, the splits are sound, the balance quotas of
datasets/README.md hold (computed here from the files), the loader builds the DatasetDict, and the
validator and ``transcript-qa validate`` catch broken files with ``file:line`` messages."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest

from transcript_qa.labels import (
    OFFER_KINDS, OFFER_RESPONSES, OUTCOMES, SKILLS, load_jsonl, repeated_sentences, validate_file,
)

ROOT = Path(__file__).resolve().parents[1]
CALLS = ROOT / "datasets" / "calls"
SPLITS = ("train", "dev", "test", "unseen_writers", "unseen_writers_r4", "unseen_writers_r5", "unseen_writers_r6",
         "unseen_writers_r7", "unseen_writers_r8", "unseen_writers_r9")
FILES = sorted(CALLS.glob("*.jsonl"))
# test.jsonl is frozen: never trained, tuned or selected on, never changed by a later round of writers
FROZEN_TEST_SHA256 = "23d390758f922cf4972da8a4eb50cc052becd21f8eb430f14711582bbe181522"


@pytest.fixture(scope="module")
def splits() -> dict[str, list[dict]]:
    return {s: load_jsonl(CALLS / f"{s}.jsonl") for s in SPLITS}


@pytest.fixture(scope="module")
def corpus(splits) -> list[dict]:
    """The written corpus (train + dev + test + the unseen-writer sets); real_hvb.jsonl is not part of it."""
    return [c for s in SPLITS for c in splits[s]]


def line_count(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def transcript_key(call: dict) -> str:
    return "\n".join(f"{t['speaker']}: {' '.join(t['text'].lower().split())}" for t in call["turns"])


# ---- every file validates -------------------------------------------------------------------------------

def test_expected_files_present():
    names = {p.name for p in FILES}
    assert {"train.jsonl", "dev.jsonl", "test.jsonl", "real_hvb.jsonl"} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_validator_passes(path: Path):
    rep = validate_file(path)
    assert rep.calls == line_count(path)
    assert rep.errors == [], "\n".join(map(str, rep.errors[:10]))


# ---- splits -----------------------------------------------------------------------------------------------

def test_split_sizes(splits, corpus):
    assert len(corpus) >= 300
    assert len(splits["test"]) >= 60
    assert all(len(splits[s]) > 0 for s in SPLITS)


def test_no_call_or_transcript_shared_between_files(splits):
    groups = dict(splits)
    groups["real_hvb"] = load_jsonl(CALLS / "real_hvb.jsonl")
    names = list(groups)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ids = {c["call_id"] for c in groups[a]} & {c["call_id"] for c in groups[b]}
            assert not ids, f"call_id in both {a} and {b}: {sorted(ids)[:5]}"
            texts = {transcript_key(c) for c in groups[a]} & {transcript_key(c) for c in groups[b]}
            assert not texts, f"{len(texts)} identical transcripts in both {a} and {b}"


def test_split_is_stratified_by_writer_and_outcome(splits, corpus):
    """For the writers of the frozen split, every (writer, outcome) group with 5+ calls has calls in
    test, and test holds 15-30% of it."""
    first_round = {c["metadata"].get("writer") for c in splits["test"]}
    total = Counter((c["metadata"].get("writer"), c["outcome"]) for c in corpus
                    if c["metadata"].get("writer") in first_round)
    test = Counter((c["metadata"].get("writer"), c["outcome"]) for c in splits["test"])
    for key, n in total.items():
        if n >= 5:
            assert 0.15 <= test[key] / n <= 0.30, (key, test[key], n)


def test_test_split_is_frozen():
    import hashlib

    assert hashlib.sha256((CALLS / "test.jsonl").read_bytes()).hexdigest() == FROZEN_TEST_SHA256


def test_later_writers_are_in_train_dev_or_apart(splits):
    """Writers added after the split (scripts/add_writers.py) are dealt 80/20 into train and dev; the
    unseen-writer set holds whole writers that appear in no other file."""
    def writers(s):
        return {c["metadata"].get("writer") for c in splits[s]}

    first_round = writers("test")
    later = (writers("train") | writers("dev")) - first_round
    assert later, "no later-round writer in train/dev"
    for w in later:
        n_train = sum(c["metadata"].get("writer") == w for c in splits["train"])
        n_dev = sum(c["metadata"].get("writer") == w for c in splits["dev"])
        assert 0.1 <= n_dev / (n_train + n_dev) <= 0.3, (w, n_train, n_dev)
    # each held-out file is its own writers': none of them in train, dev, test or another held-out file
    taken = writers("train") | writers("dev") | first_round
    for held_out in [s for s in SPLITS if s.startswith("unseen_writers")]:
        ws = writers(held_out)
        assert ws and not ws & taken, held_out
        taken |= ws


def test_real_calls_are_marked_and_apart(corpus):
    real = load_jsonl(CALLS / "real_hvb.jsonl")
    assert 8 <= len(real) <= 12
    assert all(c["metadata"].get("source") == "harper_valley" for c in real)
    assert all(c["metadata"].get("industry") == "retail_banking" and c["metadata"].get("sid") for c in real)
    assert all(c["offer_timing"] == "none" for c in real)
    assert not any(c["metadata"].get("source") == "harper_valley" for c in corpus)
    assert (CALLS / "LICENSE-harper-valley.txt").read_text(encoding="utf-8").lstrip().startswith("Apache License")


def test_real_call_turns_match_the_reader():
    """A real call that is also a test fixture maps to exactly the turns HarperValleyReader reads."""
    from transcript_qa.readers.base import Document
    from transcript_qa.readers.harper_valley import HarperValleyReader

    fix = ROOT / "tests" / "fixtures" / "harper_valley" / "transcript"
    real = {c["metadata"]["sid"]: c for c in load_jsonl(CALLS / "real_hvb.jsonl")}
    shared = sorted(set(real) & {p.stem for p in fix.glob("*.json")})
    if not shared:
        pytest.skip("no real call is among the Harper Valley fixtures")
    for sid in shared:
        obj = json.loads((fix / f"{sid}.json").read_text(encoding="utf-8"))
        raw = next(HarperValleyReader().read(Document(f"{sid}.json", obj=obj)))
        gold = real[sid]["turns"]
        assert [t.text for t in raw.turns] == [t["text"] for t in gold]
        assert [t.start for t in raw.turns] == [t["start"] for t in gold]
        assert ["customer" if t.speaker == "caller" else t.speaker for t in raw.turns] == [t["speaker"] for t in gold]


# ---- balance quotas (datasets/README.md), on the written corpus -------------------------------------------

def share(n: int, calls: list) -> float:
    return n / len(calls)


def test_quota_industries(corpus):
    ind = Counter(c["metadata"]["industry"] for c in corpus)
    assert sum(1 for v in ind.values() if v >= 10) >= 8, ind


def test_quota_asr_style(corpus):
    assert share(sum(1 for c in corpus if c["metadata"].get("style") == "asr"), corpus) >= 0.25


def test_quota_call_length(corpus):
    lens = [len(c["turns"]) for c in corpus]
    assert min(lens) >= 8 and max(lens) <= 80


@pytest.mark.parametrize("outcome", ["escalated", "unresolved"])
def test_quota_outcomes(corpus, outcome):
    assert share(sum(1 for c in corpus if c["outcome"] == outcome), corpus) >= 0.15


def test_quota_calls_with_offers(corpus):
    with_offer = [c for c in corpus if any(t.get("offer") for t in c["turns"])]
    assert share(len(with_offer), corpus) >= 0.40
    assert all(c["offer_timing"] != "none" for c in with_offer)


@pytest.mark.parametrize("timing", ["before_resolution", "after_resolution", "no_resolution"])
def test_quota_offer_timing(corpus, timing):
    assert share(sum(1 for c in corpus if c["offer_timing"] == timing), corpus) >= 0.12


def test_quota_offer_kinds_and_responses(corpus):
    offers = [t["offer"] for c in corpus for t in c["turns"] if t.get("offer")]
    assert {o["kind"] for o in offers} == set(OFFER_KINDS)
    assert {o["response"] for o in offers} == set(OFFER_RESPONSES)


def test_quota_hard_cases(corpus):
    assert share(sum(1 for c in corpus if c["metadata"].get("hard_cases")), corpus) >= 0.15


@pytest.mark.parametrize("skill", SKILLS)
def test_quota_soft_skill_spread(corpus, skill):
    cnt = Counter(c["soft_skills"][skill] for c in corpus)
    for score in (1, 2, 4, 5):
        assert share(cnt[score], corpus) >= 0.04, (skill, score, cnt)


def test_quota_no_stock_sentences(corpus):
    rep = repeated_sentences(corpus, min_words=8, max_calls=4)
    assert rep == [], rep[:5]


# ---- loader -----------------------------------------------------------------------------------------------

def test_corpus_splits_are_the_files():
    from transcript_qa.labels import CORPUS_SPLITS

    assert CORPUS_SPLITS == SPLITS
    assert {p.stem for p in FILES} == set(SPLITS) | {"real_hvb"}


def test_loader_builds_dataset_dict():
    from transcript_qa.training.data import load_dataset_dict

    dd = load_dataset_dict(CALLS)
    assert set(dd) == set(SPLITS)
    cols = {"call_id", "texts", "roles", "industry", "style", "stage", "offer", "offer_kind", "offer_resp",
            "resolution_turn", "outcome", "skills"}
    for s in SPLITS:
        assert set(dd[s].column_names) == cols
        assert dd[s].num_rows == line_count(CALLS / f"{s}.jsonl")
    row = dd["train"][0]
    assert len(row["texts"]) == len(row["roles"]) == len(row["stage"]) == len(row["offer"])
    assert len(row["skills"]) == len(SKILLS)


def test_loader_reads_real_calls():
    from transcript_qa.training.data import load_labeled

    real = load_labeled(CALLS / "real_hvb.jsonl")
    assert len(real) == line_count(CALLS / "real_hvb.jsonl")
    assert all(lc.call.turns[0].start is not None for lc in real)


# ---- the validator catches broken files -------------------------------------------------------------------

GOOD = {
    "call_id": "fx-001",
    "metadata": {"industry": "telecom", "agent_id": "a1", "team": "t", "channel": "voice", "style": "clean"},
    "turns": [
        {"speaker": "agent", "text": "Thanks for calling, this is Sam.", "stage": "opening"},
        {"speaker": "customer", "text": "My internet keeps dropping.", "stage": "discovery"},
        {"speaker": "agent", "text": "I've reset the line; it should stay up now.", "stage": "resolution"},
        {"speaker": "customer", "text": "Yes, it's back.", "stage": "resolution"},
        {"speaker": "agent", "text": "Would a faster plan for ten pounds more suit you?", "stage": "offer",
         "offer": {"kind": "upsell", "response": "declined"}},
        {"speaker": "customer", "text": "No thanks.", "stage": "offer"},
        {"speaker": "agent", "text": "Bye for now.", "stage": "closing"},
    ],
    "outcome": "resolved",
    "resolution_turn": 2,
    "offer_timing": "after_resolution",
    "soft_skills": {"empathy": 3, "courtesy": 4, "active_listening": 3, "ownership": 4, "clarity": 4},
}


def bad_timing(c):
    c["offer_timing"] = "before_resolution"


def rt_on_unresolved(c):
    c["outcome"] = "unresolved"
    c["offer_timing"] = "no_resolution"  # consistent, so the only error is resolution_turn


def offer_on_customer(c):
    c["turns"][5]["offer"] = {"kind": "cross_sell", "response": "none"}


def unknown_stage(c):
    c["turns"][1]["stage"] = "complaint"


BROKEN = {
    "offer_timing_disagrees": (bad_timing, "'offer_timing' is 'before_resolution' but the turns and resolution_turn give 'after_resolution'"),
    "resolution_turn_on_unresolved": (rt_on_unresolved, "'resolution_turn' must be null when outcome is 'unresolved'"),
    "offer_on_customer_turn": (offer_on_customer, "turn 5: 'offer' is only allowed on an agent turn"),
    "unknown_stage": (unknown_stage, "turn 1: 'stage' must be one of"),
}


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_good_fixture_is_valid(tmp_path):
    rep = validate_file(write_lines(tmp_path / "good.jsonl", [json.dumps(GOOD)]))
    assert rep.calls == 1 and rep.problems == []


@pytest.mark.parametrize("case", list(BROKEN))
def test_validator_catches_broken_call(tmp_path, case):
    breaker, message = BROKEN[case]
    bad = copy.deepcopy(GOOD)
    bad["call_id"] = "fx-002"
    breaker(bad)
    # the broken call is on line 2, after a good one
    path = write_lines(tmp_path / "bad.jsonl", [json.dumps(GOOD), json.dumps(bad)])
    rep = validate_file(path)
    assert not rep.ok
    assert [str(p).split(": ")[0] for p in rep.errors] == ["bad.jsonl:2"]
    assert message in rep.errors[0].message, rep.errors[0].message


def test_validator_catches_bad_json_line(tmp_path):
    path = write_lines(tmp_path / "bad.jsonl", [json.dumps(GOOD), '{"call_id": "fx-002", "turns": [', ""])
    rep = validate_file(path)
    assert len(rep.errors) == 1
    assert str(rep.errors[0]).startswith("bad.jsonl:2: error: invalid JSON")


def test_validator_catches_duplicate_call_id(tmp_path):
    rep = validate_file(write_lines(tmp_path / "dup.jsonl", [json.dumps(GOOD), json.dumps(GOOD)]))
    assert [str(p) for p in rep.errors] == ["dup.jsonl:2: error: duplicate call_id 'fx-001' (first on line 1)"]


def test_loader_names_file_and_line(tmp_path):
    from transcript_qa.training.data import LabeledDataError, load_labeled

    bad = copy.deepcopy(GOOD)
    bad["call_id"] = "fx-002"
    unknown_stage(bad)
    path = write_lines(tmp_path / "bad.jsonl", [json.dumps(GOOD), json.dumps(bad)])
    with pytest.raises(LabeledDataError, match=r"bad\.jsonl:2: turn 1: 'stage'"):
        load_labeled(path)
    assert [lc.call_id for lc in load_labeled(path, strict=False)] == ["fx-001"]


# ---- the CLI ----------------------------------------------------------------------------------------------

def test_cli_validate_exit_codes(tmp_path):
    from typer.testing import CliRunner

    from transcript_qa.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(CALLS / "train.jsonl")])
    assert ok.exit_code == 0, ok.output
    assert "0 errors" in ok.output

    bad = copy.deepcopy(GOOD)
    bad_timing(bad)
    path = write_lines(tmp_path / "bad.jsonl", [json.dumps(bad)])
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 1, res.output
    assert "bad.jsonl:1: error: 'offer_timing'" in res.output


# ---- the datasheet ----------------------------------------------------------------------------------------

def test_datasheet_tables_match_the_files():
    """datasets/README.md holds exactly what scripts/datasheet_tables.py computes from the files."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("datasheet_tables", ROOT / "scripts" / "datasheet_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = (ROOT / "datasets" / "README.md").read_text(encoding="utf-8")
    pasted = text.split(mod.START, 1)[1].split(mod.END, 1)[0].strip()
    assert pasted == mod.render(CALLS).strip(), "run: python scripts/datasheet_tables.py --write datasets/README.md"
    assert all(row[-1] for row in mod.quota_rows(
        [c for s in SPLITS for c in load_jsonl(CALLS / f"{s}.jsonl")], load_jsonl(CALLS / "test.jsonl")))


# ---- the second annotation pass --------------------------------------------------------------------------
def _agreement_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("annotation_agreement", ROOT / "scripts" / "annotation_agreement.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_second_pass_covers_train_and_dev_with_valid_labels(splits):
    rows = load_jsonl(ROOT / "datasets" / "second_annotation" / "second_pass.jsonl")
    calls = {c["call_id"]: c for s in ("train", "dev") for c in splits[s]}
    assert sorted(r["call_id"] for r in rows) == sorted(calls)
    for r in rows:
        n = len(calls[r["call_id"]]["turns"])
        for lab in (r, r.get("adjudicated") or r):
            assert lab["outcome"] in OUTCOMES
            if lab["outcome"] == "resolved":
                assert 0 <= lab["resolution_turn"] < n, r["call_id"]
            else:
                assert lab["resolution_turn"] is None, r["call_id"]
        turns = calls[r["call_id"]]["turns"]
        for o in r["offers"]:  # the offer pass: agent turns that exist, valid kind and response
            assert turns[o["turn"]]["speaker"] == "agent", (r["call_id"], o)
            assert o["kind"] in OFFER_KINDS and o["response"] in OFFER_RESPONSES
    # exactly the disagreements were adjudicated (outcome differs, or resolution turns more than 2 apart)
    for r in rows:
        g = calls[r["call_id"]]
        disagree = g["outcome"] != r["outcome"] or (
            g["outcome"] == "resolved" and abs(g["resolution_turn"] - r["resolution_turn"]) > 2)
        assert disagree == ("adjudicated" in r), r["call_id"]


def test_cohen_kappa_known_values():
    kappa = _agreement_module().cohen_kappa
    assert kappa([("resolved", "resolved"), ("escalated", "escalated")]) == 1.0
    # 50 items: 20 both resolved, 15 both escalated, 5 + 10 off the diagonal -> po 0.7, pe 0.5, kappa 0.4
    pairs = ([("resolved", "resolved")] * 20 + [("resolved", "escalated")] * 5
             + [("escalated", "resolved")] * 10 + [("escalated", "escalated")] * 15)
    assert kappa(pairs) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        kappa([])


def test_agreement_for_one_round_counts_only_its_writers(splits, tmp_path):
    import subprocess
    import sys

    script = ROOT / "scripts" / "annotation_agreement.py"
    out = tmp_path / "r.json"
    subprocess.run([sys.executable, str(script), "--writers", "w38,w40", "--json", str(out)], check=True,
                   capture_output=True, text=True)
    r = json.loads(out.read_text())
    mine = [c for s in ("train", "dev") for c in splits[s] if c["metadata"].get("writer") in ("w38", "w40")]
    assert r["calls"] == len(mine) > 0
    assert sum(sum(row.values()) for row in r["outcome_confusion"].values()) == len(mine)
    assert r["offer_turns_writer"] == sum(1 for c in mine for t in c["turns"] if t.get("offer"))
    bad = subprocess.run([sys.executable, str(script), "--writers", "nobody"], capture_output=True, text=True)
    assert bad.returncode != 0 and "nobody" in bad.stderr
