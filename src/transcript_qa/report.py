"""The QA manager's report: per-agent and per-team figures over a results file, as one self-contained HTML page.

Computation and rendering are apart: :func:`compute_stats` turns result dicts (one per call, as ``analyze``
writes them) into plain dicts of numbers in one streaming pass; :class:`Report` renders those numbers as a
single HTML file (inline CSS, charts as embedded PNG drawn with matplotlib's Agg canvas, no network) and as
a per-agent CSV. docs/report.md says what each number means.
"""

from __future__ import annotations

import base64
import csv
import heapq
import html
import io
import json
import math
import os
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from .labels import OFFER_TIMINGS, OUTCOMES, SKILLS

UNKNOWN = "(unknown)"
Z95 = 1.959963984540054  # two-sided 95% normal quantile
ACCEPT_TIMINGS = ("before_resolution", "after_resolution", "no_resolution")
TIMING_ORDER = ("after_resolution", "before_resolution", "no_resolution", "none")
TIMING_LABEL = {"before_resolution": "before resolution", "after_resolution": "after resolution",
                "no_resolution": "never resolved", "none": "no offer"}
TIMING_SHORT = {"after_resolution": "A", "before_resolution": "B", "no_resolution": "NR", "none": "–"}
# Okabe-Ito colours (colour-blind safe): after = green (good), before = vermillion (bad)
TIMING_COLOR = {"after_resolution": "#009E73", "before_resolution": "#D55E00", "no_resolution": "#E69F00",
                "none": "#BBBBBB"}
SKILL_SHORT = {"empathy": "Emp", "courtesy": "Cou", "active_listening": "Lis", "ownership": "Own", "clarity": "Cla"}
QA_BINS = 10  # histogram bins of width 10 over 0..100
DEFAULT_TITLE = "Contact-centre QA report"


# --------------------------------------------------------------------------------------------- numbers

def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for k successes in n trials; None when n == 0."""
    if n <= 0:
        return None
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)  # exact at the edges, where rounding could stray
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


def proportion(k: int, n: int, min_sample: int) -> dict[str, Any]:
    """``{k, n, rate, lo, hi, small}``: a rate with its 95% Wilson interval; rate/lo/hi are None when n == 0."""
    ci = wilson(k, n)
    return {"k": k, "n": n, "rate": k / n if n else None, "lo": ci[0] if ci else None,
            "hi": ci[1] if ci else None, "small": n < min_sample}


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _name(meta: dict[str, Any], key: str) -> str:
    v = meta.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        return UNKNOWN
    return str(v).strip()


def qa_total(r: dict[str, Any]) -> float | None:
    qs = r.get("qa_score")
    return _num(qs.get("total")) if isinstance(qs, dict) else None


def first_offer(r: dict[str, Any]) -> dict[str, Any] | None:
    offers = [o for o in (r.get("offers") or []) if isinstance(o, dict)]
    if not offers:
        return None
    return min(enumerate(offers), key=lambda io_: (_num(io_[1].get("turn")) or 0, io_[0]))[1]


def qa_histogram(values: Iterable[float]) -> list[int]:
    """Counts over [0,10), [10,20) ... [90,100] (the last bin includes 100)."""
    bins = [0] * QA_BINS
    for v in values:
        bins[min(QA_BINS - 1, max(0, int(v // (100 / QA_BINS))))] += 1
    return bins


class _Acc:
    """Running totals for one group of calls (all calls, one agent or one team)."""

    def __init__(self) -> None:
        self.calls = 0
        self.outcomes: Counter[str] = Counter()
        self.offer_calls = 0
        self.timing: Counter[str] = Counter()
        self.acc_k: Counter[str] = Counter()
        self.acc_n: Counter[str] = Counter()
        self.skill_sum: Counter[str] = Counter()
        self.skill_n: Counter[str] = Counter()
        self.qa: list[float] = []
        self.teams: Counter[str] = Counter()
        self.agents: set[str] = set()

    def add(self, r: dict[str, Any], agent: str, team: str) -> None:
        self.calls += 1
        self.outcomes[str(r.get("outcome"))] += 1
        self.teams[team] += 1
        self.agents.add(agent)
        timing = str(r.get("offer_timing"))
        self.timing[timing] += 1
        first = first_offer(r)
        if first is not None:
            self.offer_calls += 1
            if timing in ACCEPT_TIMINGS:
                self.acc_n[timing] += 1
                self.acc_k[timing] += first.get("response") == "accepted"
        skills = r.get("soft_skills") or {}
        for s in SKILLS:
            v = skills.get(s)
            score = _num(v.get("score")) if isinstance(v, dict) else None
            if score is not None:
                self.skill_sum[s] += score
                self.skill_n[s] += 1
        q = qa_total(r)
        if q is not None:
            self.qa.append(q)

    def stats(self, min_sample: int) -> dict[str, Any]:
        qa = sorted(self.qa)
        return {
            "calls": self.calls,
            "agents": len(self.agents),
            "teams": dict(sorted(self.teams.items())),
            "outcomes": {o: self.outcomes.get(o, 0) for o in OUTCOMES},
            "resolution": proportion(self.outcomes.get("resolved", 0), self.calls, min_sample),
            "offer_rate": proportion(self.offer_calls, self.calls, min_sample),
            "timing": {t: self.timing.get(t, 0) for t in OFFER_TIMINGS},
            "acceptance": {t: proportion(self.acc_k[t], self.acc_n[t], min_sample) for t in ACCEPT_TIMINGS},
            "skills": {s: (self.skill_sum[s] / self.skill_n[s] if self.skill_n[s] else None) for s in SKILLS},
            "qa": {"n": len(qa), "mean": statistics.fmean(qa) if qa else None,
                   "median": statistics.median(qa) if qa else None, "min": qa[0] if qa else None,
                   "max": qa[-1] if qa else None, "histogram": qa_histogram(qa)},
        }


def _group_order(name: str) -> tuple[int, str]:
    return (name == UNKNOWN, name.lower())


def _low_entry(r: dict[str, Any], agent: str, team: str) -> dict[str, Any]:
    """One of the lowest-scoring calls: what cost it points and the turns that show it."""
    turns = [t for t in (r.get("turns") or []) if isinstance(t, dict)]
    by_id = {t.get("id"): t for t in turns}

    def ev(tid: Any) -> dict[str, Any]:
        t = by_id.get(tid)
        idx = t.get("index") if t else None
        if not isinstance(idx, int):
            m = re.search(r":t(\d+)$", str(tid))
            idx = int(m.group(1)) if m else None
        return {"id": str(tid), "index": idx, "role": (t or {}).get("role")}

    crit = []
    for c in (r.get("qa_score") or {}).get("breakdown") or []:
        if not isinstance(c, dict):
            continue
        w, v = _num(c.get("weight")) or 0.0, _num(c.get("value"))
        crit.append({"id": str(c.get("id")), "weight": w, "value": v, "points": _num(c.get("points")),
                     "lost": None if v is None else round(w * (1 - v), 3),
                     "evidence": [ev(t) for t in c.get("evidence") or []]})
    crit.sort(key=lambda c: (c["lost"] is None, -(c["lost"] or 0.0)))
    offers = [{"turn": o.get("turn"), "kind": o.get("kind"), "response": o.get("response")}
              for o in r.get("offers") or [] if isinstance(o, dict)]
    skills = {s: v.get("score") for s, v in (r.get("soft_skills") or {}).items() if isinstance(v, dict)}
    return {"call_id": str(r.get("call_id")), "agent": agent, "team": team, "qa": qa_total(r),
            "outcome": r.get("outcome"), "resolution_turn": r.get("resolution_turn"),
            "offer_timing": r.get("offer_timing"), "offers": offers, "skills": skills, "turns": len(turns),
            "criteria": crit}


def compute_stats(results: Iterable[dict[str, Any]], *, min_sample: int = 10, lowest: int = 10) -> dict[str, Any]:
    """All the report's numbers as plain dicts, in one pass (memory: the QA totals plus ``lowest`` calls).

    Returns ``{"overall": G, "agents": [G + name, team], "teams": [G + name], "lowest": [...], "min_sample",
    "scorecards"}`` where each G has calls, outcomes, resolution, offer_rate, timing, acceptance (per
    offer_timing, first offer of each call), skills (means) and qa (n, mean, median, min, max, histogram).
    Rates are ``{k, n, rate, lo, hi, small}`` with a 95% Wilson interval; ``small`` means n < min_sample.
    """
    overall = _Acc()
    agents: dict[str, _Acc] = {}
    teams: dict[str, _Acc] = {}
    scorecards: Counter[str] = Counter()

    def scored() -> Iterator[tuple[tuple[float, str], dict[str, Any]]]:
        for r in results:
            meta = r.get("metadata") if isinstance(r.get("metadata"), dict) else {}
            agent, team = _name(meta, "agent_id"), _name(meta, "team")
            overall.add(r, agent, team)
            agents.setdefault(agent, _Acc()).add(r, agent, team)
            teams.setdefault(team, _Acc()).add(r, agent, team)
            q = qa_total(r)
            if q is not None:
                scorecards[str(r["qa_score"].get("scorecard", ""))] += 1
                yield (q, str(r.get("call_id"))), {"r": r, "agent": agent, "team": team}

    gen = scored()
    low = heapq.nsmallest(max(0, lowest), gen, key=lambda x: x[0])
    for _ in gen:  # drain: nsmallest(0, ...) stops without reading
        pass

    agent_rows = []
    for name in sorted(agents, key=_group_order):
        a = agents[name]
        team = sorted(a.teams.items(), key=lambda kv: (-kv[1], _group_order(kv[0])))[0][0]
        agent_rows.append({"name": name, "team": team, **a.stats(min_sample)})
    return {
        "min_sample": min_sample,
        "overall": overall.stats(min_sample),
        "agents": agent_rows,
        "teams": [{"name": t, **teams[t].stats(min_sample)} for t in sorted(teams, key=_group_order)],
        "lowest": [_low_entry(x["r"], x["agent"], x["team"]) for _, x in low],
        "scorecards": dict(scorecards),
    }


# --------------------------------------------------------------------------------------------- reading

REQUIRED = {"call_id": str, "outcome": str, "offer_timing": str}


def check_result(obj: Any) -> str | None:
    """Why ``obj`` cannot be used as a result line, or None when it can."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    for k, typ in REQUIRED.items():
        if not isinstance(obj.get(k), typ) or not obj[k]:
            return f"missing or invalid {k!r}"
    for k, typ in (("offers", list), ("soft_skills", dict), ("metadata", dict), ("qa_score", dict),
                   ("turns", list)):
        if obj.get(k) is not None and not isinstance(obj[k], typ):
            return f"{k!r} must be a {typ.__name__}"
    return None


def iter_results(path: str | Path, problems: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Result dicts from a results JSONL file; torn or invalid lines (and repeated call ids) are skipped,
    each noted as ``"FILE:LINE: skipped: why"`` in ``problems``."""
    path = Path(path)
    problems = problems if problems is not None else []
    seen: set[str] = set()
    with open(path, "rb") as fh:
        for no, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                problems.append(f"{path}:{no}: skipped: not UTF-8")
                continue
            except ValueError as e:
                torn = "" if raw.endswith(b"\n") else " (torn last line?)"
                problems.append(f"{path}:{no}: skipped: invalid JSON{torn}: {e}")
                continue
            why = check_result(obj)
            if why:
                problems.append(f"{path}:{no}: skipped: {why}")
                continue
            if obj["call_id"] in seen:
                problems.append(f"{path}:{no}: skipped: call_id {obj['call_id']!r} repeated (first kept)")
                continue
            seen.add(obj["call_id"])
            yield obj


def load_texts(path: str | Path, ids: Iterable[str] | None = None,
               problems: list[str] | None = None) -> dict[str, list[str]]:
    """call_id -> turn texts from a native or labeled JSONL file (or one JSON array / object).

    Only ``ids`` are kept when given. Unusable lines are noted in ``problems`` and skipped."""
    path = Path(path)
    want = set(ids) if ids is not None else None
    problems = problems if problems is not None else []
    out: dict[str, list[str]] = {}

    def take(obj: Any, where: str) -> None:
        if not isinstance(obj, dict) or not isinstance(obj.get("turns"), list):
            problems.append(f"{where}: skipped: not a call with 'turns'")
            return
        cid = obj.get("call_id", obj.get("id"))
        if cid is None:
            problems.append(f"{where}: skipped: no call_id")
            return
        if want is None or str(cid) in want:
            out[str(cid)] = [str(t.get("text", "")) if isinstance(t, dict) else "" for t in obj["turns"]]

    text = path.read_text(encoding="utf-8", errors="replace")
    if text.lstrip()[:1] == "[":
        try:
            for i, obj in enumerate(json.loads(text)):
                take(obj, f"{path}[{i}]")
            return out
        except ValueError:
            pass  # not one JSON array: read as lines
    for no, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                take(json.loads(line), f"{path}:{no}")
            except ValueError as e:
                problems.append(f"{path}:{no}: skipped: invalid JSON: {e}")
    return out


# --------------------------------------------------------------------------------------------- tables

def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def flat_group(g: dict[str, Any]) -> dict[str, Any]:
    """One CSV row for a group (agent or team)."""
    row: dict[str, Any] = {"calls": g["calls"], "resolved": g["resolution"]["k"],
                           "resolution_rate": _r(g["resolution"]["rate"]),
                           "resolution_lo": _r(g["resolution"]["lo"]), "resolution_hi": _r(g["resolution"]["hi"]),
                           "offer_calls": g["offer_rate"]["k"], "offer_rate": _r(g["offer_rate"]["rate"])}
    for t in OFFER_TIMINGS:
        row[f"timing_{t}"] = g["timing"][t]
    for t, short in (("before_resolution", "before"), ("after_resolution", "after")):
        p = g["acceptance"][t]
        row.update({f"accept_{short}_k": p["k"], f"accept_{short}_n": p["n"], f"accept_{short}_rate": _r(p["rate"]),
                    f"accept_{short}_lo": _r(p["lo"]), f"accept_{short}_hi": _r(p["hi"]),
                    f"accept_{short}_small_sample": p["small"]})
    for s in SKILLS:
        row[s] = _r(g["skills"][s], 3)
    row.update({"qa_n": g["qa"]["n"], "qa_mean": _r(g["qa"]["mean"], 2), "qa_median": _r(g["qa"]["median"], 2)})
    return row


# --------------------------------------------------------------------------------------------- rendering

def e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def pct(x: float | None, nd: int = 0) -> str:
    return "–" if x is None else f"{100 * x:.{nd}f}%"


def fnum(x: float | None, nd: int = 1) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def _heat(v: float | None, lo: float, hi: float) -> str:
    """A light red-to-green background for a value in [lo, hi]."""
    if v is None:
        return ""
    f = min(1.0, max(0.0, (v - lo) / (hi - lo)))
    return f' style="background:hsl({round(120 * f)},55%,88%)"'


def _rate_cell(p: dict[str, Any], what: str = "") -> str:
    if p["rate"] is None:
        return f'<td class="num na" data-sort="-1" title="{e(what)}: no calls">–</td>'
    small = '<span class="badge blk">small sample</span>' if p["small"] else ""
    cls = "num small" if p["small"] else "num"
    tip = f"{what}: {p['k']} of {p['n']}; 95% CI {pct(p['lo'], 1)} to {pct(p['hi'], 1)}"
    return (f'<td class="{cls}" data-sort="{p["rate"]:.6f}" title="{e(tip)}"><b>{pct(p["rate"])}</b>'
            f'<div class="ci">{pct(p["lo"])}–{pct(p["hi"])} · {p["k"]}/{p["n"]}</div>{small}</td>')


def _timing_cell(t: dict[str, int]) -> str:
    total = sum(t.values()) or 1
    segs = "".join(f'<span style="width:{100 * t[k] / total:.1f}%;background:{TIMING_COLOR[k]}"></span>'
                   for k in TIMING_ORDER if t.get(k))
    tip = "; ".join(f"{TIMING_LABEL[k]}: {t.get(k, 0)}" for k in TIMING_ORDER)
    counts = " ".join(f'<i style="color:{TIMING_COLOR[k] if k != "none" else "#777"}">{TIMING_SHORT[k]}{t.get(k, 0)}</i>'
                      for k in TIMING_ORDER)
    share = t.get("before_resolution", 0) / total
    return (f'<td data-sort="{share:.6f}" title="{e(tip)}"><div class="mix">{segs}</div>'
            f'<div class="mixn">{counts}</div></td>')


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=144, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(w: float, h: float) -> tuple[Any, Any]:
    from matplotlib.figure import Figure  # the Agg canvas, no pyplot state and no GUI backend

    fig = Figure(figsize=(w, h))
    ax = fig.subplots()
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=9)
    return fig, ax


def chart_timing_mix(stats: dict[str, Any]) -> str:
    groups = [("All calls", stats["overall"])] + [(t["name"], t) for t in stats["teams"]]
    fig, ax = _figure(6.2, 0.55 * len(groups) + 1.3)
    ys = list(range(len(groups)))[::-1]
    left = [0.0] * len(groups)
    for k in TIMING_ORDER:
        vals = [100 * g["timing"][k] / g["calls"] if g["calls"] else 0 for _, g in groups]
        ax.barh(ys, vals, left=left, color=TIMING_COLOR[k], label=TIMING_LABEL[k], height=0.62, edgecolor="white")
        for y, l, v, (_, g) in zip(ys, left, vals, groups):
            if v >= 7:
                ax.text(l + v / 2, y, str(g["timing"][k]), ha="center", va="center", fontsize=8,
                        color="white" if k != "none" else "#333")
        left = [a + b for a, b in zip(left, vals)]
    ax.set_yticks(ys, [f"{n} ({g['calls']})" for n, g in groups])
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of calls (numbers in bars: calls)", fontsize=9)
    ax.legend(ncol=4, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return _png(fig)


def chart_acceptance(stats: dict[str, Any]) -> str:
    groups = [("All calls", stats["overall"])] + [(t["name"], t) for t in stats["teams"]]
    fig, ax = _figure(6.2, 3.2)
    width = 0.36
    for j, t in enumerate(("before_resolution", "after_resolution")):
        for i, (_, g) in enumerate(groups):
            p = g["acceptance"][t]
            x = i + (j - 0.5) * width
            if p["rate"] is None:
                ax.text(x, 0.02, "n=0", ha="center", fontsize=7, color="#777")
                continue
            ax.bar(x, 100 * p["rate"], width, color=TIMING_COLOR[t], alpha=0.45 if p["small"] else 1.0,
                   hatch="//" if p["small"] else None, edgecolor=TIMING_COLOR[t],
                   label=f"offer {TIMING_LABEL[t]}" if i == 0 else None)
            ax.errorbar(x, 100 * p["rate"],
                        yerr=[[max(0.0, 100 * (p["rate"] - p["lo"]))], [max(0.0, 100 * (p["hi"] - p["rate"]))]],
                        fmt="none", ecolor="#333", capsize=3, lw=1)
            ax.text(x, 100 * p["hi"] + 2, f"{p['k']}/{p['n']}", ha="center", fontsize=7, color="#333")
    ax.set_xticks(range(len(groups)), [n for n, _ in groups])
    ax.set_ylim(0, 112)
    ax.set_ylabel("first offer accepted (%)", fontsize=9)
    ax.legend(fontsize=8, frameon=False, loc="upper left", ncol=2)
    ax.set_title(f"bars: 95% Wilson interval; hatched: fewer than {stats['min_sample']} offers", fontsize=8,
                 color="#555")
    return _png(fig)


def chart_qa_histogram(stats: dict[str, Any]) -> str:
    q = stats["overall"]["qa"]
    fig, ax = _figure(6.2, 3.0)
    edges = [i * 100 / QA_BINS for i in range(QA_BINS)]
    ax.bar(edges, q["histogram"], width=100 / QA_BINS, align="edge", color="#0072B2", edgecolor="white")
    if q["mean"] is not None:
        ax.axvline(q["mean"], color="#D55E00", ls="--", lw=1.5, label=f"mean {q['mean']:.1f}")
        ax.axvline(q["median"], color="#333", ls=":", lw=1.5, label=f"median {q['median']:.1f}")
        ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.set_xlim(0, 100)
    ax.set_xticks(range(0, 101, 10))
    ax.set_xlabel("QA score", fontsize=9)
    ax.set_ylabel("calls", fontsize=9)
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def chart_skills(stats: dict[str, Any]) -> str:
    teams = stats["teams"]
    fig, ax = _figure(6.2, 3.0)
    colors = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
    width = 0.8 / max(1, len(teams))
    for j, t in enumerate(teams):
        xs = [i + (j - (len(teams) - 1) / 2) * width for i in range(len(SKILLS))]
        vals = [t["skills"][s] if t["skills"][s] is not None else 0 for s in SKILLS]
        ax.bar(xs, vals, width, color=colors[j % len(colors)], label=f"{t['name']} ({t['calls']})")
    ax.set_xticks(range(len(SKILLS)), [s.replace("_", " ") for s in SKILLS])
    ax.set_ylim(1, 5.4)
    ax.set_ylabel("mean score (1-5)", fontsize=9)
    ax.legend(fontsize=8, frameon=False, ncol=min(4, max(1, len(teams))), loc="upper left")
    return _png(fig)


CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2330;margin:0;background:#f4f5f7}
main{max-width:1240px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:24px;margin:0 0 2px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #dde1e7;padding-bottom:4px}
h3{font-size:15px;margin:0 0 6px}
.sub{color:#5a6270;font-size:12px}
.kpis{display:grid;grid-template-columns:repeat(6,1fr);gap:10px;margin:14px 0}
.kpi{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:10px 12px}
.kpi b{display:block;font-size:22px;line-height:1.2}.kpi span{color:#5a6270;font-size:12px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 14px;margin-bottom:12px}
.findings li{margin:3px 0}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.charts img{width:100%;height:auto;display:block}
table{border-collapse:collapse;width:100%;background:#fff;font-size:12.5px}
th,td{border-bottom:1px solid #e6e9ee;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef1f5;position:sticky;top:0;font-weight:600;vertical-align:bottom}
table.sortable th{cursor:pointer}th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{white-space:nowrap}
.ci{color:#6b7380;font-size:11px}.small,.small b{color:#8a8f99}.badge.blk{display:table;margin-top:1px}
td.name{white-space:nowrap}.scroll{overflow-x:auto}
.badge{display:inline-block;background:#fff3cd;color:#7a5a00;border:1px solid #f0d98a;border-radius:3px;font-size:10px;padding:0 3px;white-space:nowrap}
.mix{display:flex;width:96px;height:9px;border-radius:2px;overflow:hidden;background:#eee}.mix span{display:block;height:100%}
.mixn{font-size:10.5px;white-space:nowrap}.mixn i{font-style:normal;margin-right:4px}
.legend .sw{display:inline-block;width:10px;height:10px;margin:0 3px 0 10px;vertical-align:-1px;border-radius:2px}
.legend{margin-bottom:4px}
.low{background:#fff;border:1px solid #dde1e7;border-left:4px solid #D55E00;border-radius:6px;padding:10px 14px;margin-bottom:10px}
.low .score{float:right;font-size:22px;font-weight:700;color:#D55E00}
.low table{font-size:12px}.ev code{background:#f1f3f6;padding:0 3px;border-radius:3px;font-size:11px}
.ev q{quotes:none;color:#333}.role{color:#6b7380;font-size:11px}
.notes{font-size:12.5px;color:#3d4452}.notes dt{font-weight:600;margin-top:6px}.notes dd{margin:0 0 0 14px}
@media print{th{position:static}body{background:#fff}}
"""

# sorts the tables on a header click; its last act marks the page as rendered (tests check data-ok="1")
JS = """
(function(){
  function key(td){var v=td.getAttribute('data-sort');if(v===null)v=td.textContent.trim();
    var n=parseFloat(v);return isNaN(n)?String(v).toLowerCase():n;}
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'),function(t){
    var hs=t.tHead.rows[0].cells;
    Array.prototype.forEach.call(hs,function(th,i){
      th.addEventListener('click',function(){
        var asc=th.getAttribute('aria-sort')!=='ascending';
        Array.prototype.forEach.call(hs,function(h){h.removeAttribute('aria-sort');});
        th.setAttribute('aria-sort',asc?'ascending':'descending');
        var tb=t.tBodies[0],rows=Array.prototype.slice.call(tb.rows);
        rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);
          if(typeof x!==typeof y){x=String(x);y=String(y);}return (x<y?-1:x>y?1:0)*(asc?1:-1);});
        rows.forEach(function(r){tb.appendChild(r);});
      });
    });
  });
  document.body.dataset.ok='1';
})();
"""

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


@dataclass
class Report:
    """The numbers of :func:`compute_stats` plus what rendering needs."""

    stats: dict[str, Any]
    title: str = DEFAULT_TITLE
    texts: dict[str, list[str]] | None = None
    charts: bool = True
    generated: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    source: str = ""

    @property
    def min_sample(self) -> int:
        return int(self.stats["min_sample"])

    def lowest_ids(self) -> list[str]:
        return [c["call_id"] for c in self.stats["lowest"]]

    # ---- tables
    def agent_table(self) -> list[dict[str, Any]]:
        """One flat row per agent (what ``write_csv`` writes)."""
        return [{"agent_id": a["name"], "team": a["team"], **flat_group(a)} for a in self.stats["agents"]]

    def team_table(self) -> list[dict[str, Any]]:
        return [{"team": t["name"], "agents": t["agents"], **flat_group(t)} for t in self.stats["teams"]]

    def write_csv(self, path: str | Path) -> None:
        rows = self.agent_table()
        cols = list(rows[0]) if rows else ["agent_id", "team"]
        _atomic_write(Path(path), _csv_text(rows, cols))

    def write_html(self, path: str | Path) -> None:
        _atomic_write(Path(path), self.html())

    # ---- HTML
    def html(self) -> str:
        s = self.stats
        parts = [
            "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(self.title)}</title><style>{CSS}</style></head><body><main>",
            f"<h1>{e(self.title)}</h1>",
            f'<div class="sub">{s["overall"]["calls"]} calls · generated {e(self.generated)}'
            + (f" from {e(self.source)}" if self.source else "")
            + (" · scorecard " + ", ".join(e(k) for k in s["scorecards"] if k) if s.get("scorecards") else "")
            + "</div>",
        ]
        if not s["overall"]["calls"]:
            parts.append('<div class="card">No calls to report.</div>')
        else:
            parts += [self._kpis(), self._findings()]
            if self.charts:
                parts.append(self._charts())
            parts += [self._group_table("Teams", s["teams"], team=True),
                      self._group_table("Agents", s["agents"], team=False), self._lowest()]
        parts += [self._notes(), f"</main><script>{JS}</script></body></html>"]
        return "\n".join(parts)

    def _kpis(self) -> str:
        o = self.stats["overall"]
        ab, aa = o["acceptance"]["before_resolution"], o["acceptance"]["after_resolution"]
        cards = [
            (str(o["calls"]), f"calls · {o['agents']} agents · {len(o['teams'])} teams"),
            (pct(o["resolution"]["rate"]), f"resolved (95% CI {pct(o['resolution']['lo'])}–{pct(o['resolution']['hi'])})"),
            (pct(o["offer_rate"]["rate"]), f"calls with an offer ({o['offer_rate']['k']})"),
            (pct(ab["rate"]), f"offers accepted before resolution ({ab['k']}/{ab['n']}"
                              + ("; small sample)" if ab["small"] else ")")),
            (pct(aa["rate"]), f"offers accepted after resolution ({aa['k']}/{aa['n']}"
                              + ("; small sample)" if aa["small"] else ")")),
            (fnum(o["qa"]["mean"]), f"mean QA score (median {fnum(o['qa']['median'])})"),
        ]
        return '<div class="kpis">' + "".join(f'<div class="kpi"><b>{e(v)}</b><span>{e(t)}</span></div>'
                                               for v, t in cards) + "</div>"

    def _findings(self) -> str:
        s, o, ms = self.stats, self.stats["overall"], self.min_sample
        out = []
        oc, t = o["outcomes"], o["timing"]
        out.append(f"{pct(o['resolution']['rate'])} of calls were resolved ({oc['resolved']} of {o['calls']}); "
                   f"{oc['escalated']} escalated, {oc['unresolved']} unresolved.")
        if o["offer_rate"]["k"]:
            out.append(f"An offer was made in {o['offer_rate']['k']} calls ({pct(o['offer_rate']['rate'])}): "
                       f"{t['after_resolution']} after the issue was resolved, {t['before_resolution']} before it, "
                       f"{t['no_resolution']} in calls never resolved.")
        ab, aa = o["acceptance"]["before_resolution"], o["acceptance"]["after_resolution"]
        if ab["n"] and aa["n"]:
            line = (f"First offers made after resolution were accepted {pct(aa['rate'])} of the time "
                    f"({aa['k']}/{aa['n']}, 95% CI {pct(aa['lo'])}–{pct(aa['hi'])}) against {pct(ab['rate'])} "
                    f"before resolution ({ab['k']}/{ab['n']}, {pct(ab['lo'])}–{pct(ab['hi'])}). ")
            overlap = ab["lo"] <= aa["hi"] and aa["lo"] <= ab["hi"]
            line += ("The intervals overlap, so the difference may be chance at this sample size."
                     if overlap else "The intervals do not overlap: the difference is unlikely to be chance.")
            if ab["small"] or aa["small"]:
                line += f" (Fewer than {ms} offers on one side: a small sample.)"
            out.append(line)
        if o["qa"]["n"]:
            below = sum(o["qa"]["histogram"][:5])
            out.append(f"Mean QA score {fnum(o['qa']['mean'])}, median {fnum(o['qa']['median'])}; "
                       f"{below} of {o['qa']['n']} scored calls are below 50.")
            if o["qa"]["n"] < o["calls"]:
                out.append(f"{o['calls'] - o['qa']['n']} calls have no QA score and are left out of the QA figures.")
        big = [a for a in s["agents"] if a["calls"] >= ms and a["qa"]["mean"] is not None]
        if len(big) >= 2:
            lo_a = min(big, key=lambda a: a["qa"]["mean"])
            hi_a = max(big, key=lambda a: a["qa"]["mean"])
            out.append(f"Among agents with at least {ms} calls, the lowest mean QA score is {lo_a['name']} "
                       f"({fnum(lo_a['qa']['mean'])} over {lo_a['calls']} calls) and the highest {hi_a['name']} "
                       f"({fnum(hi_a['qa']['mean'])} over {hi_a['calls']} calls).")
        elif s["agents"]:
            out.append(f"{len(s['agents']) - len(big)} of {len(s['agents'])} agents have fewer than {ms} calls: "
                       "read their figures as small samples.")
        return '<h2>Summary</h2><div class="card findings"><ul>' + "".join(f"<li>{e(x)}</li>" for x in out) + "</ul></div>"

    def _charts(self) -> str:
        s = self.stats
        items = [("Offer timing by team", chart_timing_mix(s),
                  "Share of calls by when the first offer came; green = after the issue was resolved."),
                 ("Offer acceptance: before vs after resolution", chart_acceptance(s),
                  "First offer of each call, accepted / offered, with 95% Wilson intervals."),
                 ("QA score distribution", chart_qa_histogram(s), f"{s['overall']['qa']['n']} scored calls."),
                 ("Soft skills by team", chart_skills(s), "Mean model score per skill, 1 (poor) to 5 (excellent).")]
        cards = "".join(f'<div class="card"><h3>{e(t)}</h3><img alt="{e(t)}" src="data:image/png;base64,{b}">'
                        f'<div class="sub">{e(c)}</div></div>' for t, b, c in items)
        return f'<h2>Charts</h2><div class="charts">{cards}</div>'

    def _group_table(self, title: str, groups: list[dict[str, Any]], team: bool) -> str:
        ms = self.min_sample
        head = (["Team", "Agents"] if team else ["Agent", "Team"]) + [
            "Calls", "Resolution rate", "Offer rate", "Offer timing", "Accepted before resolution",
            "Accepted after resolution"] + [
            SKILL_SHORT[k] for k in SKILLS] + ["QA mean", "QA median"]
        tips = {"Offer timing": "bar and counts: A after resolution, B before resolution, NR never resolved, – no offer; "
                                "sorts by the share of offers before resolution",
                **{SKILL_SHORT[k]: k.replace("_", " ") + " (mean, 1-5)" for k in SKILLS}}
        rows = []
        for g in groups:
            cells = [f'<td class="name"><b>{e(g["name"])}</b></td>']
            cells.append(f'<td class="num">{g["agents"]}</td>' if team else f'<td class="name">{e(g["team"])}</td>')
            small = '<span class="badge blk">small sample</span>' if g["calls"] < ms else ""
            cells.append(f'<td class="num" data-sort="{g["calls"]}">{g["calls"]}{small}</td>')
            cells.append(_rate_cell(g["resolution"], "resolved"))
            cells.append(_rate_cell(g["offer_rate"], "calls with an offer"))
            cells.append(_timing_cell(g["timing"]))
            cells.append(_rate_cell(g["acceptance"]["before_resolution"], "first offer accepted, offered before resolution"))
            cells.append(_rate_cell(g["acceptance"]["after_resolution"], "first offer accepted, offered after resolution"))
            for k in SKILLS:
                v = g["skills"][k]
                cells.append(f'<td class="num" data-sort="{-1 if v is None else round(v, 4)}"{_heat(v, 1, 5)}>{fnum(v, 2)}</td>')
            q = g["qa"]
            cells.append(f'<td class="num" data-sort="{-1 if q["mean"] is None else round(q["mean"], 3)}"'
                         f'{_heat(q["mean"], 30, 90)}>{fnum(q["mean"])}</td>')
            cells.append(f'<td class="num" data-sort="{-1 if q["median"] is None else q["median"]}">{fnum(q["median"])}</td>')
            rows.append("<tr>" + "".join(cells) + "</tr>")
        legend = ('<div class="sub legend">Offer timing:' + "".join(
            f'<span class="sw" style="background:{TIMING_COLOR[k]}"></span>{TIMING_SHORT[k]} {e(TIMING_LABEL[k])}'
            for k in TIMING_ORDER) + f" · rates show 95% CI and k/n · <span class=\"badge\">small sample</span> "
                                     f"n &lt; {ms} · click a header to sort</div>")
        ths = "".join(f'<th title="{e(tips.get(h, h))}">{e(h)}</th>' for h in head)
        return (f"<h2>{e(title)}</h2>{legend}<div class=\"scroll\"><table class=\"sortable\" id=\"{e(title.lower())}\">"
                f"<thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")

    def _evidence(self, call_id: str, ev: list[dict[str, Any]]) -> str:
        if not ev:
            return '<span class="sub">no turn cited</span>'
        texts = (self.texts or {}).get(call_id)
        items = []
        for x in ev:
            label = f"<code>{e(x['id'])}</code>"
            if x.get("role"):
                label += f' <span class="role">{e(x["role"])}</span>'
            if texts is not None and isinstance(x.get("index"), int) and 0 <= x["index"] < len(texts):
                t = texts[x["index"]]
                t = t if len(t) <= 300 else t[:297] + "…"
                label += f" <q>{e(t)}</q>"
            items.append(f"<div>{label}</div>")
        return "".join(items)

    def _lowest(self) -> str:
        low = self.stats["lowest"]
        if not low:
            return ""
        out = [f"<h2>Lowest QA scores</h2><div class=\"sub\" style=\"margin-bottom:8px\">The {len(low)} calls with the "
               "lowest QA score, lowest first. For each, the criteria that lost points (most first) and the turns the "
               "model cites as evidence" + (" with their text." if self.texts else
                                            "; pass --calls to the CLI to see the turn texts.") + "</div>"]
        for c in low:
            offers = ", ".join(f"t{o['turn']} {o['kind']}→{o['response']}" for o in c["offers"]) or "none"
            skills = " · ".join(f"{s.replace('_', ' ')} {v}" for s, v in c["skills"].items())
            rt = "–" if c["resolution_turn"] is None else f"t{c['resolution_turn']}"
            rows = []
            full = []
            for cr in c["criteria"]:
                if cr["lost"] is None:
                    continue
                if cr["lost"] <= 0:
                    full.append(cr["id"])
                    continue
                rows.append(f"<tr><td>{e(cr['id'])}</td><td class=\"num\">{fnum(cr['value'], 2)}</td>"
                            f"<td class=\"num\">{fnum(cr['points'], 1)} / {fnum(cr['weight'], 0)}</td>"
                            f"<td class=\"num\">−{fnum(cr['lost'], 1)}</td>"
                            f"<td class=\"ev\">{self._evidence(c['call_id'], cr['evidence'])}</td></tr>")
            na = [cr["id"] for cr in c["criteria"] if cr["lost"] is None]
            out.append(
                f'<div class="low" id="call-{e(c["call_id"])}"><div class="score">{fnum(c["qa"])}</div>'
                f"<h3>{e(c['call_id'])}</h3><div class=\"sub\">agent <b>{e(c['agent'])}</b> · team {e(c['team'])} · "
                f"{c['turns']} turns · outcome <b>{e(c['outcome'])}</b> (resolution turn {e(rt)}) · offers {e(offers)} "
                f"· timing {e(TIMING_LABEL.get(str(c['offer_timing']), c['offer_timing']))}<br>skills: {e(skills)}</div>"
                + (f"<table><thead><tr><th>Criterion</th><th>Value</th><th>Points</th><th>Lost</th><th>Evidence</th>"
                   f"</tr></thead><tbody>{''.join(rows)}</tbody></table>" if rows else "")
                + (f'<div class="sub">full marks: {e(", ".join(full))}</div>' if full else "")
                + (f'<div class="sub">not applicable: {e(", ".join(na))}</div>' if na else "")
                + "</div>")
        return "".join(out)

    def _notes(self) -> str:
        ms = self.min_sample
        items = [
            ("Resolution rate", "resolved calls / calls. Escalated calls count as not resolved."),
            ("Offer rate", "calls with at least one sales offer / calls."),
            ("Offer timing", "when the call's first offer came: before the resolution turn, after it, in a call that "
                             "was never resolved, or no offer at all."),
            ("Acceptance before / after resolution", "for calls whose first offer came before (after) resolution: "
             "first offers accepted / first offers. Declined, deferred and unanswered offers count as not accepted."),
            ("95% CI", "Wilson score interval for a proportion: the range the true rate plausibly lies in given "
                       "this many calls. Wide intervals mean few calls."),
            ("Small sample", f"fewer than {ms} calls (or offers) behind the rate; compare such figures with care."),
            ("Soft skills", "mean of the model's 1-5 score per skill over the calls."),
            ("QA score", "0-100 from the scorecard rubric (weighted criteria); see the lowest calls for what cost points."),
        ]
        return ('<h2>How to read this report</h2><dl class="card notes">'
                + "".join(f"<dt>{e(a)}</dt><dd>{e(b)}</dd>" for a, b in items) + "</dl>")


def _csv_text(rows: list[dict[str, Any]], cols: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if v is None else v for k, v in r.items()})
    return buf.getvalue()


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8", newline="")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def build_report(results: Iterable[dict[str, Any]], *, title: str = DEFAULT_TITLE, min_sample: int = 10,
                 lowest: int = 10, texts: dict[str, list[str]] | None = None, charts: bool = True,
                 source: str = "") -> Report:
    """Compute the report over ``results`` (result dicts, e.g. from :func:`iter_results`).

    ``texts`` maps call_id -> turn texts, shown beside the evidence of the lowest-scoring calls.
    """
    if min_sample < 1:
        raise ValueError("min_sample must be >= 1")
    stats = compute_stats(results, min_sample=min_sample, lowest=lowest)
    return Report(stats, title=title, texts=texts, charts=charts, source=source)


__all__ = ["build_report", "compute_stats", "Report", "wilson", "proportion", "iter_results", "load_texts",
           "check_result", "UNKNOWN"]
