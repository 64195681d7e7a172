"""Label Studio round trip: calls -> labeling tasks, Label Studio's JSON export -> gold calls.

The labeling config (:data:`LABELING_CONFIG`, shipped as ``data/labelstudio_config.xml``) shows a
call as a dialogue (``<Paragraphs name="dialogue">``, one paragraph per turn) and labels it with:

==================  =========================================  ===================================
gold field          control (``from_name``)                    result ``value``
==================  =========================================  ===================================
``turns[].stage``   ``<ParagraphLabels name="stage">``         ``paragraphlabels``: one stage; the
                                                               region's ``start``..``end`` turns
``turns[].offer``   ``<ParagraphLabels name="offer">`` label   region on the one offer turn; the
                    ``offer`` + per-region ``<Choices>``       choices share the region's ``id``
                    ``offer_kind`` and ``offer_response``
``resolution_turn`` ``<ParagraphLabels name="resolution">``    region on the one resolved turn
                    label ``resolution_turn``
``outcome``         ``<Choices name="outcome">``               ``choices``
``soft_skills``     ``<Rating name="empathy">`` ... (five)     ``rating``
==================  =========================================  ===================================

The resolution turn is a region, not a ``<Number>``: the region's ``start`` *is* the turn index,
so it round-trips exactly, while a number would make labelers count 0-based turns that the
dialogue view does not show (an off-by-one would still validate, silently wrong).

Paragraph regions carry ``start``/``end`` as paragraph (= turn) indices; Label Studio writes them
as strings (``"3"``), and both strings and numbers are read. A selection dragged onto the very
start of the next turn (``endOffset`` 0) does not cover that turn.

Standard library only (plus this package's label constants).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from .labels import OFFER_KINDS, OFFER_RESPONSES, OUTCOMES, SKILLS, SPEAKERS, STAGES, derive_offer_timing, validate_call

CONFIG_PATH = Path(__file__).parent / "data" / "labelstudio_config.xml"
LABELING_CONFIG: str = CONFIG_PATH.read_text(encoding="utf-8")

OBJECT = "dialogue"  # the <Paragraphs> name: every result's to_name
STAGE = "stage"
OFFER = "offer"  # the <ParagraphLabels> name ...
OFFER_LABEL = "offer"  # ... and its one label
OFFER_KIND = "offer_kind"
OFFER_RESPONSE = "offer_response"
RESOLUTION = "resolution"
RESOLUTION_LABEL = "resolution_turn"
OUTCOME = "outcome"
PREDICTION_VERSION = "gold-labels"  # model_version of the predictions made from a labeled file

_REGION_CONTROLS = (STAGE, OFFER, RESOLUTION)
_MAX_LISTED = 12  # turn numbers listed in one problem message


# ---- export -------------------------------------------------------------------------------------

def export_tasks(calls: Iterable[Any], with_predictions: bool = False) -> list[dict]:
    """Label Studio tasks for calls: ``Call`` objects (from the readers) or gold dicts (a labeled file).

    Each task is ``{"data": {"call_id", "turns": [{"speaker", "text", "start"?, "end"?}], "metadata"}}``.
    With ``with_predictions``, a gold dict's labels become the task's ``predictions`` (pre-annotations
    in the annotation result format), so reviewers correct labels instead of starting from scratch.
    A ``Call`` has no labels and never gets predictions.
    """
    tasks: list[dict] = []
    for call in calls:
        if isinstance(call, Mapping):
            task = {"data": _task_data_from_gold(call)}
            if with_predictions:
                result = gold_to_result(call)
                if result:
                    task["predictions"] = [{"model_version": PREDICTION_VERSION, "result": result}]
        else:  # a transcript.Call
            task = {"data": _task_data_from_call(call)}
        tasks.append(task)
    return tasks


def _turn_data(speaker: Any, text: Any, start: Any, end: Any) -> dict:
    d: dict[str, Any] = {"speaker": speaker, "text": text}
    if start is not None:
        d["start"] = start
    if end is not None:
        d["end"] = end
    return d


def _task_data_from_call(call: Any) -> dict:
    return {
        "call_id": call.id,
        "turns": [_turn_data(t.role.value, t.text, t.start, t.end) for t in call.turns],
        "metadata": dict(call.metadata),
    }


def _gold_turns(call: Mapping) -> list[Mapping]:
    turns = call.get("turns")
    return [t for t in turns if isinstance(t, Mapping)] if isinstance(turns, list) else []


def _task_data_from_gold(call: Mapping) -> dict:
    meta = call.get("metadata")
    return {
        "call_id": call.get("call_id"),
        "turns": [_turn_data(t.get("speaker"), t.get("text"), t.get("start"), t.get("end")) for t in _gold_turns(call)],
        "metadata": dict(meta) if isinstance(meta, Mapping) else {},
    }


def gold_to_result(call: Mapping) -> list[dict]:
    """A gold call's labels as a Label Studio annotation ``result`` list (what was there; missing
    labels are simply left out). Each turn's stage is a region ``turn-<i>``; an offer is its own
    region ``offer-<i>`` carrying the per-region kind and response (so deleting that region removes
    the offer whole), and the resolution turn is a region ``resolution-<i>``."""
    result: list[dict] = []
    rt = call.get("resolution_turn")
    for i, t in enumerate(_gold_turns(call)):
        text = t.get("text") if isinstance(t.get("text"), str) else ""
        span = {"start": str(i), "end": str(i), "startOffset": 0, "endOffset": len(text), "text": text}
        if t.get("stage") in STAGES:
            result.append(_item(f"turn-{i}", STAGE, "paragraphlabels", {**span, "paragraphlabels": [t["stage"]]}))
        off = t.get("offer")
        if isinstance(off, Mapping):
            rid = f"offer-{i}"
            result.append(_item(rid, OFFER, "paragraphlabels", {**span, "paragraphlabels": [OFFER_LABEL]}))
            if off.get("kind") in OFFER_KINDS:
                result.append(_item(rid, OFFER_KIND, "choices", {**span, "choices": [off["kind"]]}))
            if off.get("response") in OFFER_RESPONSES:
                result.append(_item(rid, OFFER_RESPONSE, "choices", {**span, "choices": [off["response"]]}))
        if rt == i and not isinstance(rt, bool):
            result.append(_item(f"resolution-{i}", RESOLUTION, "paragraphlabels", {**span, "paragraphlabels": [RESOLUTION_LABEL]}))
    if call.get("outcome") in OUTCOMES:
        result.append(_item(OUTCOME, OUTCOME, "choices", {"choices": [call["outcome"]]}))
    skills = call.get("soft_skills") if isinstance(call.get("soft_skills"), Mapping) else {}
    for s in SKILLS:
        v = skills.get(s)
        if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5:
            result.append(_item(s, s, "rating", {"rating": v}))
    return result


def _item(rid: str, from_name: str, type_: str, value: dict) -> dict:
    return {"id": rid, "from_name": from_name, "to_name": OBJECT, "type": type_, "value": value}


# ---- import -------------------------------------------------------------------------------------

def import_export(export_json: list[dict]) -> tuple[list[dict], list[str]]:
    """Label Studio's JSON export (a list of tasks) -> gold calls (docs/labels.md) and problems.

    Each task is read from its latest non-cancelled annotation (by ``updated_at``, then
    ``created_at``, then position). A task with anything missing or contradictory (a turn without
    a stage, a skill not rated, an offer without its kind ...) is not converted; each problem names
    the task id, the call and what is wrong. Every returned call passes ``validate_call``.
    """
    calls: list[dict] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    if not isinstance(export_json, list):
        return [], ["the export is not a list of tasks (use Label Studio's JSON export, not JSON-MIN or CSV)"]
    for pos, task in enumerate(export_json):
        name = f"task #{pos + 1}"
        if isinstance(task, Mapping) and task.get("id") is not None:
            name = f"task {task['id']}"
        call, probs = task_to_call(task)
        data = task.get("data") if isinstance(task, Mapping) else None
        cid = data.get("call_id") if isinstance(data, Mapping) else None
        where = f"{name} ({cid})" if isinstance(cid, str) and cid else name
        if call is not None and call["call_id"] in seen:
            probs = probs + [f"duplicate call_id {call['call_id']!r} (also in {seen[call['call_id']]})"]
        if probs:
            problems += [f"{where}: {p}" for p in probs]
            continue
        assert call is not None
        seen[call["call_id"]] = name
        calls.append(call)
    return calls, problems


def task_to_call(task: Any) -> tuple[dict | None, list[str]]:
    """One exported task -> (gold call or None, problems without the task prefix)."""
    if not isinstance(task, Mapping):
        return None, ["not a task object"]
    data = task.get("data")
    if not isinstance(data, Mapping):
        return None, ["has no 'data' (is this Label Studio's JSON export?)"]
    turns, probs = _turns_from_data(data)
    if probs:
        return None, probs
    ann, why = latest_annotation(task)
    if ann is None:
        return None, [why]
    result = ann.get("result")
    if not isinstance(result, list):
        return None, [f"annotation {ann.get('id')} has no 'result' list"]
    labels, probs = _labels_from_result(result, turns)
    if probs:
        return None, probs
    cid = data.get("call_id")
    if not isinstance(cid, str) or not cid.strip():
        cid = f"labelstudio-{task.get('id')}" if task.get("id") is not None else None
        if cid is None:
            return None, ["task data has no 'call_id' and the task has no id"]
    meta = data.get("metadata")
    call: dict[str, Any] = {
        "call_id": cid,
        "metadata": dict(meta) if isinstance(meta, Mapping) else {},
        "turns": [],
        "outcome": labels["outcome"],
        "resolution_turn": labels["resolution_turn"],
        "offer_timing": derive_offer_timing(sorted(labels["offers"]), labels["outcome"], labels["resolution_turn"]),
        "soft_skills": labels["soft_skills"],
    }
    for i, t in enumerate(turns):
        turn = dict(t)
        turn["stage"] = labels["stages"][i]
        if i in labels["offers"]:
            turn["offer"] = labels["offers"][i]
        call["turns"].append(turn)
    errs, _warns = validate_call(call)
    if errs:
        return None, errs
    return call, []


def latest_annotation(task: Mapping) -> tuple[dict | None, str]:
    """The task's latest non-cancelled annotation, or (None, why there is none)."""
    anns = task.get("annotations")
    anns = [a for a in anns if isinstance(a, Mapping)] if isinstance(anns, list) else []
    live = [(k, a) for k, a in enumerate(anns) if not a.get("was_cancelled")]
    if not live:
        if anns:
            return None, "every annotation was cancelled (skipped); nothing to import"
        if task.get("predictions"):
            return None, "not annotated: it has predictions only (submit them as an annotation in Label Studio)"
        return None, "not annotated"

    def key(ka: tuple[int, Mapping]) -> tuple:
        k, a = ka
        return (_when(a.get("updated_at")), _when(a.get("created_at")), k)

    return dict(max(live, key=key)[1]), ""


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _when(s: Any) -> datetime:
    if not isinstance(s, str) or not s:
        return _EPOCH
    try:
        d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return _EPOCH
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def _turns_from_data(data: Mapping) -> tuple[list[dict], list[str]]:
    raw = data.get("turns")
    if not isinstance(raw, list) or not raw:
        return [], ["task data has no 'turns' list (was it made by transcript-qa export-labelstudio?)"]
    turns: list[dict] = []
    probs: list[str] = []
    for i, t in enumerate(raw):
        if not isinstance(t, Mapping):
            probs.append(f"turn {i} of the task data is not an object")
            continue
        if t.get("speaker") not in SPEAKERS:
            probs.append(f"turn {i} has speaker {t.get('speaker')!r}; expected one of {list(SPEAKERS)}")
        if not isinstance(t.get("text"), str) or not t["text"].strip():
            probs.append(f"turn {i} has no text")
        turn = {"speaker": t.get("speaker"), "text": t.get("text")}
        for k in ("start", "end"):
            if t.get(k) is not None:
                turn[k] = t[k]
        turns.append(turn)
    return turns, probs


def _span(value: Any, turns: list[dict]) -> tuple[int, int] | str:
    """The turns a paragraph region covers, inclusive, or a problem message."""
    if not isinstance(value, Mapping) or "start" not in value:
        return "has no 'start' paragraph"
    try:
        a = int(value["start"])
        b = int(value.get("end", value["start"]))
    except (TypeError, ValueError):
        return f"has start/end {value.get('start')!r}/{value.get('end')!r}, not paragraph indices"
    n = len(turns)
    if not (0 <= a < n and 0 <= b < n) or b < a:
        return f"covers paragraphs {a}..{b}, outside the call's turns 0..{n - 1}"
    # a selection dragged to the edge of a neighbouring turn does not cover that turn
    if b > a and value.get("endOffset") == 0:
        b -= 1
    text_len = len(turns[a].get("text") or "")
    if b > a and text_len and value.get("startOffset") == text_len:
        a += 1
    return a, b


def _values(value: Any, key: str) -> list[Any]:
    v = value.get(key) if isinstance(value, Mapping) else None
    if isinstance(v, list):
        return v
    return [] if v is None else [v]


def _turn_list(idx: Iterable[int]) -> str:
    idx = sorted(idx)
    s = ", ".join(str(i) for i in idx[:_MAX_LISTED])
    return s + (f" ... ({len(idx)} in all)" if len(idx) > _MAX_LISTED else "")


def _labels_from_result(result: list, turns: list[dict]) -> tuple[dict, list[str]]:
    """Read the gold labels out of one annotation result; problems say what is missing or wrong."""
    n = len(turns)
    probs: list[str] = []
    stages: list[str | None] = [None] * n
    stage_conflicts: dict[int, set[str]] = {}
    offer_spans: dict[str, tuple[int, int]] = {}  # id of a region with the offer label -> its span
    choice_spans: dict[str, tuple[int, int]] = {}  # id of a region with offer choices -> the choices' span
    offer_choice: dict[str, dict[str, set[str]]] = {}  # region id -> {offer_kind: {...}, offer_response: {...}}
    resolution: set[int] = set()
    outcomes: set[str] = set()
    ratings: dict[str, set[Any]] = {}

    for k, item in enumerate(result):
        if not isinstance(item, Mapping):
            continue
        fn = item.get("from_name")
        value = item.get("value") if isinstance(item.get("value"), Mapping) else {}
        rid = str(item.get("id", f"#{k}"))
        if fn in _REGION_CONTROLS:
            labels = _values(value, "paragraphlabels") or _values(value, "labels")
            span = _span(value, turns)
            if isinstance(span, str):
                probs.append(f"{fn} region {rid} {span}")
                continue
            a, b = span
            if fn == STAGE:
                for lab in labels:
                    if lab not in STAGES:
                        probs.append(f"stage region {rid} has label {lab!r}; stages are {list(STAGES)}")
                        continue
                    for i in range(a, b + 1):
                        if stages[i] is not None and stages[i] != lab:
                            stage_conflicts.setdefault(i, {stages[i]}).add(lab)  # type: ignore[arg-type]
                        stages[i] = lab
            elif fn == OFFER:
                if OFFER_LABEL in labels:
                    offer_spans[rid] = span
            elif fn == RESOLUTION:
                if RESOLUTION_LABEL in labels:
                    if a != b:
                        probs.append(f"the resolution_turn region covers turns {a}..{b}; mark the one turn where the issue is resolved")
                    resolution.add(a)
        elif fn in (OFFER_KIND, OFFER_RESPONSE):
            choices = [c for c in _values(value, "choices") if isinstance(c, str)]
            offer_choice.setdefault(rid, {}).setdefault(fn, set()).update(choices)
            cspan = _span(value, turns) if "start" in value else None
            if isinstance(cspan, tuple):
                choice_spans.setdefault(rid, cspan)
        elif fn == OUTCOME:
            outcomes.update(c for c in _values(value, "choices") if isinstance(c, str))
        elif fn in SKILLS:
            r = value.get("rating")
            if r is not None:
                ratings.setdefault(fn, set()).add(r)
        # anything else (a comment box a team added, relations) is not a gold field: ignored

    # stages
    for i, labs in sorted(stage_conflicts.items()):
        probs.append(f"turn {i} has two stages: {', '.join(sorted(labs))}")
    missing = [i for i, s in enumerate(stages) if s is None]
    if missing:
        probs.append(f"{'turn' if len(missing) == 1 else 'turns'} {_turn_list(missing)} {'has' if len(missing) == 1 else 'have'} no stage")

    # offers: regions with the offer label, their kind and response the per-region choices of the same id.
    # Choices on a region without the label (chosen on a stage region, or left after the label was
    # removed) are a problem, not an offer: either reading could be the wrong one.
    for rid, by_fn in sorted(offer_choice.items(), key=lambda kv: choice_spans.get(kv[0], (n, n))):
        if rid in offer_spans or not any(by_fn.values()):
            continue
        span = choice_spans.get(rid)
        where = f"turn {span[0]}" if span and span[0] == span[1] else f"region {rid}"
        probs.append(f"{where} has {'/'.join(fn for fn in (OFFER_KIND, OFFER_RESPONSE) if by_fn.get(fn))} but no "
                     f"'offer' label; put the offer label on the offer turn, or clear the choices")
    offers: dict[int, dict[str, str]] = {}
    for rid in sorted(offer_spans, key=lambda r: offer_spans[r]):
        a, b = offer_spans[rid]
        if a != b:
            probs.append(f"the offer region {rid} covers turns {a}..{b}; mark the one agent turn that makes the offer")
            continue
        if turns[a]["speaker"] != "agent":
            probs.append(f"turn {a} is marked as an offer but is a customer turn; offers are made on agent turns")
            continue
        got: dict[str, str] = {}
        for fn, field, allowed in ((OFFER_KIND, "kind", OFFER_KINDS), (OFFER_RESPONSE, "response", OFFER_RESPONSES)):
            vals = offer_choice.get(rid, {}).get(fn, set())
            if not vals:
                probs.append(f"the offer on turn {a} has no {fn}")
            elif len(vals) > 1:
                probs.append(f"the offer on turn {a} has several values of {fn}: {', '.join(sorted(vals))}")
            elif next(iter(vals)) not in allowed:
                probs.append(f"the offer on turn {a} has {fn} {next(iter(vals))!r}; expected one of {list(allowed)}")
            else:
                got[field] = next(iter(vals))
        if len(got) == 2:
            if a in offers and offers[a] != got:
                probs.append(f"turn {a} has two different offers: {offers[a]} and {got}")
            offers[a] = got

    # outcome and resolution turn
    outcome: str | None = None
    if not outcomes:
        probs.append("no outcome chosen")
    elif len(outcomes) > 1:
        probs.append(f"several outcomes chosen: {', '.join(sorted(outcomes))}")
    elif next(iter(outcomes)) not in OUTCOMES:
        probs.append(f"outcome {next(iter(outcomes))!r} is not one of {list(OUTCOMES)}")
    else:
        outcome = next(iter(outcomes))
    resolution_turn: int | None = None
    if outcome == "resolved":
        if not resolution:
            probs.append("the outcome is resolved but no turn is marked resolution_turn")
        elif len(resolution) > 1:
            probs.append(f"turns {_turn_list(resolution)} are all marked resolution_turn; mark only the first turn where the issue is resolved")
        else:
            resolution_turn = next(iter(resolution))
    elif outcome is not None and resolution:
        probs.append(f"turn {_turn_list(resolution)} is marked resolution_turn but the outcome is {outcome}; "
                     "remove the mark or change the outcome")

    # soft skills
    skills: dict[str, int] = {}
    for s in SKILLS:
        vals = ratings.get(s, set())
        ok = {int(v) for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool) and v == int(v) and 1 <= v <= 5}
        if not vals or vals == {0}:
            probs.append(f"soft skill {s!r} not rated")
        elif len(vals) > 1 or not ok:
            probs.append(f"soft skill {s!r} has rating {', '.join(repr(v) for v in sorted(vals, key=str))}; expected one integer 1 to 5")
        else:
            skills[s] = next(iter(ok))

    labels = {"stages": stages, "offers": offers, "outcome": outcome, "resolution_turn": resolution_turn,
              "soft_skills": skills}
    return labels, probs


def load_export(path: str | Path) -> Any:
    """Parse a Label Studio JSON export file (raises ValueError with a readable reason)."""
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text: {e}") from None
    if not isinstance(obj, list):
        raise ValueError(f"{path}: expected Label Studio's JSON export (a list of tasks); "
                         "JSON-MIN, CSV and other export formats are not supported")
    return obj
