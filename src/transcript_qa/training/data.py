"""Labeled calls (docs/labels.md) -> Calls, training targets and a ``datasets.Dataset``."""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..labels import CORPUS_SPLITS, OFFER_KINDS, OFFER_RESPONSES, OUTCOMES, SKILLS, STAGES, iter_jsonl, validate_call
from ..transcript import Call, Role, Turn, turn_id


class LabeledDataError(ValueError):
    """Bad or too little labeled data; the message names the file and line."""


@dataclass
class LabeledCall:
    """A gold call: the Call the analyzer sees plus its labels."""

    call: Call
    gold: dict[str, Any]
    where: str  # "train.jsonl:17"

    @property
    def call_id(self) -> str:
        return self.call.id


def gold_to_call(obj: dict[str, Any], source: str = "") -> Call:
    cid = str(obj["call_id"])
    turns = tuple(
        Turn(id=turn_id(cid, i), index=i, speaker=t["speaker"], role=Role(t["speaker"]), text=t["text"],
             start=t.get("start"), end=t.get("end"))
        for i, t in enumerate(obj["turns"])
    )
    return Call(id=cid, turns=turns, metadata=obj.get("metadata") or {}, source=source)


def load_labeled(path: str | Path, *, strict: bool = True) -> list[LabeledCall]:
    """Read and validate a labeled JSONL file. Errors name ``file:line``; ``strict`` raises on the first."""
    path = Path(path)
    if not path.exists():
        raise LabeledDataError(f"{path}: no such file")
    out: list[LabeledCall] = []
    problems: list[str] = []
    seen: set[str] = set()
    for n, obj, perr in iter_jsonl(path):
        where = f"{path.name}:{n}"
        errs = [perr] if perr else validate_call(obj)[0]
        if not errs and obj["call_id"] in seen:
            errs = [f"duplicate call_id {obj['call_id']!r}"]
        if errs:
            problems.append(f"{where}: {errs[0]}")
            continue
        seen.add(obj["call_id"])
        out.append(LabeledCall(gold_to_call(obj, where), obj, where))
    if problems and strict:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise LabeledDataError(problems[0] + more + "; check the file with `transcript-qa validate`")
    return out


def file_hash(paths: Sequence[str | Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def targets(lc: LabeledCall) -> dict[str, Any]:
    """Integer / float training targets for one gold call."""
    g = lc.gold
    st = [STAGES.index(t["stage"]) for t in g["turns"]]
    offer = [1 if t.get("offer") else 0 for t in g["turns"]]
    kind = [OFFER_KINDS.index(t["offer"]["kind"]) if t.get("offer") else -100 for t in g["turns"]]
    resp = [OFFER_RESPONSES.index(t["offer"]["response"]) if t.get("offer") else -100 for t in g["turns"]]
    rt = g["resolution_turn"] if g["outcome"] == "resolved" and g["resolution_turn"] is not None else -100
    return {
        "stage": st, "offer": offer, "offer_kind": kind, "offer_resp": resp, "resolution_turn": rt,
        "outcome": OUTCOMES.index(g["outcome"]), "skills": [float(g["soft_skills"][s]) for s in SKILLS],
    }


def to_dataset(calls: Sequence[LabeledCall]):
    """A ``datasets.Dataset``: one row a call, with texts, roles and every target."""
    from datasets import Dataset

    rows: dict[str, list] = {k: [] for k in ("call_id", "texts", "roles", "industry", "style", "stage", "offer",
                                              "offer_kind", "offer_resp", "resolution_turn", "outcome", "skills")}
    for lc in calls:
        t = targets(lc)
        rows["call_id"].append(lc.call_id)
        rows["texts"].append([x.text for x in lc.call.turns])
        rows["roles"].append([x.role.value for x in lc.call.turns])
        rows["industry"].append(str(lc.gold.get("metadata", {}).get("industry", "")))
        rows["style"].append(str(lc.gold.get("metadata", {}).get("style", "")))
        for k in ("stage", "offer", "offer_kind", "offer_resp", "resolution_turn", "outcome", "skills"):
            rows[k].append(t[k])
    return Dataset.from_dict(rows)


def load_dataset_dict(folder: str | Path = "datasets/calls"):
    """``DatasetDict`` with the splits of a labeled folder (labels.CORPUS_SPLITS: train, dev, test and the
    unseen-writer sets), those present."""
    from datasets import DatasetDict

    folder = Path(folder)
    return DatasetDict({s: to_dataset(load_labeled(folder / f"{s}.jsonl"))
                        for s in CORPUS_SPLITS if (folder / f"{s}.jsonl").exists()})


# ---- ASR-style augmentation: teach the heads that meaning, not punctuation or case, matters ----
_ONES = "zero one two three four five six seven eight nine".split()
_FILLERS = ["um", "uh", "like", "so", "yeah", "you know"]


def asr_style(text: str, rng: random.Random) -> str:
    """A clean turn as a speech recogniser might write it: lower case, no punctuation, digits spelled, fillers."""
    t = text.lower()
    t = re.sub(r"\d", lambda m: f" {_ONES[int(m.group())]} ", t)
    t = re.sub(r"[^\w\s']", " ", t)
    words = t.split()
    if words and rng.random() < 0.25:
        words.insert(0, rng.choice(_FILLERS))
    if len(words) > 4 and rng.random() < 0.15:
        k = rng.randrange(len(words) - 1)
        words.insert(k, words[k])  # a false start: "i i was"
    return " ".join(words) or text


def augment_asr(calls: Sequence[LabeledCall], seed: int = 13) -> list[LabeledCall]:
    """ASR-style copies of the clean calls (labels unchanged)."""
    rng = random.Random(seed)
    out = []
    for lc in calls:
        if lc.gold.get("metadata", {}).get("style") == "asr":
            continue
        g = dict(lc.gold)
        g["call_id"] = lc.call_id + "~asr"
        g["turns"] = [dict(t, text=asr_style(t["text"], rng)) for t in lc.gold["turns"]]
        out.append(LabeledCall(gold_to_call(g, lc.where), g, lc.where))
    return out


def embed_calls(calls: Sequence[LabeledCall], encoder, cache_dir: str | Path | None = None) -> list[np.ndarray]:
    """Turn vectors for each call, encoded once; cached on disk by text hash when ``cache_dir`` is set."""
    texts = [t.text for lc in calls for t in lc.call.turns]
    tag = getattr(encoder, "cache_tag", "")  # a fine-tuned delta on the base weights: other vectors
    key = hashlib.sha256(("\x1e".join(texts) + f"|{encoder.path.name}|{encoder.dtype}|{encoder.max_length}"
                          + (f"|{tag}" if tag else "")).encode()).hexdigest()[:20]
    vecs = None
    if cache_dir:
        cp = Path(cache_dir) / f"emb-{key}.npy"
        if cp.exists():
            vecs = np.load(cp)
    if vecs is None:
        vecs = encoder.encode(texts)
        if cache_dir:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            np.save(Path(cache_dir) / f"emb-{key}.npy", vecs)
    out, k = [], 0
    for lc in calls:
        n = len(lc.call.turns)
        out.append(vecs[k : k + n])
        k += n
    return out
