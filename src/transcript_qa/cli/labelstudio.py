"""``transcript-qa export-labelstudio`` / ``import-labelstudio``: the Label Studio labeling round trip."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator, Optional

import typer

from . import app
from .common import AgentOpt, CsvColOpt, FormatOpt, MaxBytesOpt, check_out, err, read_options

LABELED_SUFFIXES = (".jsonl", ".ndjson")


def labeled_file(path: str | Path) -> bool:
    """A labeled JSONL (docs/labels.md): its first call carries labels (stages, outcome or soft skills)."""
    p = Path(path)
    if not p.is_file() or p.suffix.lower() not in LABELED_SUFFIXES:
        return False
    try:
        with open(p, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    obj = json.loads(line)
                    break
            else:
                return False
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    if not isinstance(obj, dict) or not isinstance(obj.get("turns"), list):
        return False
    return ("outcome" in obj or "soft_skills" in obj
            or any(isinstance(t, dict) and "stage" in t for t in obj["turns"]))


def _iter_labeled(path: Path, counts: dict[str, int]) -> Iterator[dict]:
    from ..labels import iter_jsonl, validate_call

    for n, obj, perr in iter_jsonl(path):
        if perr or not isinstance(obj, dict):
            err(f"{path}:{n}: {perr or 'not a call object'}")
            counts["failed"] += 1
            continue
        errs, _ = validate_call(obj)
        if errs:
            err(f"{path}:{n}: warning: call {obj.get('call_id')!r} does not validate ({errs[0]}"
                f"{'; ...' if len(errs) > 1 else ''}); exported with the labels it has")
        counts["labeled"] += 1
        yield obj


@app.command("export-labelstudio")
def export_labelstudio_cmd(
    source: list[str] = typer.Argument(..., help="Transcripts in any format the readers take (files, folders, archives), or a labeled JSONL."),
    out: Path = typer.Option(..., "--out", "-o", help="Label Studio tasks JSON to write (import it into the project); - for stdout."),
    config: Optional[Path] = typer.Option(None, "--config", help="Also write the labeling config XML here (paste it into the project's Labeling Interface)."),
    with_predictions: bool = typer.Option(False, "--with-predictions", help="Labeled files: include their labels as predictions (pre-annotations) to review."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out and --config if they exist."),
    format: Optional[str] = FormatOpt,
    agent_speaker: Optional[list[str]] = AgentOpt,
    max_bytes: int = MaxBytesOpt,
    csv_column: Optional[list[str]] = CsvColOpt,
) -> None:
    """Write Label Studio tasks (one per call) for labeling calls in the shipped labeling config."""
    from ..labelstudio import LABELING_CONFIG, export_tasks
    from ..sources import CallReader
    from ..transcript import Call

    opts = read_options(format, agent_speaker, max_bytes, csv_column)
    check_out(out, force, "--out")
    if config is not None:
        check_out(config, force, "--config")
    counts = {"failed": 0, "labeled": 0}
    reader = CallReader(opts)

    def calls() -> Iterator[Any]:
        for s in source:
            if format is None and labeled_file(s):
                yield from _iter_labeled(Path(s), counts)
                continue
            for item in reader.iter(s):
                if isinstance(item, Call):
                    yield item
                else:
                    err(str(item))

    tasks = export_tasks(calls(), with_predictions=with_predictions)
    failed = counts["failed"] + reader.stats.errors
    if not tasks:
        err("no calls read; nothing written")
        raise typer.Exit(1)
    text = json.dumps(tasks, ensure_ascii=False, indent=1) + "\n"
    if str(out) == "-":
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
    if config is not None:
        config.write_text(LABELING_CONFIG, encoding="utf-8")
    with_pred = sum(1 for t in tasks if t.get("predictions"))
    msg = f"wrote {len(tasks)} tasks ({with_pred} with predictions)"
    if str(out) != "-":
        msg += f" to {out}"
    if config is not None:
        msg += f"; labeling config to {config}"
    err(msg + (f"; {failed} failed" if failed else ""))
    if with_predictions and not counts["labeled"]:
        err("note: --with-predictions: no labeled file among the sources, so no task has predictions")
    raise typer.Exit(1 if failed else 0)


@app.command("import-labelstudio")
def import_labelstudio_cmd(
    export: Path = typer.Argument(..., help="A Label Studio project's JSON export (Export > JSON)."),
    out: Path = typer.Option(..., "--out", "-o", help="Gold calls JSONL to write (docs/labels.md); - for stdout."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
) -> None:
    """Convert a Label Studio JSON export to gold calls; exit 1 naming the tasks that could not be converted."""
    from ..labelstudio import import_export, load_export

    if not export.is_file():
        raise typer.BadParameter(f"{export}: no such file", param_hint="EXPORT")
    check_out(out, force, "--out")
    try:
        tasks = load_export(export)
    except (ValueError, OSError) as e:
        raise typer.BadParameter(str(e), param_hint="EXPORT") from None
    if not tasks:
        err(f"{export}: the export has no tasks; nothing written")
        raise typer.Exit(1)
    calls, problems = import_export(tasks)
    lines = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in calls)
    if str(out) == "-":
        sys.stdout.write(lines)
    else:
        out.write_text(lines, encoding="utf-8")
    for p in problems:
        err(p)
    failed = list(dict.fromkeys(p.split(": ", 1)[0] for p in problems))  # "task 12 (call-id)"
    err(f"imported {len(calls)} of {len(tasks)} tasks" + (f" to {out}" if str(out) != "-" else ""))
    if failed:
        more = f" ... and {len(failed) - 20} more" if len(failed) > 20 else ""
        err(f"{len(failed)} could not be converted: {', '.join(failed[:20])}{more}")
    if not any(isinstance(t, dict) and "annotations" in t for t in tasks):
        err("note: no task has 'annotations': is this the tasks file written by export-labelstudio? "
            "Import Label Studio's export (Export > JSON) instead")
    raise typer.Exit(1 if problems else 0)
