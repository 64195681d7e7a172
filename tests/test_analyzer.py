"""The analysis pipeline: the output contract, derived fields, batching, stable ids."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from transcript_qa.labels import SKILLS, derive_offer_timing
from transcript_qa.results import CallAnalysis
from transcript_qa.sources import read_call, read_calls

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "src/transcript_qa/schemas/analysis.schema.json").read_text())


@pytest.fixture(scope="module")
def sample_calls():
    return read_calls(ROOT / "samples")


def test_every_result_matches_the_schema_and_the_call(tiny_analyzer, sample_calls):
    results = list(tiny_analyzer.analyze_many(sample_calls, batch_size=4))
    assert [r.call_id for r in results] == [c.id for c in sample_calls]
    for call, r in zip(sample_calls, results):
        d = r.to_dict()
        jsonschema.validate(d, SCHEMA)
        assert [t["id"] for t in d["turns"]] == [f"{call.id}:t{i:04d}" for i in range(len(call.turns))]
        assert [t["role"] for t in d["turns"]] == [t.role.value for t in call.turns]
        # spans cover every turn once, in order
        covered = [i for s in d["stages"] for i in range(s["start_turn"], s["end_turn"] + 1)]
        assert covered == list(range(len(call.turns)))
        assert [t["stage"] for t in d["turns"]] == [s["stage"] for s in d["stages"]
                                                    for _ in range(s["start_turn"], s["end_turn"] + 1)]


def test_derived_fields_follow_the_spec(tiny_analyzer, sample_calls):
    for r in tiny_analyzer.analyze_many(sample_calls):
        if r.outcome != "resolved":
            assert r.resolution_turn is None
        else:
            assert 0 <= r.resolution_turn < len(r.turns)
        assert r.offer_timing == derive_offer_timing([o.turn for o in r.offers], r.outcome, r.resolution_turn)
        for o in r.offers:
            assert r.turns[o.turn].role == "agent"
        agent_ids = {t.id for t in r.turns if t.role == "agent"}
        for s in SKILLS:
            sk = r.soft_skills[s]
            assert 1 <= sk.score <= 5 and abs(sk.score - sk.value) <= 0.5 + 1e-6
            assert sk.evidence and set(sk.evidence) <= agent_ids


def test_resolution_turn_is_never_an_offer_turn(tiny_analyzer, sample_calls):
    """The pointer's favourite turn is skipped when the call's offer is made there (labels.md: the
    resolution turn's stage is resolution), and the next-best turn is taken."""
    import numpy as np

    call = sample_calls[0]
    agent = [t.role.value == "agent" for t in call.turns]
    raw = tiny_analyzer.predict_raw([tiny_analyzer.encoder.encode([t.text for t in call.turns])],
                                    [[t.text for t in call.turns]], [agent])[0]
    a1, a2 = [i for i, x in enumerate(agent) if x][-2:]
    raw["outcome"] = np.array([9.0, 0.0, 0.0])  # resolved
    raw["res_ptr"] = np.zeros(len(agent)); raw["res_ptr"][a2] = 5.0; raw["res_ptr"][a1] = 4.0
    raw["offer"] = np.full(len(agent), -9.0)
    assert tiny_analyzer._decode(call, raw).resolution_turn == a2
    raw["offer"][a2] = 9.0  # the agent's last turn is now an offer
    r = tiny_analyzer._decode(call, raw)
    assert [o.turn for o in r.offers] == [a2] and r.resolution_turn == a1
    assert r.offer_timing == "after_resolution"


def test_batching_does_not_change_results(tiny_analyzer, sample_calls):
    one = [tiny_analyzer.analyze(c).to_dict() for c in sample_calls[:4]]
    many = [r.to_dict() for r in tiny_analyzer.analyze_many(sample_calls[:4], batch_size=4)]
    for a, b in zip(one, many):
        assert [t["stage"] for t in a["turns"]] == [t["stage"] for t in b["turns"]]
        assert a["outcome"] == b["outcome"]
        assert a["offer_timing"] == b["offer_timing"]
        assert abs(a["outcome_confidence"] - b["outcome_confidence"]) < 1e-3


def test_results_round_trip_through_dict(tiny_analyzer, sample_calls):
    r = tiny_analyzer.analyze(sample_calls[0])
    r.extra["qa_score"] = {"total": 50.0, "breakdown": []}
    d = r.to_dict()
    back = CallAnalysis.from_dict(json.loads(json.dumps(d)))
    assert back.to_dict() == d


def test_two_runs_give_identical_output(tiny_analyzer, sample_calls):
    a = [r.to_dict() for r in tiny_analyzer.analyze_many(sample_calls[:3])]
    b = [r.to_dict() for r in tiny_analyzer.analyze_many(sample_calls[:3])]
    assert a == b


def test_analysis_does_not_touch_the_call(tiny_analyzer):
    call = read_call(ROOT / "samples" / "w1-bank-001.txt")
    before = call.model_dump()
    tiny_analyzer.analyze(call)
    assert call.model_dump() == before
    with pytest.raises(Exception):
        call.turns[0].text = "changed"  # type: ignore[misc]


def test_encoder_bf16_matches_fp32(encoder):
    """bf16 (used where the CPU has AMX) stays within cosine 0.9999 of fp32."""
    from transcript_qa.encoder import TurnEncoder

    texts = ["thanks for calling northfield bank this is dana", "my card got declined twice today",
             "Would you like to add travel insurance for just four pounds a month?"]
    bf = TurnEncoder(device="cpu", dtype="bf16")
    a, b = encoder.encode(texts), bf.encode(texts)
    assert a.shape == (3, 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    assert (a * b).sum(1).min() > 0.9999
    with pytest.raises(ValueError, match="unknown dtype 'fp16'"):  # not quietly read as fp32
        TurnEncoder(device="cpu", dtype="fp16")


def test_the_shipped_default_model_loads_and_analyses():
    from transcript_qa.analyzer import Analyzer, default_model_path

    path = default_model_path()
    cfg = json.loads((path / "transcript_qa.json").read_text())
    assert cfg["labels"]["skills"] == list(SKILLS)
    assert (path / "README.md").exists() and (path / "metrics.json").exists()
    assert max(f.stat().st_size for f in path.iterdir()) < 20_000_000
    an = Analyzer.load(device="cpu")
    r = an.analyze(read_call(ROOT / "samples" / "w1-bank-006.vtt"))
    jsonschema.validate(r.to_dict(), SCHEMA)


def test_a_model_trained_on_an_earlier_feature_set_gets_its_own_columns(tiny_model, tmp_path, sample_calls):
    """An older model lists fewer feature names; the analyzer feeds it exactly those columns. Built
    here from tiny_model by cutting the weights of one feature out of every layer that reads the
    features: its outputs must equal tiny_model's with that feature's weights zeroed."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    from transcript_qa.analyzer import Analyzer
    from transcript_qa.features import FEATURE_NAMES

    cfg = json.loads((tiny_model / "transcript_qa.json").read_text())
    assert cfg["features"]["names"] == FEATURE_NAMES
    drop = FEATURE_NAMES.index("lex_escalate")
    assert 0 < drop < len(FEATURE_NAMES) - 1  # in the middle: the columns after it shift
    F, E, d, S = len(FEATURE_NAMES), cfg["heads"]["emb_dim"], cfg["heads"]["hidden"], len(cfg["heads"]["skills"])
    # the input columns that carry the feature: the turn input, and the call-level cue rates (3 blocks)
    cols = {"inp.1.weight": [E + drop], "outcome.0.weight": [2 * d + b * F + drop for b in range(3)],
            "skill_out.weight": [2 * S + b * F + drop for b in range(3)]}
    state = load_file(str(tiny_model / "heads.safetensors"))
    assert all(k in state for k in cols) and cfg["heads"]["call_features"]

    def variant(name, cut):
        out = tmp_path / name
        shutil.copytree(tiny_model, out)
        new = {}
        for k, w in state.items():
            if k in cols:
                keep = [i for i in range(w.shape[1]) if i not in cols[k]]
                w = w[:, keep] if cut else w.clone().index_fill_(1, torch.tensor(cols[k]), 0.0)
            new[k] = w.contiguous()
        save_file(new, str(out / "heads.safetensors"))
        c = json.loads(json.dumps(cfg))
        if cut:
            c["features"] = {"version": 1, "names": [n for n in FEATURE_NAMES if n != "lex_escalate"]}
            c["heads"]["n_features"] = F - 1
        (out / "transcript_qa.json").write_text(json.dumps(c))
        return Analyzer.load(out, device="cpu", dtype="fp32")

    old, zeroed = variant("older", cut=True), variant("zeroed", cut=False)
    assert len(old.feature_names) == F - 1
    for a, b in zip(old.analyze_many(sample_calls), zeroed.analyze_many(sample_calls)):
        assert a.to_dict() == b.to_dict()


def test_feature_columns_name_what_a_model_needs():
    from transcript_qa.features import FEATURE_NAMES, feature_columns, turn_features

    texts, agent = ["let me transfer you to a specialist", "ok thanks"], [True, False]
    full = turn_features(texts, agent)
    assert full[0, FEATURE_NAMES.index("lex_escalate")] == 1.0
    names = [n for n in FEATURE_NAMES if n != "lex_escalate"][::-1]  # another order too
    sub = turn_features(texts, agent, feature_columns(names))
    assert sub.shape == (2, len(names))
    for j, n in enumerate(names):
        assert (sub[:, j] == full[:, FEATURE_NAMES.index(n)]).all()
    assert feature_columns(list(FEATURE_NAMES)) is None
    with pytest.raises(ValueError, match="lex_telepathy"):
        feature_columns(["is_agent", "lex_telepathy"])


def test_with_offer_threshold_is_a_copy_that_shares_the_model(tiny_model):
    from transcript_qa import Analyzer

    an = Analyzer.load(tiny_model, device="cpu", dtype="fp32")
    own = an.decode.offer_threshold
    strict = an.with_offer_threshold(0.95)
    assert strict.decode.offer_threshold == 0.95 and strict.model_info.offer_threshold == 0.95
    assert an.decode.offer_threshold == own and an.model_info.offer_threshold == own
    assert strict.heads is an.heads and strict.encoder is an.encoder  # nothing loaded again
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match="offer threshold"):
            an.with_offer_threshold(bad)


def test_done_cue_reads_the_form_of_a_turn_not_its_topic():
    from transcript_qa.features import FEATURE_NAMES, lexicon_hits, turn_features

    # the same topic (a transfer to savings), reported as done or put to the customer, clean and ASR-style
    done = ["One hundred dollars has been transferred from your savings to your checking account.",
            "so uh one hundred dollars has been transferred from your savings account to your checking account",
            "okay thats gone through your balance is now four hundred",
            "I've updated the address and you're all set."]
    proposed = ["Would you like me to set up a monthly transfer into savings?",
                "while i have you we do an automatic sweep into savings its free to set up",
                "is there anything else i can help you with"]
    assert all(lexicon_hits(t)["done"] == 1 for t in done)
    assert not any(lexicon_hits(t)["done"] for t in proposed)
    f = turn_features(done[:1] + proposed[:1], [True, True])
    assert f[:, FEATURE_NAMES.index("lex_done")].tolist() == [1.0, 0.0]
