"""Sources (folders, archives, JSONL, stdin), bad inputs, and the ``convert`` command."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from transcript_qa.cli import app
from transcript_qa.readers import ReadProblem
from transcript_qa.sources import CallReader, ReadOptions, iter_calls, read_calls
from transcript_qa.transcript import Call

FIX = Path(__file__).parent / "fixtures"
FMT = FIX / "formats"
ROOT = Path(__file__).resolve().parents[1]

NATIVE = {"call_id": "n1", "metadata": {"team": "cards"}, "turns": [
    {"speaker": "agent", "text": "Thanks for calling, how can I help?", "start": 0.0, "end": 2.0},
    {"speaker": "customer", "text": "My card is blocked.", "start": 2.5, "end": 4.0},
]}


def native(cid: str, **kw) -> dict:
    return {**NATIVE, "call_id": cid, **kw}


def split(items) -> tuple[list[Call], list[ReadProblem], list[ReadProblem]]:
    items = list(items)
    calls = [i for i in items if isinstance(i, Call)]
    errors = [i for i in items if isinstance(i, ReadProblem) and i.level == "error"]
    warns = [i for i in items if isinstance(i, ReadProblem) and i.level == "warning"]
    return calls, errors, warns


# ---- folders and archives ---------------------------------------------------------------------
def test_folder_is_read_recursively_and_hidden_files_are_skipped(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    shutil.copy(FMT / "call.vtt", tmp_path / "a" / "call.vtt")
    shutil.copy(FMT / "deepgram.json", tmp_path / "a" / "b" / "deepgram.json")
    (tmp_path / "top.json").write_text(json.dumps(native("top")))
    (tmp_path / ".hidden.json").write_text("{broken")
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01binary")
    calls, errors, warns = split(iter_calls(tmp_path))
    assert sorted(c.id for c in calls) == ["call", "deepgram", "top"]
    assert errors == [] and warns == []
    assert {c.metadata["format"] for c in calls} == {"vtt", "deepgram", "native"}


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


MEMBERS = {
    "calls/aws.json": (FMT / "aws_transcribe_speakers.json").read_bytes(),
    "calls/sub/call.srt": (FMT / "call.srt").read_bytes(),
    "calls/rows.csv": (FMT / "calls.csv").read_bytes(),
    "calls/bad.json": b'{"turns": [ oops',
    "__MACOSX/calls/._aws.json": b"\x00\x05\x16\x07junk",
    "calls/._call.srt": b"\x00\x05\x16\x07junk",
}


def test_zip_members_are_read_in_memory_and_named(tmp_path):
    z = _zip(tmp_path / "batch.zip", MEMBERS)
    reader = CallReader()
    calls, errors, warns = split(reader.iter(z))
    assert sorted(c.id for c in calls) == ["aws-call-0001", "c-1001", "c-1002", "call"]
    assert {c.source for c in calls if c.id == "call"} == {f"{z}!calls/sub/call.srt"}
    assert {c.source for c in calls if c.id == "c-1002"} == {f"{z}!calls/rows.csv:4"}
    assert len(errors) == 1
    assert errors[0].source == f"{z}!calls/bad.json" and "invalid JSON" in errors[0].reason
    assert reader.stats.read == 4 and reader.stats.failed == 1 and reader.stats.documents == 4


def test_tar_gz_members(tmp_path):
    t = _tar(tmp_path / "batch.tar.gz", MEMBERS)
    calls, errors, _ = split(iter_calls(t))
    assert sorted(c.id for c in calls) == ["aws-call-0001", "c-1001", "c-1002", "call"]
    assert [e.source for e in errors] == [f"{t}!calls/bad.json"]


def test_nested_zip_inside_tar(tmp_path):
    inner = _zip(tmp_path / "inner.zip", {"x/genesys.json": (FMT / "genesys.json").read_bytes()})
    t = _tar(tmp_path / "outer.tgz", {"inner.zip": inner.read_bytes()})
    calls, errors, _ = split(iter_calls(t))
    assert [c.source for c in calls] == [f"{t}!inner.zip!x/genesys.json"] and errors == []


def test_member_over_the_size_bound_is_an_error_naming_it(tmp_path):
    big = json.dumps(native("big", metadata={"pad": "x" * 5000})).encode()
    z = _zip(tmp_path / "b.zip", {"ok.json": json.dumps(native("small")).encode(), "dir/big.json": big})
    calls, errors, _ = split(iter_calls(z, max_bytes=4000))
    assert [c.id for c in calls] == ["small"]
    assert errors[0].source == f"{z}!dir/big.json" and "over the limit of 4000" in errors[0].reason
    t = _tar(tmp_path / "b.tar.gz", {"dir/big.json": big})
    (err,) = [i for i in iter_calls(t, max_bytes=4000)]
    assert err.source == f"{t}!dir/big.json" and "over the limit" in err.reason


def test_file_over_the_size_bound(tmp_path):
    p = tmp_path / "big.json"
    p.write_text(json.dumps(native("big", metadata={"pad": "x" * 5000})))
    (err,) = list(iter_calls(p, max_bytes=1000))
    assert err.source == str(p) and "over the limit of 1000" in err.reason


def test_broken_zip_is_an_error(tmp_path):
    p = tmp_path / "broken.zip"
    p.write_bytes(b"PK\x03\x04 this is not really a zip")
    (err,) = list(iter_calls(p))
    assert err.source == str(p) and "cannot read" in err.reason


# ---- JSONL ------------------------------------------------------------------------------------
def test_jsonl_of_many_calls_with_a_bad_line(tmp_path):
    p = tmp_path / "calls.jsonl"
    lines = [json.dumps(native(f"c{i}")) for i in range(5)]
    lines.insert(2, '{"call_id": "broken", "turns": [')
    lines.insert(4, "")
    lines.append(json.dumps({"call_id": "empty", "turns": []}))
    lines.append(json.dumps(json.loads((FMT / "assemblyai.json").read_text())))  # another format on a line
    p.write_text("\n".join(lines) + "\n")
    reader = CallReader()
    calls, errors, _ = split(reader.iter(p))
    assert [c.id for c in calls] == ["c0", "c1", "c2", "c3", "c4", "6rlr37h8bz-1e8b-4f8e-9a3c-5d2e0b4c7a11"]
    assert [c.source for c in calls][:2] == [f"{p}:1", f"{p}:2"]
    assert [(e.source, e.line) for e in errors] == [(str(p), 3), (str(p), 8)]
    assert "invalid JSON" in errors[0].reason
    assert "no turns" in errors[1].reason and errors[1].call_id == "empty"
    assert reader.stats.read == 6 and reader.stats.failed == 2


def test_jsonl_detected_by_content_without_suffix(tmp_path):
    p = tmp_path / "export.dat"
    p.write_text(json.dumps(native("a")) + "\n" + json.dumps(native("b")) + "\n")
    assert [c.id for c in read_calls(p)] == ["a", "b"]


def test_duplicate_call_ids_are_kept_with_a_suffix_and_a_warning(tmp_path):
    p = tmp_path / "dups.jsonl"
    p.write_text("\n".join(json.dumps(native("same")) for _ in range(3)) + "\n")
    calls, errors, warns = split(iter_calls(p))
    assert [c.id for c in calls] == ["same", "same#2", "same#3"]
    assert [c.turns[0].id for c in calls][1] == "same#2:t0000"
    assert [(w.line, w.call_id) for w in warns] == [(2, "same#2"), (3, "same#3")]
    assert all("duplicate call id 'same'" in w.reason for w in warns) and errors == []


# ---- bad inputs -------------------------------------------------------------------------------
def test_bad_inputs_each_become_a_record_and_the_batch_goes_on(tmp_path):
    (tmp_path / "01_broken.json").write_text('{"call_id": "x", "turns": [')
    (tmp_path / "02_empty.json").write_bytes(b"")
    (tmp_path / "03_blank.txt").write_text("  \n\n")
    (tmp_path / "04_noise.bin").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "05_noturns.json").write_text(json.dumps({"call_id": "nt", "turns": []}))
    (tmp_path / "06_unknown.json").write_text(json.dumps({"hello": "world"}))
    (tmp_path / "07_prose.txt").write_text("Dear team,\nthe meeting moved to Friday.\n")
    (tmp_path / "08_good.json").write_text(json.dumps(native("good")))
    reader = CallReader()
    calls, errors, _ = split(reader.iter(tmp_path))
    assert [c.id for c in calls] == ["good"]
    by_file = {Path(e.source).name: e.reason for e in errors}
    assert "invalid JSON" in by_file["01_broken.json"] and "line 1" in by_file["01_broken.json"]
    assert by_file["02_empty.json"] == "empty file"
    assert by_file["03_blank.txt"] == "empty file"
    assert by_file["04_noise.bin"] == "binary data, not a transcript"
    assert "no turns" in by_file["05_noturns.json"]
    assert "unrecognised JSON" in by_file["06_unknown.json"]
    assert "unrecognised text" in by_file["07_prose.txt"]
    assert reader.stats.read == 1 and reader.stats.failed == 7 and reader.stats.documents == 8


def test_missing_path_is_an_error():
    (err,) = list(iter_calls("/no/such/place.json"))
    assert err.reason == "no such file or folder"


def test_latin1_text_is_decoded_with_a_warning(tmp_path):
    p = tmp_path / "legacy.txt"
    p.write_bytes("Agent: Bonjour, merci d'avoir appelé.\nCustomer: Ma carte a été bloquée.\n".encode("latin-1"))
    calls, errors, warns = split(iter_calls(p))
    assert calls[0].turns[0].text == "Bonjour, merci d'avoir appelé."
    assert calls[0].turns[1].text == "Ma carte a été bloquée."
    assert errors == [] and len(warns) == 1 and "not valid UTF-8" in warns[0].reason
    assert warns[0].source == str(p)


def test_latin1_csv_member_in_a_zip(tmp_path):
    data = 'call_id,speaker,text\nz1,agent,"Grüß Gott, wie kann ich helfen?"\nz1,customer,Danke schön\n'.encode("latin-1")
    z = _zip(tmp_path / "l.zip", {"de/rows.csv": data})
    calls, errors, warns = split(iter_calls(z))
    assert [t.text for t in calls[0].turns] == ["Grüß Gott, wie kann ich helfen?", "Danke schön"]
    assert errors == [] and [w.source for w in warns] == [f"{z}!de/rows.csv"]


def test_one_speaker_call_is_read_with_a_warning():
    calls, errors, warns = split(iter_calls(FMT / "whisper.json"))
    assert len(calls) == 1 and errors == []
    assert len(warns) == 1 and "one speaker only" in warns[0].reason and warns[0].call_id == "whisper"


def test_error_records_serialise_with_file_line_and_reason(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps(native("ok")) + "\nnot json\n")
    (err,) = [i for i in iter_calls(p) if isinstance(i, ReadProblem)]
    d = err.to_dict()
    assert d["source"] == str(p) and d["line"] == 2 and d["level"] == "error" and d["reason"]
    assert str(err).startswith(f"{p}:2: error: ")


# ---- stdin ------------------------------------------------------------------------------------
class _Stdin(io.TextIOWrapper):
    """A text stdin whose ``.buffer`` is a BytesIO, like a pipe."""


def test_stdin_via_monkeypatch(monkeypatch):
    monkeypatch.setattr(sys, "stdin", _Stdin(io.BytesIO((FMT / "genesys.json").read_bytes())))
    calls, errors, _ = split(iter_calls("-"))
    assert [c.id for c in calls] == ["9b1f2e63-4c1a-4d8e-a0b7-3e5f6c7d8e91"]
    assert calls[0].source == "<stdin>" and errors == []


def test_stdin_jsonl_and_archives(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "stdin", _Stdin(io.BytesIO(b"\n".join(json.dumps(native(f"s{i}")).encode()
                                                                   for i in range(3)))))
    assert [c.id for c in read_calls("-")] == ["s0", "s1", "s2"]
    t = _tar(tmp_path / "in.tar.gz", {"a/call.srt": (FMT / "call.srt").read_bytes()})
    monkeypatch.setattr(sys, "stdin", _Stdin(io.BytesIO(t.read_bytes())))
    (call,) = read_calls("-")
    assert call.source == "<stdin>!a/call.srt"
    z = _zip(tmp_path / "in.zip", {"b/call.vtt": (FMT / "call.vtt").read_bytes()})
    monkeypatch.setattr(sys, "stdin", _Stdin(io.BytesIO(z.read_bytes())))
    (call,) = read_calls("-")
    assert call.source == "<stdin>!b/call.vtt"


def test_stdin_single_document_gets_a_clean_id(monkeypatch):
    monkeypatch.setattr(sys, "stdin", _Stdin(io.BytesIO((FMT / "call.srt").read_bytes())))
    (call,) = read_calls("-")
    assert call.id == "stdin"


def test_convert_from_stdin_subprocess():
    exe = ROOT / ".venv" / "bin" / "transcript-qa"
    if not exe.exists():
        pytest.skip("console script not installed")
    proc = subprocess.run([str(exe), "convert", "-", "--format", "vtt", "--agent-speaker", "Sam Okafor"],
                          input=(FMT / "call.vtt").read_bytes(), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    (line,) = proc.stdout.decode().splitlines()
    obj = json.loads(line)
    assert obj["call_id"] == "stdin" and obj["roles"]["method"] == "user"
    assert [t["role"] for t in obj["turns"]][:2] == ["customer", "agent"]
    assert "read 1 calls" in proc.stderr.decode()


# ---- the convert command ----------------------------------------------------------------------
runner = CliRunner()


def _invoke(args, **kw):
    return runner.invoke(app, ["convert", *map(str, args)], **kw)


def test_convert_all_read_exit_0(tmp_path):
    out = tmp_path / "out.jsonl"
    r = _invoke([FMT / "calls.csv", FMT / "contact_lens.json", "--out", out])
    assert r.exit_code == 0, r.output
    objs = [json.loads(ln) for ln in out.read_text().splitlines()]
    assert [o["call_id"] for o in objs] == ["c-1001", "c-1002", "8f3c2a10-7b9e-4d3c-a1f2-6e5d4c3b2a19"]
    assert set(objs[0]) == {"call_id", "metadata", "source", "roles", "turns"}
    assert set(objs[0]["turns"][0]) == {"id", "speaker", "role", "text", "start", "end"}


def test_convert_some_failed_exit_1_and_errors_file(tmp_path):
    z = _zip(tmp_path / "calls.zip", MEMBERS)
    out, errs = tmp_path / "calls.jsonl", tmp_path / "errors.jsonl"
    r = _invoke([z, "--out", out, "--errors", errs])
    assert r.exit_code == 1
    assert len(out.read_text().splitlines()) == 4
    (rec,) = [json.loads(ln) for ln in errs.read_text().splitlines()]
    assert rec["source"] == f"{z}!calls/bad.json" and rec["level"] == "error" and "invalid JSON" in rec["reason"]
    assert "4 calls" in r.output and "1 failed" in r.output


def test_convert_usage_errors_exit_2(tmp_path):
    r = _invoke([FMT / "call.srt", "--format", "docx"])
    assert r.exit_code == 2 and "unknown format" in r.output
    r = _invoke([FMT / "calls.csv", "--csv-column", "text"])
    assert r.exit_code == 2
    out = tmp_path / "exists.jsonl"
    out.write_text("")
    assert _invoke([FMT / "call.srt", "--out", out]).exit_code == 2


def test_convert_format_forces_and_agent_speaker(tmp_path):
    out = tmp_path / "o.jsonl"
    r = _invoke([FMT / "aws_transcribe_speakers.json", "--format", "aws_transcribe", "--agent-speaker", "spk_1",
                 "--out", out])
    assert r.exit_code == 0
    obj = json.loads(out.read_text())
    assert obj["roles"]["method"] == "user" and obj["turns"][0]["role"] == "customer"
    assert _invoke([FMT / "call.srt", "--format", "vtt", "--out", tmp_path / "o2.jsonl"]).exit_code == 1


def test_convert_csv_column_with_and_without_format(tmp_path):
    src = tmp_path / "export.csv"
    src.write_text("Ticket,Agent or customer,Said\nq1,agent,Hello how can I help\nq1,customer,My parcel is late\n")
    for extra in ([], ["--format", "csv"]):
        out = tmp_path / f"o{len(extra)}.jsonl"
        r = _invoke([src, "--csv-column", "text=Said", "--csv-column", "speaker=Agent or customer",
                     "--csv-column", "call_id=Ticket", "--out", out, *extra])
        assert r.exit_code == 0, r.output
        obj = json.loads(out.read_text())
        assert obj["call_id"] == "q1" and [t["role"] for t in obj["turns"]] == ["agent", "customer"]
    # a mapping that does not fit the file is an error naming the column
    errs = tmp_path / "e.jsonl"
    r = _invoke([src, "--csv-column", "text=Utterance", "--out", tmp_path / "o9.jsonl", "--errors", errs])
    assert r.exit_code == 1 and "'Utterance'" in json.loads(errs.read_text())["reason"]


def test_read_options_object_is_honoured():
    opts = ReadOptions(format="srt", agent_speakers=("SPEAKER_01",))
    (call,) = [i for i in CallReader(opts).iter(FMT / "call.srt") if isinstance(i, Call)]
    assert call.roles.agent_speakers == ("SPEAKER_01",)


def test_decoding_warning_is_kept_when_the_document_then_fails(tmp_path):
    p = tmp_path / "legacy.txt"
    p.write_bytes("Cher client, votre dossier a été traité.\n".encode("latin-1"))
    (warn, err) = list(iter_calls(p))
    assert warn.level == "warning" and "not valid UTF-8" in warn.reason
    assert err.level == "error" and err.source == str(p)
