"""``train`` as a plain function: labeled files in, a loadable model folder out."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Callable

from ..analyzer import Analyzer
from ..evaluation import evaluate, headline
from .card import render_card
from .data import LabeledCall, LabeledDataError, embed_calls, file_hash, load_labeled
from .trainer import ALL_TASKS, TrainConfig, save_model, train_heads_ensemble


def _fingerprint(lc: LabeledCall) -> str:
    return hashlib.sha1("\x1e".join(t.text.strip().lower() for t in lc.call.turns).encode()).hexdigest()


def check_overlap(train: list[LabeledCall], other: list[LabeledCall], other_name: str) -> list[str]:
    """Calls of ``train`` that are also in ``other`` (same call_id or the same turn texts)."""
    ids = {lc.call_id for lc in other}
    fps = {_fingerprint(lc) for lc in other}
    return [f"{lc.where} ({lc.call_id})" for lc in train if lc.call_id in ids or _fingerprint(lc) in fps]


def train(
    data: str | Path,
    out: str | Path,
    dev: str | Path | None = None,
    test: str | Path | None = None,
    *,
    tasks: tuple[str, ...] = ALL_TASKS,
    base_model: str | Path | None = None,
    init_model: str | Path | None = None,
    finetune_encoder: bool = False,
    device: str = "cpu",
    dtype: str = "auto",
    config: TrainConfig | None = None,
    force: bool = False,
    cache_dir: str | Path | None = ".cache/transcript-qa",
    progress: Callable[[int, int, dict], None] | None = None,
    dev_fraction: float = 0.15,
    extra_eval: dict[str, str | Path] | None = None,
    card_notes: str = "",
) -> dict[str, Any]:
    """Train on ``data`` (docs/labels.md), select on ``dev``, write a model folder to ``out``.

    Without ``dev``, a seeded ``dev_fraction`` of ``data`` is held out. With ``test``, refuses when
    ``data`` overlaps it, and records the test metrics of the final model. A subset of ``tasks``
    starts from ``init_model`` (default: the shipped default model) and trains only those heads.
    ``extra_eval`` (name -> labeled file) adds more held-out sets to the metrics and the card; like
    ``test``, each must not overlap the training data. ``card_notes`` go under the card's metrics.
    ``dtype`` is the encoder's ('auto': bf16 on a GPU or an AMX CPU, else fp32; 'fp32' gives the same
    vectors on any CPU). Returns the metrics written to ``out/metrics.json``.
    """
    import random

    from ..encoder import TurnEncoder

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out} exists and is not empty; pass --force to overwrite")
    cfg = config or TrainConfig(tasks=tasks)
    cfg.tasks = tuple(tasks)
    cfg.__post_init__()
    train_calls = load_labeled(data)
    if dev:
        dev_calls = load_labeled(dev)
        shared = check_overlap(train_calls, dev_calls, str(dev))
        if shared:
            raise LabeledDataError(f"{data} and {dev} share calls: {shared[:3]}")
    else:
        rng = random.Random(cfg.seed)
        shuffled = train_calls[:]
        rng.shuffle(shuffled)
        k = max(1, int(len(shuffled) * dev_fraction))
        dev_calls, train_calls = shuffled[:k], shuffled[k:]
    for name in extra_eval or {}:
        if name in ("dev", "test", "training") or name.endswith(("_headline", "_file")):
            raise ValueError(f"extra_eval name {name!r} is taken; choose another")
    held_paths = {**({"test": test} if test else {}), **(extra_eval or {})}
    held_out: dict[str, list[LabeledCall]] = {}  # reported only; never trained or selected on
    for name, path in held_paths.items():
        held_out[name] = load_labeled(path)
        clash = check_overlap(train_calls, held_out[name], str(path)) + check_overlap(dev_calls, held_out[name], str(path))
        if clash:
            raise LabeledDataError(
                f"refusing to train: {len(clash)} training/dev calls are also in the {name} file {path}, e.g. {clash[0]}")
    init = None
    if set(cfg.tasks) != set(ALL_TASKS):
        init = Analyzer.load(init_model, device=device, dtype=dtype)
        encoder = init.encoder
    else:
        encoder = TurnEncoder(base_model, device=device, dtype=dtype)
    if finetune_encoder:
        from .finetune import finetune

        analyzer, metrics = finetune(train_calls, dev_calls, encoder, cfg, out, progress=progress)
    else:
        analyzer, metrics = train_heads_ensemble(train_calls, dev_calls, encoder, cfg, init=init, cache_dir=cache_dir,
                                                 progress=progress)
    training = metrics["training"]
    training.update({"train_file": Path(data).name, "data_hash": file_hash([data]), "device": encoder.device,
                     "dev_file": Path(dev).name if dev else f"{dev_fraction:.0%} of {Path(data).name}"})
    result = {"dev": metrics["dev"], "dev_headline": headline(metrics["dev"]), "training": training}
    # a fine-tuned model has its own encoder: encode with it, and without the base encoder's cache
    enc, cache = (analyzer.encoder, None) if finetune_encoder else (encoder, cache_dir)
    for name, held in held_out.items():
        preds = analyzer.analyze_encoded([lc.call for lc in held], embed_calls(held, enc, cache))
        result[name] = evaluate([lc.gold for lc in held], preds)
        result[f"{name}_headline"] = headline(result[name])
        result[f"{name}_file"] = Path(held_paths[name]).name
    extra = {"training": {k: v for k, v in training.items() if k not in ("history", "config")},
             "tasks_trained": list(cfg.tasks)}
    if base_model and not finetune_encoder:
        extra["encoder"] = dict(analyzer.config["encoder"], path_hint=str(base_model))
    if out.exists() and force:
        for f in ("heads.safetensors", "transcript_qa.json", "metrics.json", "README.md"):
            (out / f).unlink(missing_ok=True)
    analyzer.config.update(extra)
    card = render_card(analyzer.config, {"dev": result["dev_headline"], **{n: result[f"{n}_headline"] for n in held_out}},
                       training, path=display_path(out), extra_notes=card_notes)
    save_model(analyzer, out, result, card=card)
    return result


def display_path(p: Path) -> str:
    """The path as a user would type it from here (relative when below the working folder), never
    this machine's absolute path in a card that may be shared."""
    import os

    rel = os.path.relpath(Path(p).resolve())
    return rel if not rel.startswith("..") else Path(p).name


def copy_encoder(src: str | Path, dst: str | Path) -> None:
    """Copy an HF model folder's files (config, weights, tokenizer) into ``dst``."""
    for f in Path(src).iterdir():
        if f.is_file() and not f.name.startswith("."):
            shutil.copy2(f, Path(dst) / f.name)


def evaluate_model(model: str | Path | None, gold: str | Path, device: str = "auto", batch_size: int = 64,
                   dtype: str = "auto", bootstrap: int = 0) -> dict[str, Any]:
    """Run a model on gold calls and compare: the numbers of ``transcript-qa evaluate``.

    ``bootstrap`` > 0 adds 95% percentile intervals of the headline metrics (resampling calls)."""
    analyzer = Analyzer.load(model, device=device, dtype=dtype, batch_size=batch_size)
    calls = load_labeled(gold)
    preds = list(analyzer.analyze_many([lc.call for lc in calls], batch_size=batch_size))
    m = evaluate([lc.gold for lc in calls], preds)
    m["headline"] = headline(m)
    if bootstrap > 0:
        from ..evaluation import bootstrap_headline

        m["headline_ci95"] = bootstrap_headline([lc.gold for lc in calls], preds, n=bootstrap)
        m["bootstrap_samples"] = bootstrap
    m["model"] = str(analyzer.path)
    m["encoder_dtype"] = analyzer.encoder.dtype
    m["gold"] = str(gold)
    return m


def to_json(m: dict[str, Any]) -> str:
    return json.dumps(m, indent=2)
