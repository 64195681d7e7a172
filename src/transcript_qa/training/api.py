"""``train`` as a plain function: labeled files in, a loadable model folder out."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Callable

from ..analyzer import MODEL_CONFIG, Analyzer, model_encoder
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
    finetune_layers: int | None = None,
    encoder_lr: float | None = None,
    encoder_from: str | Path | None = None,
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
    vectors on any CPU). ``finetune_encoder`` trains the transformer too; ``finetune_layers`` K only
    its top K layers, saved alone and loaded over the base encoder; ``encoder_lr`` is the
    transformer's learning rate (default ``finetune.ENCODER_LR``). ``encoder_from``, a model folder
    whose top encoder layers were fine-tuned (``--finetune-layers``), trains heads over that encoder
    (frozen): the folder's layers are copied beside the new heads and load over the base encoder as
    theirs do. Returns the metrics written to ``out/metrics.json``.
    """
    import random

    from ..encoder import TurnEncoder

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out} exists and is not empty; pass --force to overwrite")
    from_enc = _delta_source(encoder_from) if encoder_from is not None else None
    if from_enc is not None and (finetune_encoder or base_model or set(tasks) != set(ALL_TASKS)):
        raise ValueError("encoder_from trains all heads over a fine-tuned encoder as it is: it does not go with "
                         "finetune_encoder, base_model or a subset of tasks")
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
    held_paths = _held_paths(test, extra_eval)
    held_out = _load_held_out(held_paths, train_calls, dev_calls)
    init = None
    if set(cfg.tasks) != set(ALL_TASKS):
        init = Analyzer.load(init_model, device=device, dtype=dtype)
        encoder = init.encoder
    elif from_enc is not None:  # that folder's encoder, as Analyzer.load builds it
        encoder = model_encoder(Path(encoder_from), from_enc[1], device=device, dtype=dtype)
    else:
        encoder = TurnEncoder(base_model, device=device, dtype=dtype)
    if finetune_encoder:
        from .finetune import ENCODER_LR, finetune

        analyzer, metrics = finetune(train_calls, dev_calls, encoder, cfg, out, progress=progress,
                                     trainable_layers=finetune_layers, encoder_lr=encoder_lr or ENCODER_LR)
    else:
        analyzer, metrics = train_heads_ensemble(train_calls, dev_calls, encoder, cfg, init=init, cache_dir=cache_dir,
                                                 progress=progress)
    training = metrics["training"]
    training.update({"train_file": Path(data).name, "data_hash": file_hash([data]), "device": encoder.device,
                     "dev_file": Path(dev).name if dev else f"{dev_fraction:.0%} of {Path(data).name}"})
    extra: dict[str, Any] = {"tasks_trained": list(cfg.tasks)}
    if base_model and not (finetune_encoder and not finetune_layers):  # a delta loads over this base
        extra["encoder"] = dict(analyzer.config["encoder"], path_hint=str(base_model))
    if from_enc is not None:  # the layers travel with the heads, named as the source folder named them
        delta_file, enc_cfg = from_enc
        out.mkdir(parents=True, exist_ok=True)
        target = out / enc_cfg["delta"]["file"]
        if not (target.exists() and target.samefile(delta_file)):
            shutil.copyfile(delta_file, target)
        # from_model: the folder whose fine-tuning made these layers (kept when they were passed on before)
        extra["encoder"] = dict(enc_cfg, from_model=enc_cfg.get("from_model") or Path(encoder_from).name)
    # a fine-tuned model has its own encoder: encode with it, and without the base encoder's cache
    enc, cache = (analyzer.encoder, None) if finetune_encoder else (encoder, cache_dir)
    return _finish(analyzer, metrics["dev"], training, out, held_out, held_paths, enc, cache, extra, force, card_notes)


def _delta_source(folder: str | Path) -> tuple[Path, dict[str, Any]]:
    """The fine-tuned layers file of model ``folder`` and its ``encoder`` config; refuses a folder
    whose encoder is the base one or a whole fine-tuned transformer."""
    folder = Path(folder)
    cfg_path = folder / MODEL_CONFIG
    if not cfg_path.exists():
        raise FileNotFoundError(f"{folder}: not a transcript-qa model folder (no {MODEL_CONFIG})")
    enc_cfg = json.loads(cfg_path.read_text()).get("encoder", {})
    if enc_cfg.get("in_model_dir"):
        raise ValueError(f"{folder}: its whole encoder was fine-tuned (90 MB in the folder); encoder_from takes a "
                         "model whose top layers alone were fine-tuned (--finetune-encoder --finetune-layers K)")
    if not enc_cfg.get("delta"):
        raise ValueError(f"{folder}: its encoder has no fine-tuned layers (encoder.delta in {MODEL_CONFIG}); "
                         "encoder_from takes a model trained with --finetune-encoder --finetune-layers K")
    delta_file = folder / enc_cfg["delta"]["file"]
    if not delta_file.exists():
        raise FileNotFoundError(f"{delta_file}: no such file (the fine-tuned layers {cfg_path} names)")
    return delta_file, enc_cfg


def _held_paths(test: str | Path | None, extra_eval: dict[str, str | Path] | None) -> dict[str, str | Path]:
    """The held-out files by the name they are reported under: ``test``, then the extra ones."""
    if "test" in (extra_eval or {}):
        raise ValueError("extra_eval name 'test' is taken; choose another")
    return {**({"test": test} if test else {}), **(extra_eval or {})}


def _load_held_out(paths: dict[str, str | Path], *others: list[LabeledCall]) -> dict[str, list[LabeledCall]]:
    """Held-out files by name, refused when any shares a call with ``others`` (training and dev calls)."""
    held_out: dict[str, list[LabeledCall]] = {}  # reported only; never trained or selected on
    for name, path in paths.items():
        if name in ("dev", "training") or name.endswith(("_headline", "_file")):
            raise ValueError(f"held-out name {name!r} is taken; choose another")
        held_out[name] = load_labeled(path)
        clash = [c for o in others for c in check_overlap(o, held_out[name], str(path))]
        if clash:
            raise LabeledDataError(
                f"refusing to train: {len(clash)} training/dev calls are also in the {name} file {path}, e.g. {clash[0]}")
    return held_out


def _finish(analyzer: Analyzer, dev_metrics: dict[str, Any], training: dict[str, Any], out: Path,
            held_out: dict[str, list[LabeledCall]], held_paths: dict[str, str | Path], encoder, cache_dir,
            extra: dict[str, Any], force: bool, card_notes: str) -> dict[str, Any]:
    """Score the held-out sets, render the card and write the model folder; return its metrics."""
    result = {"dev": dev_metrics, "dev_headline": headline(dev_metrics), "training": training}
    for name, held in held_out.items():
        preds = analyzer.analyze_encoded([lc.call for lc in held], embed_calls(held, encoder, cache_dir))
        result[name] = evaluate([lc.gold for lc in held], preds)
        result[f"{name}_headline"] = headline(result[name])
        result[f"{name}_file"] = Path(held_paths[name]).name
    extra = {"training": {k: v for k, v in training.items() if k not in ("history", "config")}, **extra}
    if out.exists() and force:
        for f in ("heads.safetensors", "transcript_qa.json", "metrics.json", "README.md"):
            (out / f).unlink(missing_ok=True)
    analyzer.config.update(extra)
    card = render_card(analyzer.config, {"dev": result["dev_headline"], **{n: result[f"{n}_headline"] for n in held_out}},
                       training, path=display_path(out), extra_notes=card_notes)
    save_model(analyzer, out, result, card=card)
    return result


def merge_models(
    folders: list[str | Path],
    out: str | Path,
    data: str | Path,
    dev: str | Path,
    test: str | Path | None = None,
    *,
    device: str = "cpu",
    dtype: str = "fp32",
    force: bool = False,
    cache_dir: str | Path | None = ".cache/transcript-qa",
    extra_eval: dict[str, str | Path] | None = None,
    card_notes: str = "",
) -> dict[str, Any]:
    """Average the members of model folders trained by one recipe on one training file with
    consecutive seeds (``--seed S --ensemble A``, then ``--seed S+A --ensemble B``, ...): the model
    that ``--seed S --ensemble A+B`` trains, since each member depends only on its own seed. ``data``
    is the training file, checked against the hash the parts recorded. The offer threshold and the
    Viterbi weight are chosen on ``dev`` again, as training does; ``test`` and ``extra_eval`` are
    reported as ``train`` reports them. Returns the metrics it writes.
    """
    from dataclasses import fields

    from ..heads import EnsembleHeads
    from .trainer import _select_threshold

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out} exists and is not empty; pass --force to overwrite")
    if len(folders) < 2:
        raise ValueError("merge_models needs at least two model folders")
    first = Analyzer.load(folders[0], device=device, dtype=dtype)
    models = [first] + [Analyzer.load(f, encoder=first.encoder) for f in folders[1:]]  # one encoder for all
    infos = [json.loads((Path(f) / "metrics.json").read_text())["training"] for f in folders]
    info0 = infos[0]
    seed = info0["config"]["seed"]
    free = {"seed", "ensemble", "workers"}  # what may differ between the parts
    for f, an, info in zip(folders, models, infos):
        if an.config.get("encoder", {}).get("in_model_dir") or an.config.get("encoder", {}).get("delta"):
            raise ValueError(f"{f}: a fine-tuned encoder cannot be merged with other members")
        for what, a, b in [("heads config", an.config["heads"], first.config["heads"]),
                           ("encoder", an.config.get("encoder"), first.config.get("encoder")),
                           ("feature set", an.feature_names, first.feature_names),
                           ("training data", info["data_hash"], info0["data_hash"]),
                           ("recipe", {k: v for k, v in info["config"].items() if k not in free},
                            {k: v for k, v in info0["config"].items() if k not in free})]:
            if a != b:
                raise ValueError(f"{f}: its {what} differs from {folders[0]}'s; only parts of one recipe can merge")
        if info["config"]["seed"] != seed:
            raise ValueError(f"{f}: starts at seed {info['config']['seed']}, expected {seed} (seeds must follow on)")
        seed += int(info["config"].get("ensemble", 1))
    if file_hash([data]) != info0["data_hash"]:
        raise ValueError(f"{data} is not the training file the parts were trained on (its hash differs)")
    members = [m for an in models for m in (an.heads.members if isinstance(an.heads, EnsembleHeads) else [an.heads])]
    n = len(members)
    config = {k: v for k, v in first.config.items() if k not in ("training", "tasks_trained", "ensemble")}
    analyzer = Analyzer(EnsembleHeads(members).eval(), dict(config, ensemble=n), first.encoder)
    dev_calls = load_labeled(dev)
    held_paths = _held_paths(test, extra_eval)
    held_out = _load_held_out(held_paths, load_labeled(data), dev_calls)
    recipe = {fld.name for fld in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in info0["config"].items() if k in recipe})
    dev_metrics = _select_threshold(analyzer, dev_calls, embed_calls(dev_calls, first.encoder, cache_dir), cfg)
    training = dict(info0)
    for key in ("best_epoch", "epochs_run", "history"):
        training[key] = [x for info in infos for x in (info[key] if info.get("ensemble", 1) > 1 else [info[key]])]
    training.update({"ensemble": n, "merged_from": [Path(f).name for f in folders],
                     "train_seconds": round(sum(i["train_seconds"] for i in infos), 1),
                     "wall_seconds": round(sum(i.get("wall_seconds", i["train_seconds"]) for i in infos), 1),
                     "config": dict(info0["config"], ensemble=n),
                     "dev_file": Path(dev).name, "device": first.encoder.device})
    extra = {"tasks_trained": first.config.get("tasks_trained", list(ALL_TASKS))}
    return _finish(analyzer, dev_metrics, training, out, held_out, held_paths, first.encoder, cache_dir, extra, force,
                   card_notes)


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


def evaluate_model(model: str | Path | Analyzer | None, gold: str | Path, device: str = "auto", batch_size: int = 64,
                   dtype: str = "auto", bootstrap: int = 0, offer_threshold: float | None = None) -> dict[str, Any]:
    """Run a model on gold calls and compare: the numbers of ``transcript-qa evaluate``.

    ``model`` is a model folder (None: the default) or an already loaded ``Analyzer`` (then
    ``device`` and ``dtype`` are its own). ``bootstrap`` > 0 adds 95% percentile intervals of the
    headline metrics (resampling calls); ``offer_threshold`` replaces the model's own (to see what a
    stricter or looser one does; a loaded analyzer is left unchanged)."""
    if isinstance(model, Analyzer):
        analyzer = model
    else:
        analyzer = Analyzer.load(model, device=device, dtype=dtype, batch_size=batch_size)
    if offer_threshold is not None:  # a copy: a caller's analyzer keeps its own threshold
        analyzer = analyzer.with_offer_threshold(offer_threshold)
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
    m["offer_threshold"] = analyzer.decode.offer_threshold
    m["gold"] = str(gold)
    return m


def to_json(m: dict[str, Any]) -> str:
    return json.dumps(m, indent=2)
