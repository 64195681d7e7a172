"""``transcript-qa train``: heads (or the encoder too) on a team's own labels."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from . import app
from .common import DtypeOpt, err


@app.command("train")
def train_cmd(
    data: Path = typer.Option(..., "--data", help="Labeled calls, JSONL (docs/labels.md)."),
    out: Path = typer.Option(..., "--out", "-o", help="Model folder to write."),
    dev: Optional[Path] = typer.Option(None, "--dev", help="Dev calls for early stopping (default: 15% of --data)."),
    test: Optional[Path] = typer.Option(None, "--test", help="Test calls: refuse any overlap; report their metrics."),
    tasks: str = typer.Option("stages,outcome,offers,soft_skills", "--tasks",
                              help="Tasks to train; a subset starts from --init-model for the rest."),
    init_model: Optional[Path] = typer.Option(None, "--init-model", help="Model to start a subset from (default: models/default)."),
    base_model: Optional[Path] = typer.Option(None, "--base-model", help="Another local encoder folder (BERT-like)."),
    finetune_encoder: bool = typer.Option(False, "--finetune-encoder", help="Fine-tune the transformer too (HF Trainer; meant for a GPU)."),
    finetune_layers: Optional[int] = typer.Option(None, "--finetune-layers", min=1, show_default="all",
                                                  help="With --finetune-encoder: train only the top K transformer layers; the model folder then holds just those (about 7 MB a layer) and loads them over the base encoder."),
    encoder_lr: Optional[float] = typer.Option(None, "--encoder-lr", show_default="2e-5",
                                               help="With --finetune-encoder: the transformer's learning rate (--lr is the heads')."),
    encoder_from: Optional[Path] = typer.Option(None, "--encoder-from",
                                                help="Train the heads over the encoder of this model folder, whose top layers were fine-tuned (--finetune-layers); its layers are copied beside the new heads."),
    device: str = typer.Option("auto", "--device", help="cpu, cuda or auto."),
    epochs: int = typer.Option(100, "--epochs", min=1),
    lr: float = typer.Option(2e-3, "--lr"),
    seed: int = typer.Option(13, "--seed"),
    ensemble: Optional[int] = typer.Option(None, "--ensemble", min=1, show_default="5; 1 with --finetune-encoder",
                                           help="Heads trained with seeds SEED, SEED+1, ... and averaged (the default model uses 10)."),
    workers: int = typer.Option(1, "--workers", min=1,
                                help="Train this many ensemble members at once, one process each (same model, less wall time on several cores; progress per member)."),
    patience: int = typer.Option(15, "--patience", min=1, help="Stop after this many epochs without a better dev score."),
    no_augment: bool = typer.Option(False, "--no-augment", help="Do not add ASR-style copies of clean calls."),
    cue_dropout: float = typer.Option(0.0, "--cue-dropout", min=0.0, max=0.99,
                                      help="Chance of hiding each word-list cue from a training call, so the heads also read the turn vectors."),
    stage_crf: bool = typer.Option(True, "--stage-crf/--no-stage-crf",
                                   help="Learn the stage transitions with a CRF loss (else: from training counts)."),
    also_eval: list[Path] = typer.Option([], "--also-eval",
                                         help="More held-out labeled files to report (repeatable; named by file stem)."),
    dtype: str = DtypeOpt,
    force: bool = typer.Option(False, "--force", help="Overwrite --out."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Train the classifiers on labeled calls; write a folder that Analyzer.load and --model take."""
    from ..encoder import resolve_device
    from ..training.api import train
    from ..training.data import LabeledDataError
    from ..training.trainer import TrainConfig

    task_list = tuple(t.strip() for t in tasks.split(",") if t.strip())
    if finetune_encoder and ((ensemble or 1) > 1 or workers > 1):
        raise typer.BadParameter("--finetune-encoder trains one model: --ensemble and --workers are for heads-only training")
    if (finetune_layers is not None or encoder_lr is not None) and not finetune_encoder:
        raise typer.BadParameter("--finetune-layers and --encoder-lr go with --finetune-encoder")
    if encoder_lr is not None and not 0 < encoder_lr < 1:
        raise typer.BadParameter(f"--encoder-lr must be in (0, 1), got {encoder_lr}")
    if encoder_from is not None and (finetune_encoder or base_model is not None):
        raise typer.BadParameter("--encoder-from trains heads over a fine-tuned encoder as it is: not with "
                                 "--finetune-encoder or --base-model")
    if finetune_encoder and cue_dropout > 0:
        raise typer.BadParameter("--cue-dropout is for heads-only training; --finetune-encoder does not use it")
    ensemble = ensemble or (1 if finetune_encoder else 5)
    try:
        cfg = TrainConfig(epochs=epochs, lr=lr, seed=seed, patience=patience, augment_asr=not no_augment, tasks=task_list,
                          ensemble=ensemble, stage_crf=stage_crf, workers=workers, cue_dropout=cue_dropout)
        extra = {p.stem: p for p in also_eval}
        if len(extra) != len(also_eval):
            raise ValueError("--also-eval files need distinct file names (each is reported under its stem)")
        dev_name = resolve_device(device)
    except (ValueError, RuntimeError) as e:
        raise typer.BadParameter(str(e))
    bar = None
    per_member = workers > 1 and ensemble > 1 and not finetune_encoder
    unit = "members done" if per_member else "epoch"
    if not quiet and sys.stderr.isatty():
        from rich.progress import BarColumn, Progress, TextColumn

        bar = Progress(TextColumn("training"), BarColumn(), TextColumn(f"{unit} {{task.completed}}/{{task.total}}"),
                       TextColumn("{task.fields[info]}"), transient=True)
        bar.start()
        task = bar.add_task("train", total=ensemble if per_member else epochs, info="")
    if per_member and not quiet:
        err(f"training {ensemble} members in {min(workers, ensemble)} processes; progress is per member")

    def progress(step: int, total: int, rec: dict) -> None:
        if quiet:
            return
        if "members_done" in rec:  # parallel members: one update as each finishes
            info = f"member {rec['member'] + 1}: best epoch {rec['best_epoch']}, dev {rec['dev_score']:.3f}"
        else:
            info = f"loss {rec['loss']:.3f} dev {rec['dev_score']:.3f}"
        if bar is not None:
            bar.update(task, completed=step, total=total, info=info)
        elif per_member or finetune_encoder or step % 10 == 0:  # a log, not a terminal: plain lines
            err(f"training: {unit} {step}/{total}, {info}")

    try:
        result = train(data, out, dev, test, tasks=task_list, base_model=base_model, init_model=init_model,
                       finetune_encoder=finetune_encoder, finetune_layers=finetune_layers, encoder_lr=encoder_lr,
                       encoder_from=encoder_from, device=dev_name, dtype=dtype, config=cfg, force=force, progress=progress,
                       extra_eval=extra)
    except (LabeledDataError, FileExistsError, FileNotFoundError, ValueError) as e:
        if bar:
            bar.stop()
        err(f"error: {e}")
        raise typer.Exit(2)
    if bar:
        bar.stop()
    tr = result["training"]
    err(f"trained in {tr['train_seconds']}s, best epoch {tr['best_epoch']}; model written to {out}")
    for split in ("dev", "test", *extra):
        if f"{split}_headline" in result:
            err(f"{split}: " + ", ".join(f"{k} {v:.3f}" for k, v in result[f"{split}_headline"].items()))
