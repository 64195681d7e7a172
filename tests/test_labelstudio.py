"""The Label Studio round trip: the shipped config, a hand-written export -> gold calls, labeled
calls -> tasks with predictions -> (predictions taken as annotations) -> the same calls, problems
for incomplete tasks, and the two CLI commands."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from transcript_qa.cli import app
from transcript_qa.labels import (OFFER_KINDS, OFFER_RESPONSES, OUTCOMES, SKILLS, STAGES, load_jsonl, validate_call,
                                  validate_file)
from transcript_qa.labelstudio import CONFIG_PATH, LABELING_CONFIG, export_tasks, import_export, latest_annotation

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "tests" / "fixtures" / "labelstudio" / "export.json"
DEV = ROOT / "datasets" / "calls" / "dev.jsonl"


@pytest.fixture(scope="module")
def dev_calls() -> list[dict]:
    return load_jsonl(DEV)


@pytest.fixture()
def export() -> list[dict]:
    return json.loads(EXPORT.read_text(encoding="utf-8"))


def pick_three(calls: list[dict]) -> list[dict]:
    """Three different shapes: two offers, an offer in a call not resolved, no offer and no timestamps."""
    two_offers = next(c for c in calls if sum(1 for t in c["turns"] if t.get("offer")) == 2)
    no_res = next(c for c in calls if c["offer_timing"] == "no_resolution")
    plain = next(c for c in calls if c["offer_timing"] == "none" and all("start" not in t for t in c["turns"]))
    return [two_offers, no_res, plain]


def predictions_as_annotations(tasks: list[dict]) -> list[dict]:
    """What Label Studio exports when a reviewer submits the pre-annotations unchanged."""
    out = []
    for k, t in enumerate(json.loads(json.dumps(tasks))):  # through JSON, as a file would be
        preds = t.pop("predictions", [])
        t["id"] = 500 + k
        t["annotations"] = [{"id": 900 + k, "result": preds[0]["result"] if preds else [], "was_cancelled": False,
                             "created_at": "2024-06-01T10:00:00Z", "updated_at": "2024-06-01T10:05:00Z"}]
        out.append(t)
    return out


# ---- the labeling config ------------------------------------------------------------------------

def test_config_is_the_shipped_file_and_matches_the_label_format():
    assert LABELING_CONFIG == CONFIG_PATH.read_text(encoding="utf-8")
    root = ET.fromstring(LABELING_CONFIG)
    by_name = {e.get("name"): e for e in root.iter() if e.get("name")}

    para = by_name["dialogue"]
    assert para.tag == "Paragraphs"
    assert (para.get("value"), para.get("layout"), para.get("nameKey"), para.get("textKey")) == ("$turns", "dialogue", "speaker", "text")
    for e in root.iter():
        if e.get("toName") is not None:
            assert e.get("toName") == "dialogue", e.get("name")

    def values(name: str, child: str) -> list[str]:
        return [c.get("value") for c in by_name[name].findall(child)]

    assert by_name["stage"].tag == "ParagraphLabels" and values("stage", "Label") == list(STAGES)
    assert by_name["offer"].tag == "ParagraphLabels" and values("offer", "Label") == ["offer"]
    assert by_name["resolution"].tag == "ParagraphLabels" and values("resolution", "Label") == ["resolution_turn"]
    for name, allowed in (("offer_kind", OFFER_KINDS), ("offer_response", OFFER_RESPONSES)):
        assert by_name[name].tag == "Choices" and by_name[name].get("perRegion") == "true"
        assert values(name, "Choice") == list(allowed)
    assert by_name["outcome"].tag == "Choices" and by_name["outcome"].get("perRegion") is None
    assert values("outcome", "Choice") == list(OUTCOMES)
    for s in SKILLS:
        assert by_name[s].tag == "Rating" and by_name[s].get("maxRating") == "5"


# ---- import of a hand-written export ------------------------------------------------------------

EXPECTED = [
    {
        "call_id": "ls-bank-001",
        "metadata": {"industry": "retail_banking", "agent_id": "bank-a07", "team": "cards", "channel": "voice"},
        "turns": [
            {"speaker": "agent", "text": "Thanks for calling Northfield Bank, this is Dana. How can I help?", "start": 0.0, "end": 3.1, "stage": "opening"},
            {"speaker": "customer", "text": "Hi, my card got declined twice today at the supermarket.", "start": 3.6, "end": 7.2, "stage": "discovery"},
            {"speaker": "agent", "text": "Sorry to hear that, that's stressful at the till. Can I take your full name and date of birth first?", "start": 7.5, "end": 13.0, "stage": "verification"},
            {"speaker": "customer", "text": "Sam Okafor, twelfth of May 1990.", "start": 13.4, "end": 15.9, "stage": "verification"},
            {"speaker": "agent", "text": "Thanks Sam. I can see a fraud hold after a payment abroad last night. I've removed it, so the card works again now.", "start": 16.2, "end": 24.8, "stage": "resolution"},
            {"speaker": "customer", "text": "Great, I just paid for something in the app and it went through.", "start": 25.1, "end": 29.0, "stage": "resolution"},
            {"speaker": "agent", "text": "Since you travel a fair bit, would a travel card with no foreign transaction fees be useful?", "start": 29.4, "end": 34.7, "stage": "offer",
             "offer": {"kind": "cross_sell", "response": "declined"}},
            {"speaker": "customer", "text": "No thanks, I'm happy with this one.", "start": 35.0, "end": 37.1, "stage": "offer"},
            {"speaker": "agent", "text": "No problem at all. Anything else I can help with today? Thanks for calling, Sam.", "start": 37.4, "end": 42.0, "stage": "closing"},
        ],
        "outcome": "resolved",
        "resolution_turn": 4,
        "offer_timing": "after_resolution",
        "soft_skills": {"empathy": 3, "courtesy": 4, "active_listening": 4, "ownership": 5, "clarity": 4},
    },
    {
        "call_id": "ls-tel-002",
        "metadata": {"industry": "telecom", "agent_id": "tel-a02", "team": "broadband", "channel": "voice"},
        "turns": [
            {"speaker": "agent", "text": "Good morning, Lumen Broadband, Priya speaking.", "stage": "opening"},
            {"speaker": "customer", "text": "hi yeah my internet keeps dropping every evening since last week", "stage": "discovery"},
            {"speaker": "agent", "text": "Oh, I'm sorry, that's frustrating. Can I have the account number please?", "stage": "verification"},
            {"speaker": "customer", "text": "it's 4471 2290", "stage": "verification"},
            {"speaker": "agent", "text": "Thanks. I can see errors on your line, so I'm booking an engineer visit for Thursday between eight and twelve.", "stage": "resolution"},
            {"speaker": "customer", "text": "ok thursday works", "stage": "resolution"},
            {"speaker": "agent", "text": "You'll get a text to confirm. Anything else? Have a good day.", "stage": "closing"},
        ],
        "outcome": "escalated",
        "resolution_turn": None,
        "offer_timing": "none",
        "soft_skills": {"empathy": 4, "courtesy": 4, "active_listening": 3, "ownership": 4, "clarity": 4},
    },
]


def test_import_hand_written_export(export):
    calls, problems = import_export(export)
    assert problems == []
    assert [c["call_id"] for c in calls] == ["ls-bank-001", "ls-tel-002"]
    bank, tel = calls
    # the fields one by one, then the whole calls
    assert bank["outcome"] == "resolved" and bank["resolution_turn"] == 4
    assert bank["offer_timing"] == "after_resolution"
    assert [t["stage"] for t in bank["turns"]] == ["opening", "discovery", "verification", "verification", "resolution",
                                                   "resolution", "offer", "offer", "closing"]
    assert [i for i, t in enumerate(bank["turns"]) if "offer" in t] == [6]
    assert bank["turns"][6]["offer"] == {"kind": "cross_sell", "response": "declined"}  # linked by the region id
    assert bank["soft_skills"] == {"empathy": 3, "courtesy": 4, "active_listening": 4, "ownership": 5, "clarity": 4}
    assert (tel["outcome"], tel["resolution_turn"], tel["offer_timing"]) == ("escalated", None, "none")
    # the region dragged onto the start of turn 6 (endOffset 0) labels turn 5 only: turn 6 stays closing
    assert [t["stage"] for t in tel["turns"]][4:] == ["resolution", "resolution", "closing"]
    assert all("start" not in t for t in tel["turns"])
    assert calls == EXPECTED
    for c in calls:
        assert validate_call(c) == ([], [])


def test_latest_non_cancelled_annotation_is_used(export):
    task = export[0]
    assert latest_annotation(task)[0]["id"] == 104  # 107 is newer but cancelled; 101 is older
    # without 104, the older (incomplete) annotation 101 is the one read
    task["annotations"] = [a for a in task["annotations"] if a["id"] != 104]
    calls, problems = import_export([task])
    assert calls == [] and problems
    assert all(p.startswith("task 41 (ls-bank-001): ") for p in problems)
    assert any("no stage" in p for p in problems) and any("'clarity' not rated" in p for p in problems)
    # only the cancelled one left
    task["annotations"] = [a for a in task["annotations"] if a["was_cancelled"]]
    assert import_export([task]) == ([], ["task 41 (ls-bank-001): every annotation was cancelled (skipped); nothing to import"])
    task["annotations"] = []
    assert import_export([task])[1] == ["task 41 (ls-bank-001): not annotated"]


def test_incomplete_task_gives_problems_naming_it(export):
    tel = export[1]["annotations"][0]["result"]
    verif = next(r for r in tel if r["id"] == "Fp8mB3vCe1")  # turns 2-3 -> turn 2 only
    verif["value"].update(end="2", endOffset=72)
    tel[:] = [r for r in tel if r["from_name"] != "clarity"]
    calls, problems = import_export(export)
    assert [c["call_id"] for c in calls] == ["ls-bank-001"]  # the complete task still converts
    assert problems == [
        "task 42 (ls-tel-002): turn 3 has no stage",
        "task 42 (ls-tel-002): soft skill 'clarity' not rated",
    ]


@pytest.mark.parametrize("change, expected", [
    (lambda res: res.__setitem__(slice(None), [r for r in res if r["from_name"] != "offer_kind"]),
     "the offer on turn 6 has no offer_kind"),
    (lambda res: res.__setitem__(slice(None), [r for r in res if r["from_name"] != "resolution"]),
     "the outcome is resolved but no turn is marked resolution_turn"),
    (lambda res: res.__setitem__(slice(None), [r for r in res if r["from_name"] != "outcome"]),
     "no outcome chosen"),
    (lambda res: next(r for r in res if r["id"] == "Rm81vYpq3D")["value"].update(paragraphlabels=["closing"], start="1", end="2", endOffset=100),
     "turn 2 has two stages: closing, verification"),
    (lambda res: next(r for r in res if r["from_name"] == "offer")["value"].update(start="6", end="7", endOffset=35),
     "the offer region Nc2xR5wPqa covers turns 6..7; mark the one agent turn that makes the offer"),
    (lambda res: next(r for r in res if r["from_name"] == "offer")["value"].update(start="7", end="7", endOffset=35),
     "turn 7 is marked as an offer but is a customer turn"),
    (lambda res: res.__setitem__(slice(None), [r for r in res if r["from_name"] != "offer"]),
     "turn 6 has offer_kind/offer_response but no 'offer' label; put the offer label on the offer turn, or clear the choices"),
    (lambda res: next(r for r in res if r["from_name"] == "empathy")["value"].update(rating=0),
     "soft skill 'empathy' not rated"),
])
def test_contradictions_are_problems(export, change, expected):
    change(export[0]["annotations"][0]["result"])
    calls, problems = import_export(export)
    assert [c["call_id"] for c in calls] == ["ls-tel-002"]
    assert any(p.startswith("task 41 (ls-bank-001): ") and expected in p for p in problems), problems


def test_offer_on_customer_turn_and_bad_export():
    task = {"id": 9, "data": {"call_id": "c", "turns": [{"speaker": "agent", "text": "hi"}, {"speaker": "customer", "text": "hello"}]},
            "annotations": [{"id": 1, "result": [
                {"id": "r", "from_name": "offer", "to_name": "dialogue", "type": "paragraphlabels",
                 "value": {"start": "1", "end": "1", "startOffset": 0, "endOffset": 5, "paragraphlabels": ["offer"]}}]}]}
    _, problems = import_export([task])
    assert "task 9 (c): turn 1 is marked as an offer but is a customer turn; offers are made on agent turns" in problems
    assert import_export({"not": "a list"})[0] == []  # type: ignore[arg-type]
    assert import_export([{"id": 3}])[1] == ["task 3: has no 'data' (is this Label Studio's JSON export?)"]


# ---- export, and the round trip ----------------------------------------------------------------

def test_export_tasks_shape(dev_calls):
    call = dev_calls[0]
    (plain,) = export_tasks([call])
    assert set(plain) == {"data"}
    assert set(plain["data"]) == {"call_id", "turns", "metadata"}
    assert plain["data"]["call_id"] == call["call_id"] and plain["data"]["metadata"] == call["metadata"]
    assert [set(t) <= {"speaker", "text", "start", "end"} for t in plain["data"]["turns"]] == [True] * len(call["turns"])
    assert [t["speaker"] for t in plain["data"]["turns"]] == [t["speaker"] for t in call["turns"]]

    (task,) = export_tasks([call], with_predictions=True)
    (pred,) = task["predictions"]
    res = pred["result"]
    assert all(r["to_name"] == "dialogue" and {"id", "from_name", "type", "value"} <= set(r) for r in res)
    stages = [r for r in res if r["from_name"] == "stage"]
    assert len(stages) == len(call["turns"])
    assert all(isinstance(r["value"]["start"], str) and r["value"]["start"] == r["value"]["end"] for r in stages)
    assert all(r["type"] == "paragraphlabels" and r["value"]["endOffset"] == len(r["value"]["text"]) for r in stages)
    # per-region offer choices share the id of the offer region
    offer_ids = {r["id"] for r in res if r["from_name"] == "offer"}
    assert offer_ids and {r["id"] for r in res if r["from_name"] in ("offer_kind", "offer_response")} == offer_ids
    assert {r["from_name"]: r["value"] for r in res if r["type"] == "rating"} == {s: {"rating": v} for s, v in call["soft_skills"].items()}


def test_export_of_read_calls_has_no_predictions():
    from transcript_qa.sources import read_calls

    calls = read_calls(ROOT / "tests" / "fixtures" / "formats" / "call.vtt")
    tasks = export_tasks(calls, with_predictions=True)
    assert tasks and all("predictions" not in t for t in tasks)
    turns = tasks[0]["data"]["turns"]
    assert {t["speaker"] for t in turns} <= {"agent", "customer"}
    assert [t["text"] for t in turns] == [t.text for t in calls[0].turns]


def test_round_trip_three_dev_calls(dev_calls):
    originals = pick_three(dev_calls)
    assert len({c["call_id"] for c in originals}) == 3
    tasks = export_tasks(copy.deepcopy(originals), with_predictions=True)
    assert all(t["predictions"] for t in tasks)
    calls, problems = import_export(predictions_as_annotations(tasks))
    assert problems == []
    assert len(calls) == 3
    for got, want in zip(calls, originals):
        for field in ("call_id", "metadata", "outcome", "resolution_turn", "offer_timing", "soft_skills"):
            assert got[field] == want[field], (want["call_id"], field)
        assert [t.get("stage") for t in got["turns"]] == [t["stage"] for t in want["turns"]]
        assert [t.get("offer") for t in got["turns"]] == [t.get("offer") for t in want["turns"]]
        assert got == want


def test_round_trip_whole_dev_split(dev_calls):
    calls, problems = import_export(predictions_as_annotations(export_tasks(dev_calls, with_predictions=True)))
    assert problems == [] and calls == dev_calls


# ---- CLI ------------------------------------------------------------------------------------------

def test_cli_export_import_round_trip(tmp_path, dev_calls):
    runner = CliRunner()
    src = tmp_path / "labeled.jsonl"
    src.write_text("".join(json.dumps(c) + "\n" for c in pick_three(dev_calls)), encoding="utf-8")
    tasks_path, cfg = tmp_path / "tasks.json", tmp_path / "config.xml"

    r = runner.invoke(app, ["export-labelstudio", str(src), "--out", str(tasks_path), "--config", str(cfg), "--with-predictions"])
    assert r.exit_code == 0, r.output
    assert "wrote 3 tasks (3 with predictions)" in r.stderr
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    assert [t["data"]["call_id"] for t in tasks] == [c["call_id"] for c in pick_three(dev_calls)]
    assert cfg.read_text(encoding="utf-8") == LABELING_CONFIG

    # refuses to overwrite either file without --force
    before = tasks_path.read_text(encoding="utf-8")
    r = runner.invoke(app, ["export-labelstudio", str(src), "--out", str(tasks_path)])
    assert r.exit_code == 2 and "--force" in r.output
    r = runner.invoke(app, ["export-labelstudio", str(src), "--out", str(tmp_path / "new.json"), "--config", str(cfg)])
    assert r.exit_code == 2 and not (tmp_path / "new.json").exists()
    assert tasks_path.read_text(encoding="utf-8") == before
    r = runner.invoke(app, ["export-labelstudio", str(src), "--out", str(tasks_path), "--force"])
    assert r.exit_code == 0 and "0 with predictions" in r.stderr  # no --with-predictions: plain tasks

    # "annotate" by accepting the predictions, then import
    tasks = export_tasks(load_jsonl(src), with_predictions=True)
    exp = tmp_path / "export.json"
    exp.write_text(json.dumps(predictions_as_annotations(tasks)), encoding="utf-8")
    gold = tmp_path / "gold.jsonl"
    r = runner.invoke(app, ["import-labelstudio", str(exp), "--out", str(gold)])
    assert r.exit_code == 0, r.output
    assert load_jsonl(gold) == load_jsonl(src)
    assert validate_file(gold).ok
    r = runner.invoke(app, ["import-labelstudio", str(exp), "--out", str(gold)])
    assert r.exit_code == 2 and "--force" in r.output


def test_cli_export_plain_transcripts(tmp_path):
    out = tmp_path / "tasks.json"
    r = CliRunner().invoke(app, ["export-labelstudio", str(ROOT / "tests" / "fixtures" / "formats" / "call.vtt"),
                                 "--out", str(out), "--with-predictions"])
    assert r.exit_code == 0, r.output
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert len(tasks) == 1 and "predictions" not in tasks[0]
    assert "no labeled file" in r.stderr


def test_cli_import_fixture_and_failures(tmp_path, export):
    runner = CliRunner()
    gold = tmp_path / "gold.jsonl"
    r = runner.invoke(app, ["import-labelstudio", str(EXPORT), "--out", str(gold)])
    assert r.exit_code == 0, r.output
    assert load_jsonl(gold) == EXPECTED

    # a task without ratings: exit 1, the task named, the good one still written
    for res in export[1]["annotations"][0]["result"][:]:
        if res["type"] == "rating":
            export[1]["annotations"][0]["result"].remove(res)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(export), encoding="utf-8")
    r = runner.invoke(app, ["import-labelstudio", str(bad), "--out", str(tmp_path / "g2.jsonl")])
    assert r.exit_code == 1
    assert "task 42 (ls-tel-002): soft skill 'empathy' not rated" in r.stderr
    assert "1 could not be converted: task 42 (ls-tel-002)" in r.stderr
    assert [c["call_id"] for c in load_jsonl(tmp_path / "g2.jsonl")] == ["ls-bank-001"]

    # usage errors: exit 2
    notlist = tmp_path / "min.json"
    notlist.write_text(json.dumps({"id": 1}), encoding="utf-8")
    assert runner.invoke(app, ["import-labelstudio", str(notlist), "--out", str(tmp_path / "g3.jsonl")]).exit_code == 2
    assert runner.invoke(app, ["import-labelstudio", str(tmp_path / "missing.json"), "--out", str(tmp_path / "g4.jsonl")]).exit_code == 2
    assert runner.invoke(app, ["import-labelstudio", str(EXPORT)]).exit_code == 2  # --out is required


# ---- against Label Studio's own validator (optional: label-studio-sdk is not a dependency) ------

def test_config_predictions_and_fixture_pass_label_studio_sdk(dev_calls, export):
    sdk = pytest.importorskip("label_studio_sdk.label_interface")
    li = sdk.LabelInterface(LABELING_CONFIG)
    li.validate()  # raises on unknown toName, duplicate names ...
    for task in export_tasks(dev_calls, with_predictions=True):
        assert li.validate_prediction(task["predictions"][0]), task["data"]["call_id"]
    for task in export:
        for ann in task["annotations"]:
            assert li.validate_annotation(ann), (task["id"], ann["id"])
    bad = copy.deepcopy(export[0]["annotations"][0])
    bad["result"][0]["value"]["paragraphlabels"] = ["small talk"]
    assert not li.validate_annotation(bad)
