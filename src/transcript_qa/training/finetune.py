"""Fine-tuning the turn encoder together with the heads, with the HF ``Trainer``.

``transcript-qa train --finetune-encoder`` lands here. One training example is a *call*: the
collator tokenizes every turn of the batch's calls (dynamic padding, the encoder's max_length),
:class:`EncoderWithHeads` encodes them with gradients, mean-pools and L2-normalises each turn
exactly as :meth:`TurnEncoder.encode` does, regroups the turn vectors per call, pads them and runs
the heads; the loss is the heads' loss of ``train_heads`` (``trainer._loss``), one source of truth.

Recipe:

1. ``warm_start_heads`` (default): the heads first train on frozen vectors of the base encoder with
   ``train_heads`` (cheap: each turn is encoded once), so the joint phase starts from useful heads
   rather than sending random-head gradients into the transformer ("linear probe, then fine-tune").
2. Joint phase, ``min(cfg.epochs, 10)`` epochs: AdamW with two parameter groups, the transformer at
   ``encoder_lr`` (2e-5) and the heads at ``cfg.lr`` when they start fresh, ``cfg.lr / 10`` when
   warm-started (a fresh AdamW at the heads' own rate knocks warm heads off their optimum: the
   training loss rose in the first joint epoch); linear decay with 10% warm-up; gradient clipping
   at 1.0; bf16 autocast on a GPU that supports it, fp32 on the CPU. After each epoch the dev
   calls are analysed with the current weights; the best epoch (``selection_score``) is kept,
   with ``cfg.patience``.
3. The offer threshold is chosen on dev as ``train_heads`` does.

How the defaults were chosen (CPU, 40 training calls without ASR copies, 12 dev calls,
max_length 64, 3 joint epochs; dev selection score after each epoch): fresh heads at 2e-3 reached
0.28 / 0.30 / 0.30 (training loss 6.9 -> 6.1); warm-started heads (0.665 on frozen vectors) at
2e-3 gave 0.61 / 0.54 / 0.62, at 2e-4 0.62 / 0.60 / 0.63. On so little data fine-tuning did not
beat the warm-started heads alone; ``info["finetune"]["warm_start_heads"]["dev_score"]`` records
that baseline for comparison. Fine-tuning is meant for a GPU and a few hundred calls or more.

The model folder ``out`` is HF-native: ``config.json``, ``model.safetensors`` and the tokenizer
files (``save_pretrained``) beside ``heads.safetensors`` and ``transcript_qa.json``, whose
``encoder.in_model_dir`` is true, so ``Analyzer.load(out)`` takes the fine-tuned encoder from
``out`` itself. With ``trainable_layers`` K (``--finetune-layers K``) only the top K transformer
layers train, and the folder holds only them, ``encoder_delta.safetensors`` (about 7 MB a layer),
named by ``encoder.delta``: ``Analyzer.load`` loads the base encoder (the pip package), then those
layers over it. Such a folder stays small enough to commit (two layers and the heads: about 15 MB).

On a GPU the warm start encodes there but trains its heads on the CPU (``_HeadsOnCpu``).
"""

from __future__ import annotations

import copy
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..analyzer import Analyzer
from ..encoder import delta_tag
from ..evaluation import evaluate, headline, selection_score
from .data import LabeledCall, LabeledDataError, augment_asr, embed_calls
from .trainer import (ALL_TASKS, TrainConfig, _call_item, _init_transitions, _loss, _new_heads, _seed,
                      _select_threshold, model_config, save_model, train_heads)

ENCODER_LR = 2e-5
BATCH_CALLS = 4  # calls per training batch (all their turns go through the transformer together)
MAX_EPOCHS = 10  # the CLI's --epochs default (100) is meant for the heads alone
WARM_START_EPOCHS = 30
WARM_HEADS_LR_FACTOR = 0.1  # warm-started heads continue at cfg.lr / 10 (see the module docstring)
WARMUP = 0.1
ENCODER_DELTA_FILE = "encoder_delta.safetensors"  # the trained layers of a partly fine-tuned encoder


class _HeadsOnCpu:
    """An encoder that encodes where it lives (a GPU) but reports the CPU as its device, so that
    ``train_heads`` trains the warm-start heads there: they are tiny, and on a GPU each step waits on
    kernel launches (on an H100 their 30 epochs ran more than twice as slowly as on one CPU thread)."""

    def __init__(self, encoder):
        self._encoder = encoder
        self.device = "cpu"

    def __getattr__(self, name):
        return getattr(self._encoder, name)


def _check_layers(model, k: int) -> int:
    """The number of transformer layers of ``model``; refuses a ``k`` out of range."""
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if layers is None:
        raise ValueError("--finetune-layers needs a BERT-like encoder (model.encoder.layer)")
    n = len(layers)
    if not 1 <= k <= n:
        raise ValueError(f"--finetune-layers must be between 1 and {n} (the encoder's layers), got {k}")
    return n


def freeze_below_top(model, k: int) -> list[str]:
    """Leave only the top ``k`` transformer layers of a BERT-like ``model`` trainable (embeddings and
    lower layers frozen); returns the names of the trainable parameters."""
    n = _check_layers(model, k)
    top = tuple(f"encoder.layer.{i}." for i in range(n - k, n))
    names = []
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(top))
        if p.requires_grad:
            names.append(name)
    return names


def mean_pool(hidden, attention_mask):
    """Mean over the unpadded tokens, then L2 normalisation in fp32: as ``TurnEncoder.encode``."""
    import torch

    mf = attention_mask.unsqueeze(-1).to(hidden.dtype)
    v = (hidden * mf).sum(1) / mf.sum(1).clamp(min=1)
    return torch.nn.functional.normalize(v.float(), dim=-1)


def _module_class():
    import torch
    from torch import nn

    class EncoderWithHeads(nn.Module):
        """The transformer and the heads as one module; ``forward`` takes a batch of calls."""

        def __init__(self, encoder: nn.Module, heads: nn.Module, cfg: TrainConfig):
            super().__init__()
            self.encoder = encoder
            self.heads = heads
            self.cfg = cfg
            self.reset_loss()

        def reset_loss(self) -> None:
            self.loss_sum = 0.0
            self.loss_calls = 0

        def encode_turns(self, input_ids, attention_mask, order):
            """Turn vectors [turns of the batch, dim], with grad. The turns come in chunks sorted by
            length (little padding); ``order`` puts them back in call order."""
            return torch.cat([mean_pool(self.encoder(input_ids=x, attention_mask=m).last_hidden_state, m)
                              for x, m in zip(input_ids, attention_mask)])[order]

        def forward(self, input_ids, attention_mask, order, call_lens, feats, mask, agent, items):
            vecs = self.encode_turns(input_ids, attention_mask, order)
            lens = [int(n) for n in call_lens]
            emb = torch.nn.utils.rnn.pad_sequence(list(torch.split(vecs, lens)), batch_first=True)
            if emb.shape[1] < mask.shape[1]:  # pad_batch makes T >= 1 even for empty calls
                emb = torch.nn.functional.pad(emb, (0, 0, 0, mask.shape[1] - emb.shape[1]))
            b = {"emb": emb, "feats": feats, "mask": mask, "agent": agent}
            out = self.heads(b["emb"], b["feats"], b["mask"], b["agent"])
            loss = _loss(out, items, b, self.cfg, str(vecs.device))
            if self.training:
                self.loss_sum += float(loss.detach()) * len(items)
                self.loss_calls += len(items)
            return {"loss": loss}

    return EncoderWithHeads


class CallCollator:
    """Rows ``{"idx": i}`` -> one batch of calls: the tokenized turns of all of them (sorted by length,
    in chunks of ``chunk`` turns each padded to its own longest: dynamic padding), the padded cue
    features / masks (``pad_batch``) and the calls' targets."""

    def __init__(self, items: Sequence[dict[str, Any]], texts: Sequence[list[str]], tokenizer, max_length: int,
                 chunk: int = 64):
        self.items, self.texts, self.tokenizer, self.max_length = items, texts, tokenizer, max_length
        self.chunk = chunk

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        from .batching import pad_batch

        idx = [int(r["idx"]) for r in rows]
        items = [self.items[i] for i in idx]
        texts = [t for i in idx for t in self.texts[i]]
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        srt = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        input_ids, attention_mask = [], []
        for s in range(0, len(srt), self.chunk):
            enc = self.tokenizer.pad({"input_ids": [ids[i] for i in srt[s : s + self.chunk]]}, return_tensors="pt")
            input_ids.append(enc["input_ids"])
            attention_mask.append(enc["attention_mask"])
        order = torch.empty(len(srt), dtype=torch.long)
        order[torch.tensor(srt, dtype=torch.long)] = torch.arange(len(srt))
        # zero-width vectors: pad_batch lays out feats / mask / agent; the module pads the vectors
        b = pad_batch([np.zeros((len(it["agent"]), 0), np.float32) for it in items], [it["feats"] for it in items],
                      [it["agent"] for it in items])
        targets = [{k: v for k, v in it.items() if k not in ("feats", "agent")} for it in items]
        return {"input_ids": input_ids, "attention_mask": attention_mask, "order": order,
                "call_lens": [len(it["agent"]) for it in items], "feats": b["feats"], "mask": b["mask"],
                "agent": b["agent"], "items": targets}


def _fp32_copy(encoder):
    """The encoder's transformer in fp32 for training: a copy, or the weights reloaded from its folder
    when it runs in bf16 (casting bf16 back up would start from rounded weights)."""
    if encoder.dtype == "fp32":
        return copy.deepcopy(encoder.model).float()
    import torch
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(encoder.path), local_files_only=True, dtype=torch.float32).to(encoder.device)


def _encoder_view(base, model, device: str, dtype: str, path: Path | None = None):
    """A TurnEncoder that runs ``model`` (same tokenizer, max_length and pooling as ``base``)."""
    enc = copy.copy(base)
    enc.model = model
    enc.device = device
    enc.dtype = dtype
    if path is not None:
        enc.path = Path(path)
    return enc


def finetune(
    train: Sequence[LabeledCall],
    dev: Sequence[LabeledCall],
    encoder,
    cfg: TrainConfig | None = None,
    out: str | Path | None = None,
    progress: Callable[[int, int, dict], None] | None = None,
    *,
    batch_size: int = BATCH_CALLS,
    encoder_lr: float = ENCODER_LR,
    heads_lr: float | None = None,
    max_epochs: int = MAX_EPOCHS,
    warm_start_heads: bool = True,
    warm_start_epochs: int = WARM_START_EPOCHS,
    trainable_layers: int | None = None,
) -> tuple[Analyzer, dict[str, Any]]:
    """Fine-tune ``encoder``'s transformer with the heads on ``train``; select the epoch on ``dev``.

    Trains ``min(cfg.epochs, max_epochs)`` joint epochs of ``batch_size`` calls per step. With
    ``warm_start_heads`` the heads start from ``train_heads`` on the frozen base vectors
    (``warm_start_epochs`` epochs at most, with ``cfg.patience``); without, they start fresh.
    ``heads_lr`` defaults to ``cfg.lr`` for fresh heads and ``cfg.lr / 10`` for warm-started ones.
    ``encoder`` itself is left untouched (its transformer is copied, in fp32, for training).
    ``trainable_layers`` K trains only the transformer's top K layers (embeddings and the layers
    below frozen); the folder then holds just those layers (``encoder_delta.safetensors``, about
    7 MB a MiniLM layer in fp32) and loads them over the base encoder. Without it the whole
    transformer trains and the folder is HF-native (config, weights, tokenizer). Writes the folder
    to ``out`` (when given) and returns
    ``(analyzer, {"dev": metrics, "training": info})`` as ``train_heads`` does.
    """
    import torch

    try:
        import datasets
        from transformers import (PrinterCallback, ProgressCallback, Trainer, TrainerCallback,
                                  TrainingArguments)
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError(f"fine-tuning the encoder needs transformers' Trainer and accelerate: {e}") from e

    cfg = cfg or TrainConfig()
    if cfg.cue_dropout > 0:
        raise ValueError("cue_dropout is for heads-only training; fine-tuning the encoder does not use it")
    if set(cfg.tasks) != set(ALL_TASKS):
        raise ValueError("--finetune-encoder trains every task together (a new encoder invalidates the other "
                         "tasks' heads); leave --tasks at its default")
    if len(train) < cfg.min_calls:
        raise LabeledDataError(f"too little training data: {len(train)} calls; at least {cfg.min_calls} are needed")
    if not dev:
        raise LabeledDataError("no dev calls: pass --dev FILE (used for early stopping and model selection)")
    if batch_size < 1 or max_epochs < 1:
        raise ValueError("batch_size and max_epochs must be >= 1")
    if trainable_layers is not None:
        _check_layers(encoder.model, trainable_layers)  # refuse a bad K before any training
    t0 = time.time()
    if heads_lr is None:
        heads_lr = cfg.lr * WARM_HEADS_LR_FACTOR if warm_start_heads else cfg.lr
    epochs = min(cfg.epochs, max_epochs)
    device = encoder.device
    use_cuda = str(device).startswith("cuda")
    bf16 = bool(use_cuda and torch.cuda.is_bf16_supported())

    # ---- the heads: warm-started on frozen vectors, or fresh ------------------------------------
    warm_info = None
    if warm_start_heads:
        with torch.enable_grad():  # whatever the caller set (torch.set_grad_enabled)
            # encoded on the encoder's device; the small heads train on the CPU (see _HeadsOnCpu)
            warm, wm = train_heads(train, dev, _HeadsOnCpu(encoder) if use_cuda else encoder,
                                   replace(cfg, epochs=warm_start_epochs))
        heads = warm.heads
        warm_info = {k: wm["training"][k] for k in ("best_epoch", "epochs_run", "train_seconds")}
        warm_info["dev_score"] = round(selection_score(wm["dev"]), 4)
    _seed(cfg.seed)
    train_all = list(train) + (augment_asr(train, cfg.seed) if cfg.augment_asr else [])
    items = [_call_item(lc) for lc in train_all]
    texts = [[t.text for t in lc.call.turns] for lc in train_all]
    if not warm_start_heads:
        heads = _new_heads(encoder.dim, cfg)
        _init_transitions(heads, items)
    heads = heads.float().train()
    model = _fp32_copy(encoder).train()
    tuned = freeze_below_top(model, trainable_layers) if trainable_layers else None
    module = _module_class()(model, heads, cfg)

    # ---- the HF Trainer --------------------------------------------------------------------------
    enc_params = [p for p in module.encoder.parameters() if p.requires_grad]
    head_params = [p for p in module.heads.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([
        {"params": enc_params, "lr": encoder_lr, "weight_decay": 0.01},
        {"params": head_params, "lr": heads_lr, "weight_decay": cfg.weight_decay},
    ])
    ds = datasets.Dataset.from_list([{"idx": i} for i in range(len(items))])
    collate = CallCollator(items, texts, encoder.tokenizer, encoder.max_length)
    dev_calls = [lc.call for lc in dev]
    dev_feats = [_call_item(lc)["feats"] for lc in dev]
    config = model_config(heads.cfg.to_dict(), encoder,
                          {"offer_threshold": 0.5, "transition_weight": 1.0, "evidence_turns": 3})
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {}

    class EpochEnd(TrainerCallback):
        """After each epoch: analyse dev with the current weights, report, keep the best, stop early."""

        def on_epoch_end(self, args, state, control, **kw):
            epoch = len(history) + 1
            dev_dev = str(next(module.parameters()).device)
            module.eval()
            view = _encoder_view(encoder, module.encoder, dev_dev, "fp32")
            an = Analyzer(module.heads, config, view)
            with torch.no_grad():
                m = evaluate([lc.gold for lc in dev], an.analyze_encoded(dev_calls, embed_calls(dev, view), dev_feats))
            module.train()
            score = selection_score(m)
            rec = {"epoch": epoch, "loss": round(module.loss_sum / max(1, module.loss_calls), 4),
                   "dev_score": round(score, 4), **headline(m)}
            module.reset_loss()
            history.append(rec)
            if progress:
                progress(epoch, epochs, rec)
            if not best or score > best["score"]:
                best.update(score=score, epoch=epoch, bad=0,
                            state={k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()})
            else:
                best["bad"] += 1
                if best["bad"] >= cfg.patience:
                    control.should_training_stop = True
            return control

    with tempfile.TemporaryDirectory(prefix="transcript-qa-ft-") as tmp:
        args = TrainingArguments(
            output_dir=tmp, remove_unused_columns=False, per_device_train_batch_size=batch_size,
            num_train_epochs=epochs, learning_rate=encoder_lr, lr_scheduler_type="linear", warmup_steps=WARMUP,
            max_grad_norm=1.0, bf16=bf16, use_cpu=not use_cuda, report_to=[], save_strategy="no",
            eval_strategy="no", logging_strategy="no", disable_tqdm=True, seed=cfg.seed, data_seed=cfg.seed,
            dataloader_num_workers=0, dataloader_pin_memory=use_cuda,
        )
        trainer = Trainer(model=module, args=args, train_dataset=ds, data_collator=collate,
                          optimizers=(opt, None), callbacks=[EpochEnd()])
        for cb in (PrinterCallback, ProgressCallback):
            trainer.remove_callback(cb)
        with torch.enable_grad():  # whatever the caller set (torch.set_grad_enabled)
            trainer.train()
    module.load_state_dict(best["state"])
    module.eval()
    model, heads = module.encoder, module.heads

    # ---- the final analyzer: the best weights, in the dtype Analyzer.load will use ----------------
    out_path = Path(out) if out is not None else None
    tag = ""
    if out_path is not None:
        out_path.mkdir(parents=True, exist_ok=True)
        if tuned:  # only the trained layers; the base encoder comes from where it always does
            from safetensors.torch import save_file

            params = dict(model.named_parameters())
            save_file({k: params[k].detach().float().cpu().contiguous() for k in tuned}, str(out_path / ENCODER_DELTA_FILE))
            tag = delta_tag(out_path / ENCODER_DELTA_FILE)
        else:
            model.save_pretrained(str(out_path))  # config.json + model.safetensors, fp32
            encoder.tokenizer.save_pretrained(str(out_path))
    model.to(device)
    if encoder.dtype == "bf16":
        model.to(torch.bfloat16)
    heads.to(device)
    # a delta lies over the base folder, and an unsaved encoder has no folder of its own: either way
    # the path alone would give the base encoder's cache key, so a tag keeps their vectors apart
    ft_encoder = _encoder_view(encoder, model, device, encoder.dtype, None if tuned else out_path)
    if tuned or out_path is None:
        ft_encoder.cache_tag = tag or f"fine-tuned-{id(model)}"
    if tuned:
        n_layers = len(model.encoder.layer)
        config["encoder"].update(name=f"{encoder.name} (top {trainable_layers} layers fine-tuned)", base=encoder.name,
                                 delta={"file": ENCODER_DELTA_FILE,
                                        "layers": list(range(n_layers - trainable_layers, n_layers)),
                                        "parameters": len(tuned)})
    else:
        config["encoder"].update(name=f"{encoder.name} (fine-tuned)", base=encoder.name, in_model_dir=True,
                                 package=None)
    analyzer = Analyzer(heads, config, ft_encoder)
    dev_metrics = _select_threshold(analyzer, dev, embed_calls(dev, ft_encoder), cfg)
    info = {"best_epoch": best["epoch"], "epochs_run": len(history), "encode_seconds": 0,
            "train_seconds": round(time.time() - t0, 1), "train_calls": len(train),
            "train_calls_with_augmentation": len(train_all), "dev_calls": len(dev), "config": asdict(cfg),
            "history": history,
            "finetune": {"encoder_lr": encoder_lr, "heads_lr": heads_lr, "batch_calls": batch_size, "epochs": epochs,
                         "bf16": bf16, "trainable_layers": trainable_layers or "all",
                         "warm_start_heads": warm_info}}
    metrics = {"dev": dev_metrics, "training": info}
    if out_path is not None:
        save_model(analyzer, out_path, metrics)
    return analyzer, metrics
