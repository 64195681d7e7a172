#!/usr/bin/env python
"""The second annotation pass as one tool (datasets/second_annotation): batches out, answers in.

A round of second annotation goes: ``batches`` writes the new train and dev calls as bare text
(no labels) in batches for the outcome and offer annotators, whose briefs are guideline.md and
offer_guideline.md; each annotator writes one JSON line per call. ``merge`` checks those answer
files (one line per call of its batch, known call ids, valid labels, offer turns that are agent
turns) and adds the calls to second_pass.jsonl; it refuses, naming file and line, anything it
cannot take, and writes nothing then. ``adjudication`` writes the disagreements of those
calls, the writer's and the second annotator's labels as A and B in an order set by the call_id
hash, for the adjudicator (adjudication_brief.md); ``merge --adjudicated`` takes the answers into
the ``adjudicated`` field. The corpus labels are never changed. Then
``scripts/annotation_agreement.py --writers ...`` gives the agreement.

    python scripts/second_pass.py batches --writers w51,w52 --size 75 --out DIR
    python scripts/second_pass.py merge --outcome DIR/outcome_*.jsonl --offers DIR/offers_*.jsonl
    python scripts/second_pass.py adjudication --writers w51,w52 --out DIR/adjudicate.txt
    python scripts/second_pass.py merge --adjudicated DIR/adjudicated.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from transcript_qa.labels import OFFER_KINDS, OFFER_RESPONSES, OUTCOMES, iter_jsonl, load_jsonl  # noqa: E402

CALLS = ROOT / "datasets" / "calls"
SECOND = ROOT / "datasets" / "second_annotation" / "second_pass.jsonl"
SPLITS = ("train", "dev")  # the second pass covers the calls models learn or are chosen on


class AnswerError(ValueError):
    """An answer file that cannot be merged; the message names the file and line."""


def corpus(calls_dir: Path = CALLS) -> dict[str, tuple[str, dict]]:
    """call_id -> (split, labeled call) for the train and dev calls."""
    return {d["call_id"]: (s, d) for s in SPLITS for d in load_jsonl(calls_dir / f"{s}.jsonl")}


def call_text(call: dict, extra: list[str] = ()) -> str:
    """A call as the annotators read it: a header, optional label lines, then ``[index] SPEAKER: text``."""
    head = f"=== CALL {call['call_id']} ({call['metadata'].get('industry', 'unknown')}) ==="
    turns = [f"[{i}] {t['speaker'].upper()}: {t['text']}" for i, t in enumerate(call["turns"])]
    return "\n".join([head, *extra, *turns]) + "\n"


def by_writers(calls: dict[str, tuple[str, dict]], writers: str) -> list[dict]:
    keep = {w for w in writers.split(",") if w}
    chosen = [d for _, d in calls.values() if d["metadata"].get("writer") in keep]
    if not chosen:
        raise SystemExit(f"no train or dev call by {', '.join(sorted(keep)) or '(no writer named)'}")
    return sorted(chosen, key=lambda d: d["call_id"])


def write_batches(calls: list[dict], size: int, out: Path) -> list[Path]:
    """Batches of ``size`` calls (the last one smaller), in call_id order; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(0, len(calls), size):
        p = out / f"batch_{k // size + 1:02d}.txt"
        p.write_text("\n".join(call_text(c) for c in calls[k : k + size]), encoding="utf-8")
        paths.append(p)
    return paths


def _read_answers(path: Path) -> list[tuple[str, dict]]:
    rows = []
    for n, obj, err in iter_jsonl(path):
        where = f"{path}:{n}"
        if err is not None:
            raise AnswerError(f"{where}: {err}")
        if not isinstance(obj, dict) or not isinstance(obj.get("call_id"), str):
            raise AnswerError(f"{where}: a line must be a JSON object with a string call_id")
        rows.append((where, obj))
    if not rows:
        raise AnswerError(f"{path}: no answer in the file")
    return rows


def _check_outcome(where: str, a: dict, call: dict) -> dict:
    if a.get("outcome") not in OUTCOMES:
        raise AnswerError(f"{where}: outcome {a.get('outcome')!r} is not one of {', '.join(OUTCOMES)}")
    rt = a.get("resolution_turn")
    if a["outcome"] == "resolved":
        if not isinstance(rt, int) or isinstance(rt, bool) or not 0 <= rt < len(call["turns"]):
            raise AnswerError(f"{where}: a resolved call needs a resolution_turn in 0..{len(call['turns']) - 1}, got {rt!r}")
    elif rt is not None:
        raise AnswerError(f"{where}: resolution_turn must be null when the outcome is {a['outcome']}")
    return {"outcome": a["outcome"], "resolution_turn": rt, "reason": str(a.get("reason", ""))}


def _check_offers(where: str, a: dict, call: dict) -> tuple[list[dict], list[int]]:
    offers = a.get("offers")
    if not isinstance(offers, list):
        raise AnswerError(f"{where}: offers must be a list")
    out, seen = [], set()
    for o in offers:
        t = o.get("turn") if isinstance(o, dict) else None
        if not isinstance(t, int) or isinstance(t, bool) or not 0 <= t < len(call["turns"]):
            raise AnswerError(f"{where}: offer turn {t!r} is not a turn of {call['call_id']}")
        if call["turns"][t]["speaker"] != "agent":
            raise AnswerError(f"{where}: offer turn {t} is a {call['turns'][t]['speaker']} turn, not an agent turn")
        if t in seen:
            raise AnswerError(f"{where}: offer turn {t} is given twice")
        if o.get("kind") not in OFFER_KINDS or o.get("response") not in OFFER_RESPONSES:
            raise AnswerError(f"{where}: offer at turn {t} needs kind in {OFFER_KINDS} and response in {OFFER_RESPONSES}")
        seen.add(t)
        out.append({"turn": t, "kind": o["kind"], "response": o["response"]})
    low = a.get("low_confidence_turns", [])
    if not isinstance(low, list) or not all(isinstance(i, int) for i in low):
        raise AnswerError(f"{where}: low_confidence_turns must be a list of turn indices")
    return sorted(out, key=lambda o: o["turn"]), sorted(set(low))


def disagrees(writer: dict, second: dict) -> bool:
    """Does the second annotation disagree with the writer's label, as the corpus counts it: another
    outcome, or both resolved with resolution turns more than 2 apart (the within-2 metric's line)?"""
    if second["outcome"] != writer["outcome"]:
        return True
    return writer["outcome"] == "resolved" and abs(writer["resolution_turn"] - second["resolution_turn"]) > 2


def merge(second: dict[str, dict], calls: dict[str, tuple[str, dict]], outcome_files: list[Path],
          offer_files: list[Path], adjudicated_files: list[Path]) -> tuple[dict[str, dict], list[str]]:
    """second_pass rows with the answer files taken in; (rows by call_id, the call_ids added or changed).

    Outcome and offer answers must come together for a call new to the second pass; an offer or
    outcome answer for a call the pass already has is refused (a call is annotated once);
    adjudications go only to calls whose answer disagrees with the writer's (``disagrees``)."""
    new_out: dict[str, tuple[str, dict]] = {}
    new_off: dict[str, tuple[str, list[dict], list[int]]] = {}
    for path in outcome_files:
        for where, a in _read_answers(path):
            c = a["call_id"]
            if c not in calls:
                raise AnswerError(f"{where}: {c} is not a train or dev call")
            if c in second or c in new_out:
                raise AnswerError(f"{where}: {c} already has a second outcome annotation")
            new_out[c] = (where, {**_check_outcome(where, a, calls[c][1]), "confidence": a.get("confidence", "high")})
    for path in offer_files:
        for where, a in _read_answers(path):
            c = a["call_id"]
            if c not in calls:
                raise AnswerError(f"{where}: {c} is not a train or dev call")
            if (c in second and "offers" in second[c]) or c in new_off:
                raise AnswerError(f"{where}: {c} already has a second offer annotation")
            new_off[c] = (where, *_check_offers(where, a, calls[c][1]))
    lone = sorted(set(new_out) ^ set(new_off))
    if lone:
        c = lone[0]
        where = (new_out.get(c) or new_off[c])[0]
        half = "an outcome answer but no offer answer" if c in new_out else "an offer answer but no outcome answer"
        raise AnswerError(f"{where}: {c} has {half} ({len(lone)} such calls); merge both halves of a round together")
    rows = {k: dict(v) for k, v in second.items()}
    changed = []
    for c in sorted(new_out):
        (_, o), (_, offers, low) = new_out[c], new_off[c]
        rows[c] = {"call_id": c, "split": calls[c][0], "outcome": o["outcome"], "resolution_turn": o["resolution_turn"],
                   "confidence": o["confidence"], "reason": o["reason"], "offers": offers,
                   "offer_low_confidence_turns": low}
        changed.append(c)
    for path in adjudicated_files:
        for where, a in _read_answers(path):
            c = a["call_id"]
            if c not in rows:
                raise AnswerError(f"{where}: {c} has no second annotation to adjudicate")
            if not disagrees(calls[c][1], rows[c]):
                raise AnswerError(f"{where}: {c} has no disagreement to adjudicate")
            if "adjudicated" in rows[c]:
                raise AnswerError(f"{where}: {c} is already adjudicated")
            adj = _check_outcome(where, a, calls[c][1])
            rows[c] = {**{k: v for k, v in rows[c].items() if k not in ("offers", "offer_low_confidence_turns")},
                       "adjudicated": adj, "offers": rows[c].get("offers", []),
                       "offer_low_confidence_turns": rows[c].get("offer_low_confidence_turns", [])}
            changed.append(c)
    return rows, changed


def adjudication_text(second: dict[str, dict], calls: list[dict]) -> tuple[str, int]:
    """The adjudicator's batch: every call whose second annotation disagrees with the writer's
    (``disagrees``: the outcome, or resolution turns more than 2 apart) and that is not yet
    adjudicated, with the two labels as A and B (order by call_id hash)."""
    parts = []
    for d in calls:
        s = second.get(d["call_id"])
        if s is None or not disagrees(d, s) or "adjudicated" in s:
            continue
        labs = [(d["outcome"], d.get("resolution_turn")), (s["outcome"], s["resolution_turn"])]
        if hashlib.sha1(d["call_id"].encode()).digest()[0] % 2:
            labs.reverse()
        extra = [f"LABEL {k}: outcome={o} resolution_turn={'null' if r is None else r}" for k, (o, r) in zip("AB", labs)]
        parts.append(call_text(d, extra))
    return "\n".join(parts), len(parts)


def write_second(rows: dict[str, dict], path: Path = SECOND) -> None:
    """Rows in their order (the file's rows where they were, new calls after), one JSON line each."""
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows.values():
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("batches", help="write the writers' train and dev calls, unlabeled, in batches")
    b.add_argument("--writers", required=True, help="comma-separated writer ids")
    b.add_argument("--size", type=int, default=75)
    b.add_argument("--out", required=True)
    m = sub.add_parser("merge", help="check answer files and add them to second_pass.jsonl")
    m.add_argument("--outcome", nargs="*", default=[], help="outcome annotators' files (guideline.md)")
    m.add_argument("--offers", nargs="*", default=[], help="offer annotators' files (offer_guideline.md)")
    m.add_argument("--adjudicated", nargs="*", default=[], help="adjudicator's files (adjudication_brief.md)")
    m.add_argument("--dry-run", action="store_true", help="check and count, write nothing")
    j = sub.add_parser("adjudication", help="write the disagreements (outcome, or resolution turns more than 2 "
                                            "apart) of these writers' calls")
    j.add_argument("--writers", required=True)
    j.add_argument("--out", required=True)
    for p in (b, m, j):
        p.add_argument("--calls", default=str(CALLS), help="folder with train.jsonl and dev.jsonl")
        p.add_argument("--second", default=str(SECOND), help="the second_pass.jsonl to read (and, for merge, write)")
    a = ap.parse_args(argv)
    calls = corpus(Path(a.calls))
    second_path = Path(a.second)
    second = {d["call_id"]: d for d in load_jsonl(second_path)} if second_path.exists() else {}
    if a.cmd == "batches":
        chosen = [d for d in by_writers(calls, a.writers) if d["call_id"] not in second]
        if not chosen:
            raise SystemExit("every call of those writers already has a second annotation")
        if a.size < 1:
            raise SystemExit("--size must be at least 1")
        for p in write_batches(chosen, a.size, Path(a.out)):
            print(f"{p}: {p.read_text(encoding='utf-8').count('=== CALL ')} calls")
        return 0
    if a.cmd == "adjudication":
        text, n = adjudication_text(second, by_writers(calls, a.writers))
        if n:
            Path(a.out).write_text(text, encoding="utf-8")
        print(f"{n} disagreements" + (f" written to {a.out}" if n else "; nothing to adjudicate"))
        return 0
    if not (a.outcome or a.offers or a.adjudicated):
        raise SystemExit("merge: give --outcome and --offers files, or --adjudicated files")
    try:
        rows, changed = merge(second, calls, [Path(p) for p in a.outcome], [Path(p) for p in a.offers],
                              [Path(p) for p in a.adjudicated])
    except AnswerError as e:
        print(f"error: {e}; nothing written", file=sys.stderr)
        return 1
    differ = sum(rows[c]["outcome"] != calls[c][1]["outcome"] for c in changed if "adjudicated" not in rows[c])
    print(f"{len(changed)} calls taken in ({differ} with an outcome unlike the writer's); "
          f"second pass {'would cover' if a.dry_run else 'covers'} {len(rows)} calls")
    if not a.dry_run:
        write_second(rows, second_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
