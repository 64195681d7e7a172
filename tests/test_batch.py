"""Batch analysis of an archive: bad inputs go to the errors file, exit codes, kill -9 + --resume,
CSV / Parquet output, --force.

The CLI runs as a real subprocess where the process matters (SIGKILL) and where it is cheap (usage errors,
exit 2, stop before torch is imported); elsewhere it runs in-process through typer's CliRunner: the same
command code, without the ~10 s torch/transformers start-up of a fresh interpreter. The console-script
variant of the exit-1 run is marked slow (``--runslow``).
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from transcript_qa.batch import FLAT_COLUMNS, BatchError, analyze_archive
from transcript_qa.cli import app
from transcript_qa.labels import OFFER_TIMINGS, OUTCOMES, SKILLS

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "datasets" / "calls" / "dev.jsonl"
EXE = Path(sys.executable).with_name("transcript-qa")
if not EXE.exists():
    EXE = ROOT / ".venv" / "bin" / "transcript-qa"

runner = CliRunner()

TURNS_A = [
    ("agent", "Thank you for calling Northmere Bank, this is Priya, how can I help you today?"),
    ("customer", "Hi, my card was declined at the shop this morning and I don't know why."),
    ("agent", "I'm sorry to hear that. Can I take your full name and date of birth, please?"),
    ("customer", "Sure, it's Callum Reid, fourteenth of March 1988."),
    ("agent", "Thanks Callum. I can see a fraud block on the card; I've removed it now, so it will work again."),
    ("customer", "Brilliant, thank you so much. That's everything, bye."),
]
TURNS_B = [
    ("agent", "Good morning, Brightline Broadband, Sam speaking."),
    ("customer", "Hello, my internet has been dropping out every evening for a week."),
    ("agent", "That sounds frustrating. Could you confirm the account holder's postcode for me?"),
    ("customer", "It's LS6 2AB."),
    ("agent", "Thank you. I can't fix this from here, so I'm booking an engineer visit for Thursday."),
    ("customer", "Okay, fine. Thanks."),
]


def native_call(cid: str, turns, **metadata) -> str:
    return json.dumps({"call_id": cid, "metadata": metadata or {"team": "support"},
                       "turns": [{"speaker": s, "text": t} for s, t in turns]})


def text_call(turns) -> str:
    return "".join(f"{s.capitalize()}: {t}\n" for s, t in turns)


def write_good(folder: Path) -> dict[str, int]:
    """Three good calls; returns {call_id: number of turns}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good1.json").write_text(native_call("good-1", TURNS_A), encoding="utf-8")
    (folder / "good2.txt").write_text(text_call(TURNS_B), encoding="utf-8")  # call id = file stem
    (folder / "good3.json").write_text(native_call("good-3", TURNS_B), encoding="utf-8")
    return {"good-1": 6, "good2": 6, "good-3": 6}


BAD = {  # file name -> what its error reason must say
    "broken.json": "invalid JSON",
    "empty.json": "empty file",
    "noise.bin": "binary",
    "noturns.json": "no turns",
}


def write_mixed(folder: Path) -> dict[str, int]:
    good = write_good(folder)
    (folder / "broken.json").write_text('{"call_id": "b", "turns": [{"speaker": "agent", "text": "Hel', encoding="utf-8")
    (folder / "empty.json").write_bytes(b"")
    rng = random.Random(7)
    (folder / "noise.bin").write_bytes(bytes(rng.randrange(256) for _ in range(3000)) + b"\x00" * 16)
    (folder / "noturns.json").write_text('{"call_id": "x", "turns": []}', encoding="utf-8")
    # not UTF-8: read with a warning, so it is a good call
    latin = ("Agent: Bonjour, ça va ?\nCustomer: Ça ne va pas, ma carte est bloquée.\n"
             "Agent: Désolé, je vérifie votre compte.\nCustomer: Merci.\n"
             "Agent: C'est réglé, la carte fonctionne à nouveau.\nCustomer: Parfait, au revoir.\n")
    (folder / "latin1.txt").write_bytes(latin.encode("latin-1"))
    return {**good, "latin1": 6}


def dev_jsonl(path: Path, n: int, turns: int = 4) -> list[str]:
    """n labeled calls from the corpus, cut to their first ``turns`` turns (keeps the test fast)."""
    ids, lines = [], []
    for line in DEV.read_text(encoding="utf-8").splitlines()[:n]:
        obj = json.loads(line)
        obj["turns"] = obj["turns"][:turns]
        ids.append(obj["call_id"])
        lines.append(json.dumps(obj))
    assert len(ids) == n
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


def read_jsonl(path: Path) -> list[dict]:
    """Every line must be whole, valid JSON."""
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), "output ends in a torn line"
    return [json.loads(line) for line in text.splitlines()]


def plain(s: str) -> str:
    """CLI error text without rich's box drawing and line wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", s).split())


def run_cli(*args, timeout: int = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def summary_of(stdout: str) -> dict:
    return json.loads([ln for ln in stdout.splitlines() if ln.startswith("{")][-1])


# ---- good and bad files ---------------------------------------------------------------------------
def test_mixed_folder_results_and_error_records(tmp_path, tiny_model):
    src = tmp_path / "calls"
    good = write_mixed(src)
    out = tmp_path / "results.jsonl"
    summary = analyze_archive(src, out, model=tiny_model, device="cpu", batch_size=3)

    rows = read_jsonl(out)
    assert sorted(r["call_id"] for r in rows) == sorted(good)  # one line per good call, no more
    for r in rows:
        assert len(r["turns"]) == good[r["call_id"]]
        assert r["outcome"] in OUTCOMES and r["offer_timing"] in OFFER_TIMINGS
        qs = r["qa_score"]
        assert 0 <= qs["total"] <= 100 and qs["scorecard"] == "service-first"
        assert len(qs["breakdown"]) == 10
    by_id = {r["call_id"]: r for r in rows}
    assert by_id["latin1"]["source"].endswith("latin1.txt")

    errors = Path(summary.errors_file)
    assert errors == tmp_path / "results.jsonl.errors.jsonl"
    recs = read_jsonl(errors)
    errs = {Path(e["source"]).name: e["reason"] for e in recs if e["level"] == "error"}
    assert set(errs) == set(BAD)
    for name, must in BAD.items():
        assert must in errs[name], (name, errs[name])
    warns = [e for e in recs if e["level"] == "warning"]
    assert [Path(w["source"]).name for w in warns] == ["latin1.txt"] and "UTF-8" in warns[0]["reason"]

    assert summary.failed == len(BAD) == 4
    assert summary.analyzed == summary.calls_read == len(good) == 4
    assert summary.warnings == 1
    assert summary.mean_qa_score == pytest.approx(sum(r["qa_score"]["total"] for r in rows) / len(rows), abs=0.01)
    assert sum(summary.outcomes.values()) == sum(summary.offer_timing.values()) == 4


def _check_exit_1_run(tmp_path: Path, good: dict[str, int], code: int, stdout: str, out: Path) -> None:
    assert code == 1
    s = summary_of(stdout)
    assert s["failed"] == 4 and s["analyzed"] == 4 and s["warnings"] == 1
    assert {r["call_id"] for r in read_jsonl(out)} == set(good)
    assert {Path(e["source"]).name for e in read_jsonl(tmp_path / "r.jsonl.errors.jsonl")
            if e["level"] == "error"} == set(BAD)


def test_cli_exit_1_when_some_inputs_fail(tmp_path, tiny_model):
    src = tmp_path / "calls"
    good = write_mixed(src)
    out = tmp_path / "r.jsonl"
    r = invoke("analyze", src, "--out", out, "--model", tiny_model, "--quiet", "--summary-json")
    _check_exit_1_run(tmp_path, good, r.exit_code, r.stdout, out)


@pytest.mark.slow  # the same through the installed console script; a fresh interpreter costs ~10 s of imports
def test_console_script_exit_1_when_some_inputs_fail(tmp_path, tiny_model):
    src = tmp_path / "calls"
    good = write_mixed(src)
    out = tmp_path / "r.jsonl"
    proc = run_cli("analyze", src, "--out", out, "--model", tiny_model, "--quiet", "--summary-json")
    assert proc.returncode == 1, proc.stderr
    _check_exit_1_run(tmp_path, good, proc.returncode, proc.stdout, out)


def test_cli_exit_0_when_all_inputs_read(tmp_path, tiny_model):
    src = tmp_path / "calls"
    good = write_good(src)
    out = tmp_path / "r.jsonl"
    errors = tmp_path / "errs.jsonl"
    r = invoke("analyze", src, "--out", out, "--errors", errors, "--model", tiny_model, "--quiet")
    assert r.exit_code == 0, r.output
    assert {x["call_id"] for x in read_jsonl(out)} == set(good)
    assert errors.read_text() == ""


@pytest.mark.parametrize("extra, message", [
    (["--out-format", "xml"], "unknown output format 'xml'"),
    ([], "exists; pass --force to overwrite"),
    (["--force", "--dtype", "fp16"], "choose auto, fp32, bf16"),
])
def test_cli_usage_errors_exit_2(tmp_path, extra, message):
    src = tmp_path / "calls"
    write_good(src)
    out = tmp_path / "r.out"
    out.write_text("keep me\n")
    proc = run_cli("analyze", src, "--out", out, *extra, "--quiet", timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert message in plain(proc.stderr)
    assert out.read_text() == "keep me\n"  # untouched


# ---- kill -9 and --resume -----------------------------------------------------------------------
def test_kill_9_then_resume_gives_each_call_exactly_once(tmp_path, tiny_model):
    src = tmp_path / "calls.jsonl"
    ids = dev_jsonl(src, 40)
    out = tmp_path / "r.jsonl"
    log = open(tmp_path / "stderr.txt", "w")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen([str(EXE), "analyze", str(src), "--out", str(out), "--model", str(tiny_model),
                             "--batch-size", "2", "--quiet"], stdout=subprocess.DEVNULL, stderr=log, env=env)
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            if out.exists() and out.read_bytes().count(b"\n") >= 4:
                break
            if proc.poll() is not None:
                pytest.fail(f"analyze exited {proc.returncode} before it was killed: "
                            f"{(tmp_path / 'stderr.txt').read_text()[-2000:]}")
            time.sleep(0.01)
        else:
            pytest.fail("no output within 180 s")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()

    done = [json.loads(line)["call_id"] for line in out.read_bytes().split(b"\n")[:-1]]
    assert 4 <= len(done) < len(ids), "the kill must land mid-run"
    # simulate a kill in the middle of writing the next result: a torn, unterminated line
    pending = next(i for i in ids if i not in done)
    with open(out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"call_id": pending, "source": "x", "turns": []})[:40])

    r = invoke("analyze", src, "--out", out, "--resume", "--model", tiny_model,
               "--quiet", "--summary-json")
    assert r.exit_code == 0, r.output
    s = summary_of(r.stdout)
    assert s["skipped_resume"] == len(done)
    assert s["analyzed"] == len(ids) - len(done)

    rows = read_jsonl(out)  # every line whole, valid JSON (the torn line was dropped)
    got = [row["call_id"] for row in rows]
    assert len(got) == len(set(got)) == len(ids)
    assert set(got) == set(ids)
    assert got[: len(done)] == done  # what was there before the kill is kept as it was
    assert all("qa_score" in row for row in rows)


def test_resume_without_an_existing_output_just_runs(tmp_path, tiny_analyzer):
    src = tmp_path / "calls.jsonl"
    ids = dev_jsonl(src, 3)
    out = tmp_path / "r.jsonl"
    s = analyze_archive(src, out, analyzer=tiny_analyzer, resume=True)
    assert s.analyzed == 3 and s.skipped_resume == 0
    assert [r["call_id"] for r in read_jsonl(out)] == ids
    # and a second --resume over a finished output does nothing
    s = analyze_archive(src, out, analyzer=tiny_analyzer, resume=True)
    assert s.analyzed == 0 and s.skipped_resume == 3
    assert [r["call_id"] for r in read_jsonl(out)] == ids


def test_resume_logs_each_read_problem_once(tmp_path, tiny_analyzer):
    src = tmp_path / "calls"
    src.mkdir()
    ids = dev_jsonl(src / "good.jsonl", 2)
    (src / "bad.json").write_text("{not json", encoding="utf-8")
    (src / "empty.txt").write_text("", encoding="utf-8")
    out = tmp_path / "r.jsonl"
    first = analyze_archive(src, out, analyzer=tiny_analyzer)
    errors = Path(first.errors_file)
    logged = read_jsonl(errors)
    assert first.failed + first.warnings == len(logged) >= 2
    assert {Path(p["source"]).name for p in logged} >= {"bad.json", "empty.txt"}

    again = analyze_archive(src, out, analyzer=tiny_analyzer, resume=True)
    assert again.skipped_resume == len(ids) and again.analyzed == 0
    assert again.failed + again.warnings == len(logged)  # still counted in this run's summary
    assert read_jsonl(errors) == logged  # but not written again

    (src / "worse.json").write_text("[1, 2", encoding="utf-8")  # a new bad file is logged on resume
    third = analyze_archive(src, out, analyzer=tiny_analyzer, resume=True)
    now = read_jsonl(errors)
    assert now[: len(logged)] == logged and len(now) == len(logged) + 1
    assert Path(now[-1]["source"]).name == "worse.json"
    assert third.failed + third.warnings == len(now)


# ---- CSV and Parquet ----------------------------------------------------------------------------
REQUIRED_COLS = ["call_id", "outcome", "offer_timing", "qa_score", *SKILLS]


def test_csv_and_parquet_outputs_match_jsonl(tmp_path, tiny_analyzer):
    import pyarrow.parquet as pq

    src = tmp_path / "calls.jsonl"
    ids = dev_jsonl(src, 4)
    analyze_archive(src, tmp_path / "r.jsonl", analyzer=tiny_analyzer)
    ref = {r["call_id"]: r for r in read_jsonl(tmp_path / "r.jsonl")}

    analyze_archive(src, tmp_path / "r.csv", analyzer=tiny_analyzer)
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames
        csv_rows = list(reader)
    assert header == FLAT_COLUMNS and set(REQUIRED_COLS) <= set(header)
    assert [r["call_id"] for r in csv_rows] == ids

    analyze_archive(src, tmp_path / "r.parquet", analyzer=tiny_analyzer)
    assert not list(tmp_path.glob("*.tmp"))
    table = pq.read_table(tmp_path / "r.parquet")
    assert table.num_rows == 4 and set(REQUIRED_COLS) <= set(table.column_names)
    pq_rows = table.to_pylist()
    assert [r["call_id"] for r in pq_rows] == ids

    for c, p in zip(csv_rows, pq_rows):
        j = ref[c["call_id"]]
        assert c["outcome"] == p["outcome"] == j["outcome"]
        assert c["offer_timing"] == p["offer_timing"] == j["offer_timing"]
        assert float(c["qa_score"]) == p["qa_score"] == j["qa_score"]["total"]
        assert int(c["turns"]) == p["turns"] == len(j["turns"]) == 4
        assert c["agent_id"] == p["agent_id"] == j["metadata"]["agent_id"]
        for s in SKILLS:
            assert int(c[s]) == p[s] == j["soft_skills"][s]["score"]
            assert 1 <= p[s] <= 5
        assert int(c["offer_count"]) == p["offer_count"] == len(j["offers"])


def test_out_format_option_overrides_the_suffix(tmp_path, tiny_analyzer):
    src = tmp_path / "calls.jsonl"
    dev_jsonl(src, 1)
    out = tmp_path / "results.txt"
    analyze_archive(src, out, analyzer=tiny_analyzer, out_format_name="csv")
    assert out.read_text(encoding="utf-8").splitlines()[0] == ",".join(FLAT_COLUMNS)


def test_csv_resume_drops_torn_row_and_writes_header_once(tmp_path, tiny_analyzer):
    src = tmp_path / "calls.jsonl"
    ids = dev_jsonl(src, 4)
    out = tmp_path / "r.csv"
    analyze_archive(src, out, analyzer=tiny_analyzer)
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(lines) == 5
    out.write_text("".join(lines[:3]) + lines[3][:25], encoding="utf-8")  # header + 2 rows + a torn row

    s = analyze_archive(src, out, analyzer=tiny_analyzer, resume=True)
    assert s.skipped_resume == 2 and s.analyzed == 2
    text = out.read_text(encoding="utf-8")
    assert text.count("call_id,") == 1
    with open(out, newline="", encoding="utf-8") as fh:
        got = [r["call_id"] for r in csv.DictReader(fh)]
    assert got == ids


def test_parquet_with_metadata_of_mixed_types(tmp_path, tiny_analyzer):
    """agent_id a number in one file and a string in the next: Parquet must still be written."""
    import pyarrow.parquet as pq

    src = tmp_path / "calls"
    src.mkdir()
    (src / "a.json").write_text(native_call("a", TURNS_A, agent_id=1042, team=7), encoding="utf-8")
    (src / "b.json").write_text(native_call("b", TURNS_B, agent_id="bank-a01", team="cards"), encoding="utf-8")
    out = tmp_path / "r.parquet"
    s = analyze_archive(src, out, analyzer=tiny_analyzer)
    assert s.analyzed == 2
    t = pq.read_table(out).to_pydict()
    assert t["call_id"] == ["a", "b"]
    assert t["agent_id"] == ["1042", "bank-a01"] and t["team"] == ["7", "cards"] and t["industry"] == ["", ""]


def test_parquet_resume_is_refused(tmp_path, tiny_analyzer):
    src = tmp_path / "calls.jsonl"
    dev_jsonl(src, 2)
    out = tmp_path / "r.parquet"
    out.write_bytes(b"PAR1 an earlier run PAR1")  # refused before anything is read or written
    before = out.read_bytes()
    with pytest.raises(BatchError, match="Parquet"):
        analyze_archive(src, out, analyzer=tiny_analyzer, resume=True)
    proc = run_cli("analyze", src, "--out", out, "--resume", "--quiet", timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "--resume works with JSONL and CSV" in plain(proc.stderr)
    assert out.read_bytes() == before


# ---- --force --------------------------------------------------------------------------------------
def test_force_overwrites_and_its_absence_refuses(tmp_path, tiny_analyzer):
    src = tmp_path / "calls.jsonl"
    ids = dev_jsonl(src, 2)
    out = tmp_path / "r.jsonl"
    out.write_text('{"call_id": "stale"}\n')
    with pytest.raises(BatchError, match="exists; pass --force"):
        analyze_archive(src, out, analyzer=tiny_analyzer)
    assert out.read_text() == '{"call_id": "stale"}\n'

    s = analyze_archive(src, out, analyzer=tiny_analyzer, force=True)
    assert s.analyzed == 2
    assert [r["call_id"] for r in read_jsonl(out)] == ids  # the stale line is gone

    with pytest.raises(BatchError, match="exclude each other"):
        analyze_archive(src, out, analyzer=tiny_analyzer, force=True, resume=True)


def test_cli_force_overwrites(tmp_path, tiny_model):
    src = tmp_path / "calls"
    good = write_good(src)
    out = tmp_path / "r.csv"
    out.write_text("stale\n")
    r = invoke("analyze", src, "--out", out, "--model", tiny_model, "--quiet")
    assert r.exit_code == 2 and "--force" in plain(r.output)
    assert out.read_text() == "stale\n"
    r = invoke("analyze", src, "--out", out, "--model", tiny_model, "--quiet", "--force")
    assert r.exit_code == 0, r.output
    with open(out, newline="", encoding="utf-8") as fh:
        assert {row["call_id"] for row in csv.DictReader(fh)} == set(good)


# ---- the offer threshold a run uses -----------------------------------------------------------------
def _offers_and_threshold(out: Path) -> tuple[dict[str, set[int]], set[float], list[float]]:
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return ({r["call_id"]: {o["turn"] for o in r["offers"]} for r in rows}, {r["model"]["offer_threshold"] for r in rows},
            [o["confidence"] for r in rows for o in r["offers"]])


def test_offer_threshold_option_replaces_the_models_and_is_recorded(tmp_path, tiny_model):
    src = tmp_path / "calls"
    write_good(src)
    own = json.loads((tiny_model / "transcript_qa.json").read_text())["decode"]["offer_threshold"]
    runs = {}
    for name, extra in (("own", []), ("low", ["--offer-threshold", "0.000001"]), ("high", ["--offer-threshold", "0.9"])):
        out = tmp_path / f"{name}.jsonl"
        r = invoke("analyze", src, "--out", out, "--model", tiny_model, "--quiet", *extra)
        assert r.exit_code == 0, r.output
        runs[name] = _offers_and_threshold(out)
    assert runs["own"][1] == {own} and runs["low"][1] == {0.000001} and runs["high"][1] == {0.9}
    for name, thr in (("own", own), ("low", 0.000001), ("high", 0.9)):
        assert all(c >= round(thr, 4) for c in runs[name][2])
    calls = [json.loads(line) for line in (tmp_path / "own.jsonl").read_text().splitlines()]
    agent = {c["call_id"]: {t["index"] for t in c["turns"] if t["role"] == "agent"} for c in calls}
    assert agent["good-1"] == {0, 2, 4}  # TURNS_A alternates agent and customer
    # a near-zero threshold flags every agent turn (and no customer turn); a higher one keeps a subset
    assert runs["low"][0] == agent
    assert own <= 0.9
    for cid in agent:
        assert runs["high"][0][cid] <= runs["own"][0][cid] <= runs["low"][0][cid]


@pytest.mark.parametrize("bad", ["0", "1.5", "-0.2"])
def test_offer_threshold_outside_0_1_is_refused(tmp_path, tiny_model, bad):
    src = tmp_path / "calls"
    write_good(src)
    r = invoke("analyze", src, "--out", tmp_path / "r.jsonl", "--model", tiny_model, "--offer-threshold", bad)
    assert r.exit_code == 2 and "--offer-threshold" in r.output
    assert not (tmp_path / "r.jsonl").exists()
    with pytest.raises(BatchError, match="offer threshold"):
        analyze_archive(src, tmp_path / "r2.jsonl", model=tiny_model, offer_threshold=float(bad))


def test_resume_refuses_to_mix_offer_thresholds_or_models_in_one_file(tmp_path, tiny_model):
    src = tmp_path / "calls"
    write_good(src)
    out = tmp_path / "r.jsonl"
    r = invoke("analyze", src, "--out", out, "--model", tiny_model, "--quiet", "--offer-threshold", "0.9")
    assert r.exit_code == 0, r.output
    rows = out.read_text().splitlines()
    out.write_text("\n".join(rows[:1]) + "\n")  # as if killed after the first call
    before = out.read_text()
    r = invoke("analyze", src, "--out", out, "--model", tiny_model, "--quiet", "--resume", "--offer-threshold", "0.5")
    assert r.exit_code == 2 and "offer_threshold 0.9" in " ".join(r.output.split())
    assert out.read_text() == before  # nothing added to a file it would have mixed
    # a model with another name likewise
    renamed = tmp_path / "renamed"
    shutil.copytree(tiny_model, renamed)
    cfg = json.loads((renamed / "transcript_qa.json").read_text())
    cfg["name"] = "another-model"
    (renamed / "transcript_qa.json").write_text(json.dumps(cfg))
    r = invoke("analyze", src, "--out", out, "--model", renamed, "--quiet", "--resume", "--offer-threshold", "0.9")
    assert r.exit_code == 2 and "another-model" in " ".join(r.output.split())
    # the same setting resumes, and the file ends with every call once, all at one threshold
    r = invoke("analyze", src, "--out", out, "--model", tiny_model, "--quiet", "--resume", "--offer-threshold", "0.9")
    assert r.exit_code == 0, r.output
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(g["call_id"] for g in got) == sorted(write_good(tmp_path / "again"))
    assert {g["model"]["offer_threshold"] for g in got} == {0.9}


def test_offer_threshold_of_a_run_leaves_the_callers_analyzer_as_it_was(tmp_path, tiny_analyzer):
    src = tmp_path / "calls"
    write_good(src)
    own = tiny_analyzer.decode.offer_threshold
    analyze_archive(src, tmp_path / "r.jsonl", analyzer=tiny_analyzer, offer_threshold=0.95)
    assert tiny_analyzer.decode.offer_threshold == own
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert {r["model"]["offer_threshold"] for r in rows} == {0.95}
