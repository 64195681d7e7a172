"""Gold vs predicted -> metrics per task: the calibration report a QA team reads before trusting scores.

Top-level keys of each task block: ``stage_accuracy``, ``stage_macro_f1``, ``outcome_macro_f1``,
``offer_timing_macro_f1``, ``offer_turn_f1``, ``resolution_turn_within2``, ``soft_skill_mae``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .labels import OFFER_TIMINGS, OUTCOMES, SKILLS, STAGES
from .results import CallAnalysis


def confusion(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """Rows: gold label; columns: predicted label, in ``labels`` order."""
    ix = {l: i for i, l in enumerate(labels)}
    m = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred):
        m[ix[g]][ix[p]] += 1
    return m


def per_class_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, float]]:
    out = {}
    for l in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == l and p == l)
        fp = sum(1 for g, p in zip(gold, pred) if g != l and p == l)
        fn = sum(1 for g, p in zip(gold, pred) if g == l and p != l)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[l] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
    return out


def macro_f1(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> float:
    """Mean F1 over the labels that occur in gold or predictions (as scikit-learn does by default)."""
    present = [l for l in labels if l in set(gold) | set(pred)]
    if not present:
        return 0.0
    pc = per_class_f1(gold, pred, present)
    return float(np.mean([pc[l]["f1"] for l in present]))


def accuracy(gold: Sequence[Any], pred: Sequence[Any]) -> float:
    return float(np.mean([g == p for g, p in zip(gold, pred)])) if gold else 0.0


def match_within(gold: Sequence[int], pred: Sequence[int], tol: int = 1) -> list[tuple[int, int]]:
    """One-to-one matches of predicted to gold turn indices within ``tol`` turns (closest first)."""
    pairs = sorted(((abs(g - p), g, p) for g in gold for p in pred if abs(g - p) <= tol))
    used_g: set[int] = set()
    used_p: set[int] = set()
    out = []
    for _, g, p in pairs:
        if g not in used_g and p not in used_p:
            used_g.add(g)
            used_p.add(p)
            out.append((g, p))
    return out


def quadratic_weighted_kappa(a: Sequence[int], b: Sequence[int], lo: int = 1, hi: int = 5) -> float:
    k = hi - lo + 1
    O = np.zeros((k, k))
    for x, y in zip(a, b):
        O[x - lo, y - lo] += 1
    if O.sum() == 0:
        return 0.0
    W = np.array([[(i - j) ** 2 / (k - 1) ** 2 for j in range(k)] for i in range(k)])
    E = np.outer(O.sum(1), O.sum(0)) / O.sum()
    den = (W * E).sum()
    return float(1 - (W * O).sum() / den) if den else 0.0


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    if len(set(a)) < 2 or len(set(b)) < 2:
        return 0.0
    return float(spearmanr(a, b).statistic)


def evaluate(golds: Sequence[dict[str, Any]], preds: Sequence[CallAnalysis]) -> dict[str, Any]:
    """Metrics per task for gold calls (docs/labels.md dicts) and their predictions, in the same order."""
    if len(golds) != len(preds):
        raise ValueError(f"{len(golds)} gold calls but {len(preds)} predictions")
    for g, p in zip(golds, preds):
        if len(g["turns"]) != len(p.turns):
            raise ValueError(f"call {g['call_id']}: {len(g['turns'])} gold turns but {len(p.turns)} predicted")
    # stages
    gs = [t["stage"] for g in golds for t in g["turns"]]
    ps = [t.stage for p in preds for t in p.turns]
    stages = {
        "stage_accuracy": accuracy(gs, ps), "stage_macro_f1": macro_f1(gs, ps, STAGES),
        "per_stage": per_class_f1(gs, ps, STAGES), "labels": list(STAGES), "confusion": confusion(gs, ps, STAGES),
        "turns": len(gs),
    }
    # outcome and resolution turn
    go = [g["outcome"] for g in golds]
    po = [p.outcome for p in preds]
    outcome = {
        "outcome_accuracy": accuracy(go, po), "outcome_macro_f1": macro_f1(go, po, OUTCOMES),
        "per_outcome": per_class_f1(go, po, OUTCOMES), "labels": list(OUTCOMES), "confusion": confusion(go, po, OUTCOMES),
        "calls": len(go),
    }
    resolved = [(g, p) for g, p in zip(golds, preds) if g["outcome"] == "resolved" and g["resolution_turn"] is not None]
    within = [p.resolution_turn is not None and abs(p.resolution_turn - g["resolution_turn"]) <= 2 for g, p in resolved]
    exact = [p.resolution_turn == g["resolution_turn"] for g, p in resolved]
    resolution = {
        "resolution_turn_within2": float(np.mean(within)) if within else 0.0,
        "resolution_turn_exact": float(np.mean(exact)) if exact else 0.0, "resolved_calls": len(resolved),
    }
    # offers, turn level within one turn
    tp = n_pred = n_gold = 0
    kind_ok = resp_ok = 0
    for g, p in zip(golds, preds):
        gt = {i: t["offer"] for i, t in enumerate(g["turns"]) if t.get("offer")}
        pt = {o.turn: o for o in p.offers}
        n_gold += len(gt)
        n_pred += len(pt)
        m = match_within(list(gt), list(pt), 1)
        tp += len(m)
        for gi, pi in m:
            kind_ok += gt[gi]["kind"] == pt[pi].kind
            resp_ok += gt[gi]["response"] == pt[pi].response
    prec = tp / n_pred if n_pred else (1.0 if not n_gold else 0.0)
    rec = tp / n_gold if n_gold else (1.0 if not n_pred else 0.0)
    offers = {
        "offer_turn_precision": prec, "offer_turn_recall": rec,
        "offer_turn_f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
        "offer_kind_accuracy": kind_ok / tp if tp else 0.0, "offer_response_accuracy": resp_ok / tp if tp else 0.0,
        "gold_offers": n_gold, "predicted_offers": n_pred, "matched": tp,
        "call_has_offer_accuracy": accuracy([g["offer_timing"] != "none" for g in golds], [bool(p.offers) for p in preds]),
    }
    gt_ = [g["offer_timing"] for g in golds]
    pt_ = [p.offer_timing for p in preds]
    timing = {
        "offer_timing_accuracy": accuracy(gt_, pt_), "offer_timing_macro_f1": macro_f1(gt_, pt_, OFFER_TIMINGS),
        "per_timing": per_class_f1(gt_, pt_, OFFER_TIMINGS), "labels": list(OFFER_TIMINGS),
        "confusion": confusion(gt_, pt_, OFFER_TIMINGS),
    }
    # soft skills
    per_skill = {}
    for s in SKILLS:
        g = [int(x["soft_skills"][s]) for x in golds]
        p = [int(x.soft_skills[s].score) for x in preds]
        pv = [float(x.soft_skills[s].value) for x in preds]
        per_skill[s] = {
            "mae": float(np.mean(np.abs(np.array(g) - np.array(p)))), "spearman": spearman(g, pv),
            "qwk": quadratic_weighted_kappa(g, p), "exact": accuracy(g, p),
            "within_one": float(np.mean(np.abs(np.array(g) - np.array(p)) <= 1)),
        }
    skills = {"soft_skill_mae": float(np.mean([v["mae"] for v in per_skill.values()])), "per_skill": per_skill}
    return {"calls": len(golds), "stages": stages, "outcome": outcome, "resolution": resolution,
            "offers": offers, "offer_timing": timing, "soft_skills": skills}


HEADLINE = [
    ("stages", "stage_accuracy"), ("stages", "stage_macro_f1"), ("outcome", "outcome_macro_f1"),
    ("resolution", "resolution_turn_within2"), ("offers", "offer_turn_f1"),
    ("offer_timing", "offer_timing_macro_f1"), ("soft_skills", "soft_skill_mae"),
]
TARGETS = {"stage_accuracy": 0.85, "outcome_macro_f1": 0.85, "offer_turn_f1": 0.85, "offer_timing_macro_f1": 0.85,
           "resolution_turn_within2": 0.80, "soft_skill_mae": 0.7}


def headline(m: dict[str, Any]) -> dict[str, float]:
    """The seven headline numbers, flat."""
    return {k: round(float(m[task][k]), 4) for task, k in HEADLINE}


def selection_score(m: dict[str, Any]) -> float:
    """One number for model selection on dev: the mean of the headline metrics (MAE turned into a score)."""
    h = headline(m)
    parts = [h["stage_accuracy"], h["outcome_macro_f1"], h["offer_turn_f1"], h["offer_timing_macro_f1"],
             h["resolution_turn_within2"], max(0.0, 1 - h["soft_skill_mae"] / 2)]
    return float(np.mean(parts))


def bootstrap_headline(golds: Sequence[dict[str, Any]], preds: Sequence[CallAnalysis], n: int = 1000,
                       seed: int = 0, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of the headline metrics, resampling whole calls.

    With 84 test calls a single call moves a macro-F1 by a few hundredths; these intervals say how
    far a number could move on another sample of calls like these. Resamples in which a metric is
    undefined (no resolved call, say) are skipped for that metric.
    """
    rng = np.random.default_rng(seed)
    k = len(golds)
    samples: dict[str, list[float]] = {}
    for _ in range(n):
        idx = rng.integers(0, k, k)
        h = headline(evaluate([golds[i] for i in idx], [preds[i] for i in idx]))
        for key, v in h.items():
            if v == v:  # not NaN
                samples.setdefault(key, []).append(v)
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {key: (round(float(np.percentile(v, lo)), 4), round(float(np.percentile(v, hi)), 4))
            for key, v in samples.items()}
