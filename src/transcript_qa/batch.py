"""Batch analysis of an archive: stream calls, analyse in batches, write results, resume after a kill.

Output is written in whole lines and flushed after every batch, so a run killed at any moment (even
``kill -9``) leaves at worst one torn last line, which ``--resume`` drops before it carries on.
Reading runs in a background thread, overlapped with encoding.
"""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from .readers import ReadProblem
from .sources import CallReader, ReadOptions
from .transcript import Call

OUT_FORMATS = ("jsonl", "csv", "parquet")
SKILL_COLS = ("empathy", "courtesy", "active_listening", "ownership", "clarity")


def _malloc_trim() -> Callable[[], None]:
    """glibc's malloc_trim, to hand freed heap back to the OS after each batch: batches of different
    shapes otherwise fragment the heap and RSS creeps up with the size of the archive. A no-op
    elsewhere."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return lambda: libc.malloc_trim(0)
    except (OSError, AttributeError):
        return lambda: None


class BatchError(ValueError):
    """A usage problem with a batch run (existing output, bad format); the CLI exits 2."""


@dataclass
class BatchSummary:
    source: str
    out: str
    errors_file: str
    calls_read: int = 0
    analyzed: int = 0
    skipped_resume: int = 0
    failed: int = 0
    warnings: int = 0
    seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    offer_timing: dict[str, int] = field(default_factory=dict)
    mean_qa_score: float | None = None

    @property
    def calls_per_second(self) -> float:
        return self.analyzed / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["calls_per_second"] = round(self.calls_per_second, 2)
        return d

    def lines(self) -> list[str]:
        out = [f"analysed {self.analyzed} calls in {self.seconds:.1f}s ({self.calls_per_second:.1f} calls/s); "
               f"{self.skipped_resume} already done, {self.failed} failed, {self.warnings} warnings"]
        if self.outcomes:
            out.append("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())))
        if self.offer_timing:
            out.append("offer timing: " + ", ".join(f"{k} {v}" for k, v in sorted(self.offer_timing.items())))
        if self.mean_qa_score is not None:
            out.append(f"mean QA score: {self.mean_qa_score:.1f}")
        out.append(f"results: {self.out}" + (f"; errors: {self.errors_file}" if self.failed or self.warnings else ""))
        return out


def out_format(out: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in OUT_FORMATS:
            raise BatchError(f"unknown output format {fmt!r}; choose from {', '.join(OUT_FORMATS)}")
        return fmt
    suf = out.suffix.lower()
    return {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}.get(suf, "jsonl")


def flat_row(r: dict[str, Any]) -> dict[str, Any]:
    """One flat row a call, for CSV and Parquet."""
    m = r.get("metadata") or {}
    offers = r.get("offers") or []
    # metadata comes from the input as is: a number in one file and a string in the next must not break the
    # Parquet column type (pyarrow refuses mixed types), so these columns are always text
    text = lambda k: "" if m.get(k) is None else str(m[k])  # noqa: E731
    row = {
        "call_id": r["call_id"], "source": r.get("source", ""), "agent_id": text("agent_id"),
        "team": text("team"), "industry": text("industry"), "turns": len(r.get("turns", [])),
        "outcome": r["outcome"], "outcome_confidence": r["outcome_confidence"],
        "resolution_turn": r["resolution_turn"], "offer_count": len(offers),
        "first_offer_turn": offers[0]["turn"] if offers else None,
        "offer_kinds": ";".join(o["kind"] for o in offers), "offer_responses": ";".join(o["response"] for o in offers),
        "offer_timing": r["offer_timing"],
        "stages": ">".join(s["stage"] for s in r.get("stages", [])),
    }
    for s in SKILL_COLS:
        row[s] = r["soft_skills"][s]["score"] if s in r.get("soft_skills", {}) else None
    qs = r.get("qa_score")
    row["qa_score"] = qs["total"] if isinstance(qs, dict) else None
    return row


FLAT_COLUMNS = list(flat_row({"call_id": "", "outcome": "", "outcome_confidence": 0, "resolution_turn": None,
                              "offer_timing": "", "soft_skills": {}}).keys())


def drop_torn_line(path: Path) -> bytes:
    """Cut a torn last line (left by a kill mid-write) off ``path``; return the whole lines."""
    if not path.exists():
        return b""
    with open(path, "rb+") as fh:
        data = fh.read()
        cut = data.rfind(b"\n") + 1
        if cut < len(data):
            fh.truncate(cut)
            data = data[:cut]
    return data


def _problem_keys(data: bytes) -> set[str]:
    """The problems already in an errors file, each as the JSON line a ReadProblem writes."""
    keys = set()
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            keys.add(json.dumps(json.loads(line), ensure_ascii=False))
        except ValueError:
            continue
    return keys


def _resume_mismatch(out: Path, written: list[dict[str, Any]], info: Any) -> str | None:
    """Why the results already in ``out`` (their ``written`` model entries) cannot be continued by a
    model with ``info`` (a ModelInfo), or None: a resumed run must not mix models or offer thresholds."""
    now = asdict(info)  # every field a result records under "model"
    for m in written:
        diff = [k for k in now if k in m and m[k] is not None and m[k] != now[k]]
        if diff:
            was = ", ".join(f"{k} {m[k]!r}" for k in diff)
            is_ = ", ".join(f"{k} {now[k]!r}" for k in diff)
            return (f"{out} holds results of another model setting ({was}); this run has {is_}. Resume with the same "
                    "--model and --offer-threshold, or start again with --force")
    return None


def scan_output(out: Path, fmt: str) -> tuple[set[str], list[dict[str, Any]]]:
    """What a resumed run needs of an output file, in one read: the call ids already in it, and the
    distinct ``model`` entries of its results (JSON lines only: CSV rows do not carry the model). A
    torn last line (from a kill) is cut off first."""
    if not out.exists():
        return set(), []
    data = drop_torn_line(out)
    ids: set[str] = set()
    models: list[dict[str, Any]] = []
    if fmt == "jsonl":
        for line in data.decode("utf-8", errors="replace").splitlines():
            if line.strip():
                try:
                    row = json.loads(line)
                    ids.add(row["call_id"])
                except (ValueError, KeyError, TypeError):
                    continue
                m = row.get("model")
                if isinstance(m, dict) and m not in models:
                    models.append(m)
    else:
        rows = csv.DictReader(io.StringIO(data.decode("utf-8", errors="replace")))
        ids = {r["call_id"] for r in rows if r.get("call_id")}
    return ids, models


class _Writer:
    def __init__(self, out: Path, fmt: str, append: bool):
        self.fmt, self.out = fmt, out
        self.n = 0
        if fmt == "parquet":
            self.rows: list[dict] = []
            self.fh = None
        else:
            new = not (append and out.exists() and out.stat().st_size > 0)
            self.fh = open(out, "a" if append else "w", encoding="utf-8", newline="")
            if fmt == "csv":
                self.csv = csv.DictWriter(self.fh, fieldnames=FLAT_COLUMNS)
                if new:
                    self.csv.writeheader()

    def write(self, results: list[dict[str, Any]]) -> None:
        if self.fmt == "jsonl":
            # one write of whole lines, then flush: a kill leaves at most one torn line
            self.fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results))
        elif self.fmt == "csv":
            for r in results:
                self.csv.writerow(flat_row(r))
        else:
            self.rows += [flat_row(r) for r in results]
        if self.fh:
            self.fh.flush()
            os.fsync(self.fh.fileno())
        self.n += len(results)

    def close(self) -> None:
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pylist(self.rows) if self.rows else pa.table({c: [] for c in FLAT_COLUMNS})
            tmp = self.out.with_suffix(self.out.suffix + ".tmp")
            pq.write_table(table, tmp)
            os.replace(tmp, self.out)
        elif self.fh:
            self.fh.close()


def _reader_thread(reader: CallReader, source: Any, q: "queue.Queue", stop: threading.Event) -> None:
    try:
        for item in reader.iter(source):
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
    except BaseException as e:  # surfaced in the main thread
        q.put(e)
    q.put(None)


def iter_items(reader: CallReader, source: Any, prefetch: int = 512) -> Iterator[Call | ReadProblem]:
    """Read in a background thread so parsing overlaps encoding; memory bounded by ``prefetch``."""
    q: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()
    th = threading.Thread(target=_reader_thread, args=(reader, source, q, stop), daemon=True)
    th.start()
    try:
        while True:
            item = q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def estimate_total(source: Any) -> int | None:
    """A cheap guess of how many calls a source holds (for the ETA), or None."""
    import zipfile

    srcs = [source] if isinstance(source, (str, Path)) else list(source)
    total = 0
    for s in srcs:
        if str(s) == "-":
            return None
        p = Path(s)
        if p.is_dir():
            for f in p.rglob("*"):
                if f.is_file() and not f.name.startswith("."):
                    total += _count_file(f)
        elif p.is_file():
            if p.suffix.lower() == ".zip":
                try:
                    with zipfile.ZipFile(p) as z:
                        total += sum(1 for i in z.infolist() if not i.is_dir())
                except zipfile.BadZipFile:
                    pass
            else:
                total += _count_file(p)
    return total or None


def _count_file(f: Path) -> int:
    if f.suffix.lower() in (".jsonl", ".ndjson"):
        with open(f, "rb") as fh:
            return sum(1 for line in fh if line.strip())
    return 1


def analyze_archive(
    source: Any,
    out: str | Path,
    *,
    analyzer: Any = None,
    model: str | Path | None = None,
    out_format_name: str | None = None,
    errors: str | Path | None = None,
    force: bool = False,
    resume: bool = False,
    batch_size: int = 64,
    max_batch_turns: int = 2048,
    device: str = "auto",
    dtype: str = "auto",
    read_options: ReadOptions | None = None,
    scorecard: Any = None,
    progress: Callable[[int, int | None], None] | bool | None = None,
    offer_threshold: float | None = None,
) -> BatchSummary:
    """Analyse every call in ``source``; write one result per call to ``out``; return the totals.

    Bad files, members, lines or calls go to ``errors`` (JSON lines) and the run goes on. A batch
    closes at ``batch_size`` calls or ``max_batch_turns`` turns, so memory is bounded whatever the
    call lengths and the archive size. ``offer_threshold`` replaces the model's own (every result
    records the one used, under ``model``).
    """
    from .analyzer import Analyzer, check_offer_threshold
    from .scorecard import Scorecard

    out = Path(out)
    fmt = out_format(out, out_format_name)
    if out.exists() and not (force or resume):
        raise BatchError(f"{out} exists; pass --force to overwrite or --resume to continue")
    if resume and fmt == "parquet":
        raise BatchError("--resume works with JSONL and CSV output; Parquet is written whole at the end")
    if force and resume:
        raise BatchError("--force and --resume exclude each other")
    if offer_threshold is not None:
        try:
            offer_threshold = check_offer_threshold(offer_threshold)
        except ValueError as e:
            raise BatchError(str(e)) from None
    errors = Path(errors) if errors else out.with_name(out.name + ".errors.jsonl")
    skip, written = scan_output(out, fmt) if resume else (set(), [])
    # a resumed run reads the bad files again; their problems are counted but not logged twice
    logged = _problem_keys(drop_torn_line(errors)) if resume else set()
    analyzer = analyzer or Analyzer.load(model, device=device, dtype=dtype)
    if offer_threshold is not None:  # a copy: the caller's analyzer keeps its own threshold
        analyzer = analyzer.with_offer_threshold(offer_threshold)
    why = _resume_mismatch(out, written, analyzer.model_info)
    if why:
        raise BatchError(why)
    scorecard = scorecard or Scorecard.default()
    reader = CallReader(read_options)
    summary = BatchSummary(str(source), str(out), str(errors), skipped_resume=0)
    writer = _Writer(out, fmt, append=resume)
    efh = open(errors, "a" if resume else "w", encoding="utf-8")
    total = estimate_total(source) if progress else None
    cb = _progress_bar(total) if progress is True else (progress or None)
    t0 = time.time()
    qa_sum = 0.0
    pending: list[Call] = []
    pending_turns = 0
    trim = _malloc_trim()

    def flush() -> None:
        nonlocal qa_sum
        if not pending:
            return
        results = []
        for call, res in zip(pending, analyzer.analyze_many(pending, batch_size=len(pending))):
            d = res.to_dict()
            d["qa_score"] = scorecard.score(d)
            qa_sum += d["qa_score"]["total"]
            summary.outcomes[d["outcome"]] = summary.outcomes.get(d["outcome"], 0) + 1
            summary.offer_timing[d["offer_timing"]] = summary.offer_timing.get(d["offer_timing"], 0) + 1
            results.append(d)
        writer.write(results)
        summary.analyzed += len(results)
        pending.clear()
        trim()

    try:
        for item in iter_items(reader, source):
            if isinstance(item, ReadProblem):
                line = json.dumps(item.to_dict(), ensure_ascii=False)
                if line not in logged:
                    efh.write(line + "\n")
                    efh.flush()
                if item.level == "error":
                    summary.failed += 1
                else:
                    summary.warnings += 1
                continue
            summary.calls_read += 1
            if item.id in skip:
                summary.skipped_resume += 1
            else:
                pending.append(item)
                pending_turns += len(item.turns)
                if len(pending) >= batch_size or pending_turns >= max_batch_turns:
                    flush()
                    pending_turns = 0
            if cb:
                cb(summary.calls_read + summary.failed, total)
        flush()
    finally:
        writer.close()
        efh.close()
        if hasattr(cb, "close"):
            cb.close()  # type: ignore[union-attr]
    summary.seconds = round(time.time() - t0, 3)
    summary.mean_qa_score = round(qa_sum / summary.analyzed, 2) if summary.analyzed else None
    return summary


class _progress_bar:
    """A rich progress bar with calls/s and ETA, drawn only on a terminal."""

    def __init__(self, total: int | None):
        self.p = None
        if not sys.stderr.isatty():
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.p = Progress(TextColumn("analysing"), BarColumn(), TextColumn("{task.completed}/{task.total} calls"),
                          TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                          transient=True)
        self.p.start()
        self.t0 = time.time()
        self.task = self.p.add_task("analyse", total=total, rate="")

    def __call__(self, done: int, total: int | None) -> None:
        if self.p is not None:
            rate = done / max(1e-9, time.time() - self.t0)
            self.p.update(self.task, completed=done, rate=f"{rate:.1f} calls/s")

    def close(self) -> None:
        if self.p is not None:
            self.p.stop()
