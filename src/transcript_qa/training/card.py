"""The model card (README.md of a model folder), rendered from a template."""

from __future__ import annotations

from importlib import resources
from typing import Any

from ..evaluation import TARGETS


def render_card(config: dict[str, Any], metrics: dict[str, dict[str, float] | None], training: dict[str, Any],
                path: str = "models/default", extra_notes: str = "") -> str:
    """``metrics``: column name -> headline dict (e.g. {"dev": ..., "test": ...})."""
    from jinja2 import Template

    tpl = Template(resources.files("transcript_qa").joinpath("templates/model_card.md.j2").read_text())
    cols = [k for k, v in metrics.items() if v]
    targets = [(k, (f">= {v}" if k != "soft_skill_mae" else f"<= {v}")) for k, v in TARGETS.items()]
    targets.insert(1, ("stage_macro_f1", "–"))
    return tpl.render(
        name=config.get("name", "transcript-qa"), version=config.get("version", ""),
        encoder=config["encoder"]["name"], in_model_dir=config["encoder"].get("in_model_dir", False),
        delta=config["encoder"].get("delta"),
        heads=config["heads"], path=path, train_calls=training.get("train_calls"),
        train_file=training.get("train_file", ""), data_hash=training.get("data_hash", ""),
        aug_calls=training.get("train_calls_with_augmentation", 0) - training.get("train_calls", 0),
        dev_calls=training.get("dev_calls"), offer_threshold=config["decode"]["offer_threshold"],
        best_epoch=training.get("best_epoch"), epochs_run=training.get("epochs_run"),
        train_seconds=training.get("train_seconds"), device=training.get("device", "cpu"),
        wall_seconds=training.get("wall_seconds"), workers=training.get("workers", 1),
        seed=training.get("config", {}).get("seed"), versions=config.get("versions", {}),
        metric_cols=cols, metrics=metrics, targets=targets, extra_notes=extra_notes,
        ensemble=int(config.get("ensemble", 1)),
    )
