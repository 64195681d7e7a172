"""Training heads: reload gives the same predictions, subsets keep the rest, bad data is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from transcript_qa.analyzer import Analyzer
from transcript_qa.cli import app
from transcript_qa.training.data import LabeledDataError, embed_calls, load_labeled, to_dataset
from transcript_qa.training.trainer import TrainConfig, save_model, train_heads

CALLS = Path(__file__).resolve().parents[1] / "datasets" / "calls"

ROOT = Path(__file__).resolve().parents[1]


def test_trained_heads_reload_with_the_same_predictions(small_split, encoder, tmp_path):
    tr = load_labeled(small_split / "train.jsonl")
    dv = load_labeled(small_split / "dev.jsonl")
    an, metrics = train_heads(tr, dv, encoder, TrainConfig(epochs=3, hidden=32, augment_asr=False))
    assert metrics["training"]["epochs_run"] == 3 and "stages" in metrics["dev"]
    save_model(an, tmp_path / "m", metrics)
    files = {p.name for p in (tmp_path / "m").iterdir()}
    assert {"heads.safetensors", "transcript_qa.json", "metrics.json"} <= files
    assert not any(f.endswith((".pkl", ".pt", ".bin")) for f in files)
    back = Analyzer.load(tmp_path / "m", device="cpu", dtype="fp32")
    embs = embed_calls(dv, encoder)
    a = [r.to_dict() for r in an.analyze_encoded([lc.call for lc in dv], embs)]
    b = [r.to_dict() for r in back.analyze_encoded([lc.call for lc in dv], embs)]
    for x, y in zip(a, b):
        x.pop("model"), y.pop("model")
        assert x == y


def test_training_a_subset_keeps_the_other_heads(tiny_model, small_split, tmp_path):
    from transcript_qa.training.api import train

    base = Analyzer.load(tiny_model, device="cpu", dtype="fp32")
    train(small_split / "train.jsonl", tmp_path / "offers", small_split / "dev.jsonl", tasks=("offers",),
          init_model=tiny_model, device="cpu", config=TrainConfig(epochs=2, patience=2, augment_asr=False), cache_dir=None)
    new = Analyzer.load(tmp_path / "offers", device="cpu", dtype="fp32")
    old_sd, new_sd = base.heads.state_dict(), new.heads.state_dict()
    changed = {k.split(".")[0] for k in old_sd if not torch.equal(old_sd[k], new_sd[k])}
    assert changed and changed <= {"offer", "offer_kind", "offer_resp"}
    assert torch.equal(old_sd["stage.weight"], new_sd["stage.weight"])
    assert torch.equal(old_sd["gru.weight_ih_l0"], new_sd["gru.weight_ih_l0"])


def test_a_subset_trains_the_same_in_worker_processes(tiny_model, small_split, encoder, tmp_path):
    """--workers with a subset: each worker starts its member from the init model, as in turn."""
    from transcript_qa.training.trainer import train_heads_ensemble

    init = Analyzer.load(tiny_model, device="cpu", dtype="fp32")
    tr, dv = load_labeled(small_split / "train.jsonl"), load_labeled(small_split / "dev.jsonl")
    cfg = dict(epochs=2, patience=2, ensemble=2, tasks=("offers",), augment_asr=False)
    seq, _ = train_heads_ensemble(tr, dv, encoder, TrainConfig(**cfg), init=init, cache_dir=tmp_path / "cache")
    par, m = train_heads_ensemble(tr, dv, encoder, TrainConfig(**cfg, workers=2), init=init,
                                  cache_dir=tmp_path / "cache")
    assert m["training"]["workers"] == 2
    a, b, base = seq.heads.state_dict(), par.heads.state_dict(), init.heads.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    for member in par.heads.members:  # only the offer heads moved away from the init model
        sd = member.state_dict()
        assert torch.equal(sd["stage.weight"], base["stage.weight"]) and torch.equal(sd["gru.weight_ih_l0"],
                                                                                     base["gru.weight_ih_l0"])
        assert not torch.equal(sd["offer.weight"], base["offer.weight"])


def test_a_subset_cannot_start_from_a_model_on_an_earlier_feature_set(tiny_model, small_split, encoder):
    init = Analyzer.load(tiny_model, device="cpu", dtype="fp32")
    init.feature_names = init.feature_names[:-1]  # as a model from before the last feature was added lists them
    with pytest.raises(LabeledDataError, match="another feature set"):
        train_heads(load_labeled(small_split / "train.jsonl"), load_labeled(small_split / "dev.jsonl"), encoder,
                    TrainConfig(epochs=1, tasks=("offers",), augment_asr=False), init=init)


def test_training_refuses_overlap_with_the_test_file(small_split, tmp_path):
    from transcript_qa.training.api import train

    with pytest.raises(LabeledDataError, match="also in the test file"):
        train(small_split / "train.jsonl", tmp_path / "m", small_split / "dev.jsonl", test=small_split / "train.jsonl",
              device="cpu", config=TrainConfig(epochs=1))


def test_bad_and_too_little_data_name_the_file_and_line(small_split, encoder, tmp_path):
    bad = tmp_path / "bad.jsonl"
    lines = (small_split / "train.jsonl").read_text().splitlines()[:3]
    obj = json.loads(lines[1])
    obj["turns"][2]["stage"] = "chitchat"
    bad.write_text("\n".join([lines[0], json.dumps(obj), lines[2]]) + "\n")
    with pytest.raises(LabeledDataError, match=r"bad.jsonl:2: turn 2: 'stage' must be one of"):
        load_labeled(bad)
    few = load_labeled(small_split / "train.jsonl")[:3]
    with pytest.raises(LabeledDataError, match="too little training data: 3 calls"):
        train_heads(few, few, encoder, TrainConfig(epochs=1))


def test_train_config_validates_itself():
    with pytest.raises(ValueError, match="unknown tasks"):
        TrainConfig(tasks=("stages", "sentiment"))
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)


def test_soft_pointer_loss_spreads_the_target_over_neighbouring_turns():
    from transcript_qa.training.trainer import _soft_pointer_loss

    with pytest.raises(ValueError, match="res_ptr_smoothing"):
        TrainConfig(res_ptr_smoothing=1.5)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2, [True] * 6])
    rt = torch.tensor([2, 0, -100])  # the third call has no resolution turn and is skipped
    # the target: weights 1/4, 1/2, 1, 1/2, 1/4 around turn 2; 1, 1/2, 1/4 from turn 0 (padding gets none)
    q = [torch.tensor([.25, .5, 1, .5, .25, 0]), torch.tensor([1, .5, .25, 0, 0, 0])]
    q = [x / x.sum() for x in q]
    best = torch.stack([x.clamp(min=1e-12).log() for x in q] + [torch.zeros(6)])
    best = best.masked_fill(~mask, torch.finfo(torch.float).min)
    entropy = sum(-(x[x > 0] * x[x > 0].log()).sum() for x in q) / 2
    assert torch.isclose(_soft_pointer_loss(best, rt, mask), entropy, atol=1e-5)
    # any other pointer scores worse (cross-entropy >= entropy), e.g. all mass on the gold turn
    sharp = torch.full((3, 6), -30.0)
    sharp[0, 2] = sharp[1, 0] = 30.0
    assert _soft_pointer_loss(sharp, rt, mask) > entropy + 1


def test_cue_dropout_hides_whole_word_list_columns_and_keeps_the_rest():
    import numpy as np

    from transcript_qa.features import CUE_FEATURES, FEATURE_NAMES, turn_features
    from transcript_qa.training.trainer import drop_cues

    with pytest.raises(ValueError, match="cue_dropout"):
        TrainConfig(cue_dropout=1.0)
    texts = ["hello thanks for calling how can i help", "i want to cancel, this is ridiculous",
             "sorry about that, it's refunded and done", "great thanks bye"]
    f = turn_features(texts, [True, False, True, False])
    cue = np.array([n in CUE_FEATURES for n in FEATURE_NAMES])
    assert cue.sum() == len(CUE_FEATURES) and not cue[FEATURE_NAMES.index("rel_pos")]
    rng = np.random.default_rng(0)
    seen_dropped = np.zeros(len(FEATURE_NAMES), dtype=bool)
    for _ in range(50):
        g = drop_cues(f, 0.5, rng)
        assert np.array_equal(g[:, ~cue], f[:, ~cue])  # position, length and role never touched
        dropped = (g == 0).all(0) & (f != 0).any(0)
        assert np.array_equal(g[:, ~dropped], f[:, ~dropped])  # a column is zeroed whole or kept whole
        seen_dropped |= dropped
    assert seen_dropped[cue & (f != 0).any(0)].all()
    assert f.any() and np.array_equal(drop_cues(f, 0.0, rng), f)


def test_dataset_has_one_row_per_call(small_split):
    ds = to_dataset(load_labeled(small_split / "train.jsonl"))
    assert ds.num_rows == 16
    row = ds[0]
    assert len(row["texts"]) == len(row["stage"]) == len(row["roles"])
    assert len(row["skills"]) == 5


def test_cli_train_and_evaluate(small_split, tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli-model"
    held = tmp_path / "held_out.jsonl"
    held.write_text("\n".join((CALLS / "test.jsonl").read_text().splitlines()[:3]) + "\n")
    r = runner.invoke(app, ["train", "--data", str(small_split / "train.jsonl"), "--dev", str(small_split / "dev.jsonl"),
                            "--out", str(out), "--epochs", "2", "--no-augment", "--device", "cpu",
                            "--ensemble", "2", "--workers", "2", "--also-eval", str(held), "--cue-dropout", "0.3"])
    assert r.exit_code == 0, r.output
    # not a terminal (a log, CI): progress comes as plain lines, one per finished member
    assert "training: members done 1/2, member" in r.output and "training: members done 2/2" in r.output
    cfg = json.loads((out / "transcript_qa.json").read_text())
    assert cfg["training"]["workers"] == 2  # the two members trained in two processes
    assert json.loads((out / "metrics.json").read_text())["training"]["config"]["cue_dropout"] == 0.3
    assert cfg["ensemble"] == 2 and Analyzer.load(out, device="cpu").heads.members.__len__() == 2
    assert cfg["heads"]["stage_crf"] is True  # the default recipe learns stage transitions
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["held_out"]["calls"] == 3 and "stage_accuracy" in metrics["held_out_headline"]
    card = (out / "README.md").read_text()
    assert "stage_accuracy" in card and "heads.safetensors" in card and "| held_out |" in card
    r = runner.invoke(app, ["train", "--data", str(small_split / "train.jsonl"), "--out", str(out), "--quiet"])
    assert r.exit_code == 2  # exists without --force
    r = runner.invoke(app, ["evaluate", "--model", str(out), "--gold", str(small_split / "dev.jsonl"), "--json",
                            "--device", "cpu", "--bootstrap", "20", "--dtype", "fp32"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout)
    assert m["calls"] == 6 and m["encoder_dtype"] == "fp32"
    assert m["bootstrap_samples"] == 20 and set(m["headline_ci95"]) <= set(m["headline"])
    lo, hi = m["headline_ci95"]["stage_accuracy"]
    assert 0 <= lo <= hi <= 1
    for task, key in [("stages", "stage_accuracy"), ("stages", "stage_macro_f1"), ("outcome", "outcome_macro_f1"),
                      ("offer_timing", "offer_timing_macro_f1"), ("offers", "offer_turn_f1"),
                      ("resolution", "resolution_turn_within2"), ("soft_skills", "soft_skill_mae")]:
        assert 0 <= m[task][key] <= 5
    r = runner.invoke(app, ["evaluate", "--model", str(out), "--gold", str(small_split / "dev.jsonl"), "--device", "cpu"])
    assert r.exit_code == 0
    assert "stage confusion" in r.output and "offer-timing confusion" in r.output and "QWK" in r.output


def test_cli_refuses_ensemble_options_with_finetuning(small_split, tmp_path):
    for extra in (["--ensemble", "3"], ["--workers", "2"]):
        r = CliRunner().invoke(app, ["train", "--data", str(small_split / "train.jsonl"), "--out", str(tmp_path / "m"),
                                     "--finetune-encoder", "--quiet", *extra])
        assert r.exit_code == 2, r.output
        assert "trains one model" in " ".join(r.output.split())
        assert not (tmp_path / "m").exists()
    r = CliRunner().invoke(app, ["train", "--data", str(small_split / "train.jsonl"), "--out", str(tmp_path / "m"),
                                 "--finetune-encoder", "--quiet", "--cue-dropout", "0.2"])
    assert r.exit_code == 2 and "heads-only training" in " ".join(r.output.split())
    assert not (tmp_path / "m").exists()
    r = CliRunner().invoke(app, ["train", "--data", str(small_split / "train.jsonl"), "--out", str(tmp_path / "m"),
                                 "--quiet", "--finetune-layers", "2"])
    assert r.exit_code == 2 and "go with --finetune-encoder" in " ".join(r.output.split())
    assert not (tmp_path / "m").exists()


def test_cli_passes_finetune_layers_on_to_train(small_split, tmp_path, monkeypatch):
    import transcript_qa.training.api as api

    seen = {}

    def fake_train(data, out, dev=None, test=None, **kw):
        seen.update(kw)
        raise ValueError("stopped here by the test")

    monkeypatch.setattr(api, "train", fake_train)
    r = CliRunner().invoke(app, ["train", "--data", str(small_split / "train.jsonl"), "--out", str(tmp_path / "m"),
                                 "--finetune-encoder", "--finetune-layers", "2", "--encoder-lr", "5e-5", "--quiet",
                                 "--device", "cpu", "--dtype", "fp32"])
    assert r.exit_code == 2 and "stopped here by the test" in r.output
    assert seen["finetune_encoder"] is True and seen["finetune_layers"] == 2 and seen["encoder_lr"] == 5e-5
    assert seen["dtype"] == "fp32"
    r = CliRunner().invoke(app, ["train", "--data", str(small_split / "train.jsonl"), "--out", str(tmp_path / "m"),
                                 "--quiet", "--encoder-lr", "5e-5"])
    assert r.exit_code == 2 and "go with --finetune-encoder" in " ".join(r.output.split())


def test_members_trained_in_worker_processes_match_the_sequential_run(small_split, encoder, tmp_path):
    """--workers only changes the wall time: each member sees the same data and seed, single-threaded."""
    from transcript_qa.training.trainer import train_heads_ensemble

    tr = load_labeled(small_split / "train.jsonl")
    dv = load_labeled(small_split / "dev.jsonl")
    cfg = dict(epochs=2, patience=2, hidden=32, ensemble=2, augment_asr=True)
    seq, _ = train_heads_ensemble(tr, dv, encoder, TrainConfig(**cfg), cache_dir=tmp_path / "cache")
    seen = []
    par, m = train_heads_ensemble(tr, dv, encoder, TrainConfig(**cfg, workers=2), cache_dir=tmp_path / "cache",
                                  progress=lambda step, total, rec: seen.append((step, total, rec)))
    assert m["training"]["workers"] == 2 and len(par.heads.members) == 2
    # progress comes once per finished member, in the order they finish
    assert [(step, total) for step, total, _ in seen] == [(1, 2), (2, 2)]
    assert sorted(rec["member"] for _, _, rec in seen) == [0, 1]
    for _, _, rec in seen:
        k = rec["member"]
        assert rec["best_epoch"] == m["training"]["best_epoch"][k]
        assert rec["dev_score"] == m["training"]["history"][k][rec["best_epoch"] - 1]["dev_score"]
    a, b = seq.heads.state_dict(), par.heads.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    assert par.config["decode"] == seq.config["decode"]


def test_merging_parts_gives_the_ensemble_trained_in_one_run(small_split, encoder, tmp_path, monkeypatch):
    """Members depend only on their seeds: parts trained with seeds 13 and 14, merged, are the
    2-member model trained with seed 13, down to the weights, the decode choice and the metrics."""
    import transcript_qa.encoder as enc_mod
    from transcript_qa.training.api import merge_models, train

    monkeypatch.setattr(enc_mod, "TurnEncoder", lambda *a, **k: encoder)  # reuse the session's encoder
    tr, dv = small_split / "train.jsonl", small_split / "dev.jsonl"
    held = tmp_path / "held.jsonl"
    held.write_text("\n".join((CALLS / "test.jsonl").read_text().splitlines()[:3]) + "\n")
    base = dict(epochs=3, patience=3, hidden=32, augment_asr=False)
    for name, seed, n in [("s13", 13, 1), ("s14", 14, 1), ("both", 13, 2)]:
        train(tr, tmp_path / name, dv, test=held, device="cpu", config=TrainConfig(**base, seed=seed, ensemble=n),
              cache_dir=None)
    m = merge_models([tmp_path / "s13", tmp_path / "s14"], tmp_path / "merged", tr, dv, test=held, cache_dir=None)

    one_run = Analyzer.load(tmp_path / "both", device="cpu", dtype="fp32")
    merged = Analyzer.load(tmp_path / "merged", device="cpu", dtype="fp32")
    a, b = one_run.heads.state_dict(), merged.heads.state_dict()
    assert a.keys() == b.keys() and len(merged.heads.members) == 2
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert merged.config["decode"] == one_run.config["decode"]
    ref = json.loads((tmp_path / "both" / "metrics.json").read_text())
    assert m["dev_headline"] == ref["dev_headline"] and m["test_headline"] == ref["test_headline"]
    assert m["training"]["best_epoch"] == ref["training"]["best_epoch"]
    assert m["training"]["merged_from"] == ["s13", "s14"] and m["training"]["config"]["ensemble"] == 2
    assert "| test |" in (tmp_path / "merged" / "README.md").read_text()

    with pytest.raises(ValueError, match="expected 15"):  # seeds must follow on: 14 then 13 is not a run
        merge_models([tmp_path / "s14", tmp_path / "s13"], tmp_path / "bad", tr, dv, cache_dir=None)
    with pytest.raises(ValueError, match="hash differs"):
        merge_models([tmp_path / "s13", tmp_path / "s14"], tmp_path / "bad", dv, dv, cache_dir=None)
    with pytest.raises(ValueError, match="seed"):  # a part given twice overlaps itself
        merge_models([tmp_path / "s13", tmp_path / "s13"], tmp_path / "bad", tr, dv, cache_dir=None)


def test_an_ensemble_encodes_its_written_calls_once(small_split, encoder, tmp_path, monkeypatch):
    """Members differ only in their seeded ASR copies: the written calls are cached apart and encoded once."""
    from transcript_qa.training.data import augment_asr
    from transcript_qa.training.trainer import train_heads_ensemble

    tr, dv = load_labeled(small_split / "train.jsonl"), load_labeled(small_split / "dev.jsonl")
    encoded: list[str] = []
    real = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda texts, *a, **k: (encoded.extend(texts), real(texts, *a, **k))[1])
    train_heads_ensemble(tr, dv, encoder, TrainConfig(epochs=1, patience=1, hidden=16, ensemble=2, augment_asr=True),
                         cache_dir=tmp_path / "cache")
    written = [t.text for lc in tr for t in lc.call.turns]
    copies = [[t.text for lc in augment_asr(tr, seed) for t in lc.call.turns] for seed in (13, 14)]
    dev_texts = [t.text for lc in dv for t in lc.call.turns]
    assert copies[0] != copies[1]  # the members' copies differ, so each is encoded
    assert len(encoded) == len(written) + len(copies[0]) + len(copies[1]) + len(dev_texts)


def test_evaluate_offer_threshold_shows_what_another_threshold_would_flag(small_split, tiny_model):
    from transcript_qa.training.data import load_labeled

    runner = CliRunner()
    agent_turns = sum(t.role.value == "agent" for lc in load_labeled(small_split / "dev.jsonl") for t in lc.call.turns)
    got = {}
    for thr in ("0.000001", "0.99"):
        r = runner.invoke(app, ["evaluate", "--model", str(tiny_model), "--gold", str(small_split / "dev.jsonl"),
                                "--json", "--device", "cpu", "--dtype", "fp32", "--offer-threshold", thr])
        assert r.exit_code == 0, r.output
        got[thr] = json.loads(r.stdout)
        assert got[thr]["offer_threshold"] == float(thr)
    assert got["0.000001"]["offers"]["predicted_offers"] == agent_turns  # every agent turn flagged
    assert got["0.99"]["offers"]["predicted_offers"] < agent_turns
    r = runner.invoke(app, ["evaluate", "--model", str(tiny_model), "--gold", str(small_split / "dev.jsonl"),
                            "--offer-threshold", "2"])
    assert r.exit_code == 2 and "--offer-threshold" in r.output


def test_evaluate_model_takes_a_loaded_analyzer_and_leaves_its_threshold_alone(small_split, tiny_model):
    from transcript_qa import Analyzer
    from transcript_qa.training.api import evaluate_model
    from transcript_qa.training.data import load_labeled

    an = Analyzer.load(tiny_model, device="cpu", dtype="fp32")
    own = an.decode.offer_threshold
    by_path = evaluate_model(tiny_model, small_split / "dev.jsonl", device="cpu", dtype="fp32")
    by_obj = evaluate_model(an, small_split / "dev.jsonl")
    assert by_obj["headline"] == by_path["headline"] and by_obj["offer_threshold"] == own
    low = evaluate_model(an, small_split / "dev.jsonl", offer_threshold=0.000001)
    agent_turns = sum(t.role.value == "agent" for lc in load_labeled(small_split / "dev.jsonl") for t in lc.call.turns)
    assert low["offers"]["predicted_offers"] == agent_turns and low["offer_threshold"] == 0.000001
    assert an.decode.offer_threshold == own  # the caller's analyzer keeps its own
