#!/usr/bin/env python
"""Write the demo's sample calls (samples/) from dev-split calls, each in a different input format.

Labels are dropped: samples are plain transcripts as a contact centre would export them. The two
real Harper Valley calls are copied from tests/fixtures/harper_valley (Apache-2.0, see LICENSE there).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "samples"
PICK = {  # call_id -> format
    "w1-bank-001": "txt", "w1-bank-006": "vtt", "w2-tel-021": "deepgram", "w5-car-016": "srt",
    "w6-subs-014": "csv", "w4-saas-001": "native", "w7-wat-007": "assemblyai",
}


def ts(x: float, sep: str = ".") -> str:
    h, rem = divmod(x, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:06.3f}".replace(".", sep)


def times(c: dict) -> list[tuple[float, float]]:
    """Turn times from the call, or made up from word counts (2.6 words a second) when absent."""
    out, t = [], 0.0
    for turn in c["turns"]:
        if turn.get("start") is not None:
            out.append((turn["start"], turn.get("end") or turn["start"] + 1))
            continue
        d = max(0.8, len(turn["text"].split()) / 2.6)
        out.append((round(t, 2), round(t + d, 2)))
        t += d + 0.4
    return out


def main() -> None:
    calls = {c["call_id"]: c for c in map(json.loads, (ROOT / "datasets/calls/dev.jsonl").read_text().splitlines())}
    OUT.mkdir(exist_ok=True)
    for cid, fmt in PICK.items():
        c = calls[cid]
        tt = times(c)
        name = {"agent": "Agent", "customer": "Customer"}
        if fmt == "txt":
            lines = [f"[{ts(s)[:8]}] {name[t['speaker']]}: {t['text']}" for t, (s, _) in zip(c["turns"], tt)]
            (OUT / f"{cid}.txt").write_text("\n".join(lines) + "\n")
        elif fmt == "vtt":
            cues = [f"{ts(s)} --> {ts(e)}\n<v {name[t['speaker']]}>{t['text']}</v>" for t, (s, e) in zip(c["turns"], tt)]
            (OUT / f"{cid}.vtt").write_text("WEBVTT\n\n" + "\n\n".join(cues) + "\n")
        elif fmt == "srt":
            spk = {"agent": "SPEAKER_00", "customer": "SPEAKER_01"}
            cues = [f"{i + 1}\n{ts(s, ',')} --> {ts(e, ',')}\n[{spk[t['speaker']]}]: {t['text']}"
                    for i, (t, (s, e)) in enumerate(zip(c["turns"], tt))]
            (OUT / f"{cid}.srt").write_text("\n\n".join(cues) + "\n")
        elif fmt == "deepgram":
            utt = [{"speaker": 0 if t["speaker"] == "agent" else 1, "transcript": t["text"], "start": s, "end": e,
                    "confidence": 0.9, "channel": 0} for t, (s, e) in zip(c["turns"], tt)]
            doc = {"metadata": {"request_id": "5b1f0c2e-0000-4000-8000-000000000001", "duration": tt[-1][1], "channels": 1},
                   "results": {"channels": [{"alternatives": [{"transcript": " ".join(t["text"] for t in c["turns"])}]}],
                               "utterances": utt}}
            (OUT / f"{cid}.json").write_text(json.dumps(doc, indent=1))
        elif fmt == "assemblyai":
            utt = [{"speaker": "A" if t["speaker"] == "agent" else "B", "text": t["text"], "start": int(s * 1000),
                    "end": int(e * 1000), "confidence": 0.93} for t, (s, e) in zip(c["turns"], tt)]
            doc = {"id": cid, "status": "completed", "text": " ".join(t["text"] for t in c["turns"]), "utterances": utt}
            (OUT / f"{cid}.assemblyai.json").write_text(json.dumps(doc, indent=1))
        elif fmt == "csv":
            with open(OUT / f"{cid}.csv", "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["call_id", "speaker", "text", "start", "end"])
                for t, (s, e) in zip(c["turns"], tt):
                    w.writerow([cid, t["speaker"], t["text"], s, e])
        elif fmt == "native":
            doc = {"call_id": cid, "metadata": c["metadata"],
                   "turns": [{"speaker": t["speaker"], "text": t["text"], "start": s, "end": e} for t, (s, e) in zip(c["turns"], tt)]}
            (OUT / f"{cid}.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    hv = OUT / "harper_valley"
    hv.mkdir(exist_ok=True)
    src = ROOT / "tests/fixtures/harper_valley"
    for f in sorted((src / "transcript").glob("*.json"))[:2]:
        shutil.copy2(f, hv / f.name)
    shutil.copy2(src / "LICENSE", hv / "LICENSE")


if __name__ == "__main__":
    main()
