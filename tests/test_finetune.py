"""Fine-tuning the encoder with the heads (HF Trainer): the training forward pools as the encoder
does, the run ends in an HF-native folder that reloads with the same predictions, the weights move."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from transcript_qa.analyzer import Analyzer
from transcript_qa.training.data import LabeledCall, gold_to_call, load_labeled
from transcript_qa.training.trainer import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CALLS = ROOT / "datasets" / "calls"
PARAM = "encoder.layer.0.attention.self.query.weight"


@pytest.fixture(scope="module")
def tiny_split(tmp_path_factory) -> Path:
    """12 training and 4 dev calls from the corpus."""
    d = tmp_path_factory.mktemp("ft-split")
    (d / "train.jsonl").write_text("\n".join((CALLS / "train.jsonl").read_text().splitlines()[:12]) + "\n")
    (d / "dev.jsonl").write_text("\n".join((CALLS / "dev.jsonl").read_text().splitlines()[:4]) + "\n")
    return d


@pytest.fixture(scope="module")
def short_encoder(encoder):
    """The session's fp32 MiniLM, turns cut at 64 tokens (a shallow copy: the model is shared)."""
    enc = copy.copy(encoder)
    enc.max_length = 64
    return enc


def _head(lc: LabeledCall, n: int) -> LabeledCall:
    """The call cut to its first ``n`` turns (labels kept consistent), to keep a fast test fast."""
    g = dict(lc.gold, turns=lc.gold["turns"][:n])
    if g.get("resolution_turn") is not None and g["resolution_turn"] >= n:
        g["resolution_turn"] = None
    return LabeledCall(gold_to_call(g), g, lc.where)


def test_training_forward_pools_turns_exactly_as_the_encoder(short_encoder, tiny_split):
    from transcript_qa.training.finetune import CallCollator, _fp32_copy, _module_class
    from transcript_qa.training.trainer import _call_item, _new_heads

    calls = [_head(lc, 8) for lc in load_labeled(tiny_split / "train.jsonl")[:2]]
    items = [_call_item(lc) for lc in calls]
    texts = [[t.text for t in lc.call.turns] for lc in calls]
    batch = CallCollator(items, texts, short_encoder.tokenizer, short_encoder.max_length, chunk=6)(
        [{"idx": 0}, {"idx": 1}])
    assert len(batch["input_ids"]) > 1  # several length-sorted chunks
    cfg = TrainConfig(hidden=32)
    module = _module_class()(_fp32_copy(short_encoder), _new_heads(short_encoder.dim, cfg), cfg).eval()
    with torch.no_grad():
        vecs = module.encode_turns(batch["input_ids"], batch["attention_mask"], batch["order"]).numpy()
    want = short_encoder.encode([t for ts in texts for t in ts])
    assert vecs.shape == want.shape
    np.testing.assert_allclose(vecs, want, atol=2e-5)
    module.train()
    with torch.enable_grad():
        loss = module(**batch)["loss"]
        loss.backward()
    assert torch.isfinite(loss)
    assert module.encoder.get_parameter(PARAM).grad is not None


def test_finetune_refuses_a_subset_of_tasks(short_encoder, tiny_split):
    from transcript_qa.training.finetune import finetune

    calls = load_labeled(tiny_split / "train.jsonl")
    with pytest.raises(ValueError, match="every task"):
        finetune(calls, calls[:2], short_encoder, TrainConfig(tasks=("offers",)))
    with pytest.raises(ValueError, match="heads-only"):
        finetune(calls, calls[:2], short_encoder, TrainConfig(cue_dropout=0.2))


@pytest.fixture(scope="module")
def finetuned(short_encoder, tiny_split, tmp_path_factory):
    from transcript_qa.training.finetune import finetune

    out = tmp_path_factory.mktemp("ft") / "model"
    seen = []
    an, metrics = finetune(load_labeled(tiny_split / "train.jsonl"), load_labeled(tiny_split / "dev.jsonl"),
                           short_encoder, TrainConfig(epochs=2, augment_asr=False, hidden=32), out,
                           progress=lambda e, n, rec: seen.append((e, n, rec)), warm_start_epochs=2)
    return an, metrics, out, seen


@pytest.mark.slow
def test_finetune_runs_and_reports_like_train_heads(finetuned):
    an, metrics, out, seen = finetuned
    info = metrics["training"]
    assert {"best_epoch", "epochs_run", "train_seconds", "train_calls", "train_calls_with_augmentation",
            "dev_calls", "config", "history", "encode_seconds"} <= set(info)
    assert info["epochs_run"] == 2 and info["train_calls"] == 12 and info["dev_calls"] == 4
    assert [e for e, n, _ in seen] == [1, 2] and all(n == 2 for _, n, _ in seen)
    assert all(np.isfinite(r["loss"]) and "dev_score" in r for _, _, r in seen)
    assert info["finetune"]["warm_start_heads"]["epochs_run"] <= 2
    assert "stages" in metrics["dev"] and an.config["encoder"]["in_model_dir"] is True


@pytest.mark.slow
def test_finetuned_folder_is_hf_native(finetuned):
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    an, metrics, out, _ = finetuned
    files = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer_config.json", "heads.safetensors",
            "transcript_qa.json"} <= files
    assert files & {"tokenizer.json", "vocab.txt"}
    assert not any(f.endswith((".bin", ".pt", ".pkl")) for f in files)
    cfg = json.loads((out / "transcript_qa.json").read_text())
    assert cfg["encoder"]["in_model_dir"] is True and cfg["encoder"]["max_length"] == 64
    assert AutoConfig.from_pretrained(out).model_type == "bert"
    AutoTokenizer.from_pretrained(out)
    AutoModel.from_pretrained(out)


@pytest.mark.slow
def test_finetuned_model_reloads_with_the_same_predictions(finetuned, tiny_split):
    an, _, out, _ = finetuned
    back = Analyzer.load(out, device="cpu", dtype="fp32")
    assert back.encoder.path == out and back.encoder.max_length == 64
    calls = [lc.call for lc in load_labeled(tiny_split / "dev.jsonl")]
    assert [r.to_dict() for r in an.analyze_many(calls)] == [r.to_dict() for r in back.analyze_many(calls)]


@pytest.mark.slow
def test_finetuning_changes_the_encoder_weights(finetuned, short_encoder):
    an, _, out, _ = finetuned
    base = short_encoder.model.get_parameter(PARAM).detach().float().cpu()
    tuned = an.encoder.model.get_parameter(PARAM).detach().float().cpu()
    back = Analyzer.load(out, device="cpu", dtype="fp32").encoder.model.get_parameter(PARAM).detach().cpu()
    assert not torch.equal(base, tuned)
    assert torch.equal(tuned, back)
    # the encoder passed in is left as it was
    from transformers import AutoModel

    assert torch.equal(base, AutoModel.from_pretrained(short_encoder.path).get_parameter(PARAM).detach().float())


def test_finetune_refuses_a_layer_count_out_of_range(short_encoder, tiny_split):
    from transcript_qa.training.finetune import finetune

    calls = load_labeled(tiny_split / "train.jsonl")
    for k in (0, 7):
        with pytest.raises(ValueError, match="between 1 and 6"):
            finetune(calls, calls[:2], short_encoder, TrainConfig(epochs=1), trainable_layers=k)


def test_freeze_below_top_leaves_only_the_top_layers_trainable(short_encoder):
    from transcript_qa.training.finetune import freeze_below_top

    model = copy.deepcopy(short_encoder.model)
    names = freeze_below_top(model, 2)
    assert names and all(n.startswith(("encoder.layer.4.", "encoder.layer.5.")) for n in names)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(names)
    assert any(n.startswith("encoder.layer.4.") for n in names) and any(n.startswith("encoder.layer.5.") for n in names)
    assert not model.get_parameter("embeddings.word_embeddings.weight").requires_grad
    assert not model.get_parameter(PARAM).requires_grad


def test_heads_on_cpu_proxy_encodes_with_the_encoder_and_reports_the_cpu(short_encoder, tiny_split):
    from transcript_qa.training.finetune import _HeadsOnCpu
    from transcript_qa.training.trainer import train_heads

    proxy = _HeadsOnCpu(short_encoder)
    assert proxy.device == "cpu" and proxy.path == short_encoder.path and proxy.dim == short_encoder.dim
    texts = ["thanks for calling", "your card is on its way"]
    np.testing.assert_array_equal(proxy.encode(texts), short_encoder.encode(texts))
    calls = [_head(lc, 6) for lc in load_labeled(tiny_split / "train.jsonl")]
    an, m = train_heads(calls, calls[:3], proxy, TrainConfig(epochs=1, augment_asr=False, hidden=16))
    assert all(p.device.type == "cpu" for p in an.heads.parameters()) and "stages" in m["dev"]


@pytest.fixture(scope="module")
def finetuned_top(short_encoder, tiny_split, tmp_path_factory):
    from transcript_qa.training.finetune import finetune

    out = tmp_path_factory.mktemp("ft-top") / "model"
    an, metrics = finetune(load_labeled(tiny_split / "train.jsonl"), load_labeled(tiny_split / "dev.jsonl"),
                           short_encoder, TrainConfig(epochs=2, augment_asr=False, hidden=32), out,
                           warm_start_epochs=2, trainable_layers=1, encoder_lr=1e-3)
    return an, metrics, out


def test_top_layer_finetuning_saves_only_those_layers(finetuned_top, short_encoder):
    from safetensors.torch import load_file

    an, metrics, out = finetuned_top
    files = {p.name for p in out.iterdir()}
    assert "encoder_delta.safetensors" in files and "heads.safetensors" in files
    assert not files & {"model.safetensors", "config.json", "vocab.txt"}
    delta = load_file(str(out / "encoder_delta.safetensors"))
    assert delta and all(k.startswith("encoder.layer.5.") for k in delta)
    cfg = json.loads((out / "transcript_qa.json").read_text())
    assert cfg["encoder"]["delta"] == {"file": "encoder_delta.safetensors", "layers": [5], "parameters": len(delta)}
    assert not cfg["encoder"].get("in_model_dir")
    assert metrics["training"]["finetune"]["trainable_layers"] == 1
    from transcript_qa.training.card import render_card

    card = render_card(cfg, {"dev": None}, metrics["training"], path=str(out.name))
    assert "then its fine-tuned layers 5 from `encoder_delta.safetensors`" in " ".join(card.split())
    # the top layer moved, the layers below did not
    base = dict(short_encoder.model.named_parameters())
    assert any(not torch.equal(v, base[k].detach().float()) for k, v in delta.items())
    tuned = an.encoder.model
    assert torch.equal(tuned.get_parameter(PARAM).detach().float(), base[PARAM].detach().float())


def test_top_layer_model_reloads_over_the_base_encoder_with_the_same_predictions(finetuned_top, short_encoder,
                                                                                  tiny_split, tmp_path):
    from transcript_qa.training.data import embed_calls

    an, _, out = finetuned_top
    back = Analyzer.load(out, device="cpu", dtype="fp32")
    assert back.encoder.path == short_encoder.path and back.encoder.max_length == 64
    dev = load_labeled(tiny_split / "dev.jsonl")
    calls = [lc.call for lc in dev]
    assert [r.to_dict() for r in an.analyze_many(calls)] == [r.to_dict() for r in back.analyze_many(calls)]
    # its vectors differ from the base encoder's, and never share a cache entry with them
    assert back.encoder.cache_tag and back.encoder.cache_tag == an.encoder.cache_tag  # same layers, same entry
    embed_calls(dev, short_encoder, tmp_path)
    embed_calls(dev, back.encoder, tmp_path)
    assert len(list(tmp_path.glob("emb-*.npy"))) == 2
    assert not np.allclose(short_encoder.encode([calls[0].turns[0].text]), back.encoder.encode([calls[0].turns[0].text]))
    with pytest.raises(ValueError, match="its own fine-tuned encoder"):
        Analyzer.load(out, encoder=short_encoder)


def test_apply_delta_refuses_weights_the_encoder_does_not_have(short_encoder, tmp_path):
    from safetensors.torch import save_file

    before = short_encoder.model.get_parameter(PARAM).detach().clone()
    save_file({"encoder.layer.9.output.dense.weight": torch.zeros(2, 2)}, str(tmp_path / "a.safetensors"))
    with pytest.raises(ValueError, match="a.safetensors.*not in the encoder"):
        short_encoder.apply_delta(tmp_path / "a.safetensors")
    save_file({PARAM: torch.zeros(3, 3)}, str(tmp_path / "b.safetensors"))
    with pytest.raises(ValueError, match="b.safetensors.*shape"):
        short_encoder.apply_delta(tmp_path / "b.safetensors")
    with pytest.raises(FileNotFoundError, match="c.safetensors"):
        short_encoder.apply_delta(tmp_path / "c.safetensors")
    assert torch.equal(before, short_encoder.model.get_parameter(PARAM)) and short_encoder.cache_tag == ""


def test_an_unsaved_finetuned_encoder_never_shares_the_base_cache_key(short_encoder, tiny_split):
    from transcript_qa.training.finetune import finetune

    calls = [_head(lc, 6) for lc in load_labeled(tiny_split / "train.jsonl")]
    an, _ = finetune(calls[:8], calls[8:10], short_encoder, TrainConfig(epochs=1, augment_asr=False, hidden=16),
                     warm_start_epochs=1)
    assert an.encoder.path == short_encoder.path  # no folder of its own
    assert an.encoder.cache_tag.startswith("fine-tuned-") and short_encoder.cache_tag == ""


def test_worker_processes_train_over_the_finetuned_layers(finetuned_top, tiny_split, tmp_path):
    """Members trained in worker processes over a delta encoder see its vectors, not the base's:
    the same heads as one at a time (the workers used to rebuild the encoder without its layers)."""
    from transcript_qa.training.trainer import train_heads_ensemble

    _, _, out = finetuned_top
    enc = Analyzer.load(out, device="cpu", dtype="fp32").encoder
    tr, dv = load_labeled(tiny_split / "train.jsonl"), load_labeled(tiny_split / "dev.jsonl")
    cfg = dict(epochs=2, patience=2, hidden=16, ensemble=2, augment_asr=False)
    seq, _ = train_heads_ensemble(tr, dv, enc, TrainConfig(**cfg), cache_dir=tmp_path / "cache")
    par, _ = train_heads_ensemble(tr, dv, enc, TrainConfig(**cfg, workers=2), cache_dir=tmp_path / "cache")
    a, b = seq.heads.state_dict(), par.heads.state_dict()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    assert len(list((tmp_path / "cache").glob("emb-*.npy"))) == 2  # train and dev, the delta encoder's only


def test_an_encoder_workers_cannot_rebuild_trains_its_members_in_turn(short_encoder, tiny_split, monkeypatch):
    from transcript_qa.training import trainer

    enc = copy.copy(short_encoder)
    enc.cache_tag = "fine-tuned-in-memory"  # changed in memory: no file a worker could load
    assert not trainer._rebuildable(enc) and trainer._rebuildable(short_encoder)
    monkeypatch.setattr(trainer, "_train_members_parallel", lambda *a, **k: pytest.fail("workers used"))
    calls = [_head(lc, 6) for lc in load_labeled(tiny_split / "train.jsonl")]
    with pytest.warns(UserWarning, match="one at a time"):
        an, m = trainer.train_heads_ensemble(calls[:10], calls[10:], enc,
                                             TrainConfig(epochs=1, hidden=16, ensemble=2, workers=2, augment_asr=False))
    assert len(an.heads.members) == 2 and m["training"]["workers"] == 1


def test_train_encoder_from_puts_heads_over_the_finetuned_layers(finetuned_top, tiny_split, tmp_path):
    """train(encoder_from=DIR): heads trained over DIR's encoder, its layers copied beside them; the
    folder loads over the base encoder with the same layers."""
    from transcript_qa.encoder import delta_tag
    from transcript_qa.training.api import train

    _, _, src = finetuned_top
    out = tmp_path / "heads"
    train(tiny_split / "train.jsonl", out, tiny_split / "dev.jsonl", encoder_from=src, device="cpu", dtype="fp32",
          cache_dir=tmp_path / "cache", config=TrainConfig(epochs=2, hidden=16, ensemble=1, augment_asr=False))
    assert (out / "encoder_delta.safetensors").read_bytes() == (src / "encoder_delta.safetensors").read_bytes()
    cfg = json.loads((out / "transcript_qa.json").read_text())
    src_cfg = json.loads((src / "transcript_qa.json").read_text())
    assert cfg["encoder"]["delta"] == src_cfg["encoder"]["delta"] and cfg["encoder"]["from_model"] == src.name
    back = Analyzer.load(out, device="cpu", dtype="fp32")
    assert back.encoder.cache_tag == delta_tag(src / "encoder_delta.safetensors")
    from transcript_qa.analyzer import model_encoder  # the folder's encoder, its config read from the folder

    alone = model_encoder(out, device="cpu", dtype="fp32")
    assert (alone.cache_tag, alone.max_length, alone.delta_path) == (
        back.encoder.cache_tag, back.encoder.max_length, back.encoder.delta_path)
    assert "fine-tuned layers" in " ".join((out / "README.md").read_text().split())
    # heads retrained over the same layers, in the same folder (how make train-default retrains them)
    train(tiny_split / "train.jsonl", out, tiny_split / "dev.jsonl", encoder_from=out, device="cpu", dtype="fp32",
          force=True, cache_dir=tmp_path / "cache", config=TrainConfig(epochs=1, hidden=16, ensemble=1, augment_asr=False))
    again = json.loads((out / "transcript_qa.json").read_text())["encoder"]
    assert again["from_model"] == src.name and again["delta"] == cfg["encoder"]["delta"]
    assert (out / "encoder_delta.safetensors").read_bytes() == (src / "encoder_delta.safetensors").read_bytes()
    # the training vectors were the fine-tuned encoder's: only tagged cache entries were written
    from transcript_qa.training.data import embed_calls

    n = len(list((tmp_path / "cache").glob("emb-*.npy")))
    embed_calls(load_labeled(tiny_split / "dev.jsonl"), back.encoder, tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("emb-*.npy"))) == n  # dev was cached under the delta's key


def test_encoder_from_refuses_a_folder_without_finetuned_layers(tiny_split, tmp_path):
    from transcript_qa.training.api import train

    with pytest.raises(ValueError, match="no fine-tuned layers"):
        train(tiny_split / "train.jsonl", tmp_path / "o", tiny_split / "dev.jsonl", encoder_from=ROOT / "models" / "default")
    whole = tmp_path / "whole"
    whole.mkdir()
    (whole / "transcript_qa.json").write_text(json.dumps({"encoder": {"in_model_dir": True}}))
    with pytest.raises(ValueError, match="whole encoder was fine-tuned"):
        train(tiny_split / "train.jsonl", tmp_path / "o", tiny_split / "dev.jsonl", encoder_from=whole)
    with pytest.raises(FileNotFoundError, match="not a transcript-qa model folder"):
        train(tiny_split / "train.jsonl", tmp_path / "o", tiny_split / "dev.jsonl", encoder_from=tmp_path)


def test_cli_encoder_from_does_not_go_with_finetune_encoder(finetuned_top, tiny_split, tmp_path):
    from typer.testing import CliRunner

    from transcript_qa.cli import app

    _, _, src = finetuned_top
    r = CliRunner().invoke(app, ["train", "--data", str(tiny_split / "train.jsonl"), "--out", str(tmp_path / "o"),
                                 "--encoder-from", str(src), "--finetune-encoder", "--quiet"])
    assert r.exit_code == 2 and "--encoder-from" in " ".join(r.output.split())
