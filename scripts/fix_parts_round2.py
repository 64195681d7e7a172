#!/usr/bin/env python
"""Review fix for later rounds of writers (round two: w8-w21, 48 sentences; round three: w22-w23, 1;
round four: w24-w29, 11),
applied to datasets/parts before scripts/add_writers.py merges them (kept for the record, as
fix_corpus_parts.py is for round one).

Stock sentences of 8+ words that the new writers used in calls of their own are paraphrased once
the whole corpus (calls already merged + parts, in file order) has used them in 4 calls, so that
no 8-word sentence appears in 5 or more calls (datasets/README.md). Labels are not touched.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from transcript_qa.labels import load_jsonl  # noqa: E402

PARAPHRASES = {
    r"is there anything else i can (help|assist)( you)? with( today)?": [
        "what else can I sort out for you while you're on", "anything more I can take care of",
        "is there something else you'd like me to look at", "can I help with anything more at all",
        "was there anything else on your mind", "is that everything you needed",
        "anything further I can do", "what else can I check for you", "do you need anything more from me",
        "can I do anything else before you go", "is there another question I can answer",
        "anything else I can help sort", "shall I look into anything else", "is there more you need today",
        "did you have any other questions", "anything else I should look at", "what more can I do for you",
        "is there one more thing I can help with", "can I assist with anything else",
        "anything else you need from us", "was there something else",
        "any other bits I can help with", "anything else you want to go over",
        "is there any other way I can help", "need anything more from me today",
    ],
    r"can i take your name and date of birth": [
        "could I get your full name and birth date", "what's the name and date of birth on the file",
        "can you tell me your name and when you were born", "may I have your name and date of birth please",
        "let me have your name and birthday",
    ],
    r"will i have to explain it all again": [
        "do I have to go through the whole thing again", "am I going to have to repeat all of this",
        "will they make me tell it all over again",
    ],
}


def match_case(src: str, new: str, asr: bool) -> str:
    if asr:
        return re.sub(r"[^\w\s']", "", new.lower())
    return new[0].upper() + new[1:] if src[:1].isupper() else new[0].lower() + new[1:]


def main() -> int:
    rx = {p: re.compile(p, re.I) for p in PARAPHRASES}
    counts = {p: 0 for p in PARAPHRASES}
    used = {p: 0 for p in PARAPHRASES}
    for f in sorted((ROOT / "datasets" / "calls").glob("*.jsonl")):
        if f.name == "real_hvb.jsonl":
            continue
        for c in load_jsonl(f):
            for p in PARAPHRASES:
                counts[p] += any(rx[p].search(t["text"]) for t in c["turns"])
    changed = 0
    for f in sorted((ROOT / "datasets" / "parts").glob("w*.jsonl")):
        calls = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
        for c in calls:
            asr = c["metadata"].get("style") == "asr"
            for p, alts in PARAPHRASES.items():
                if not any(rx[p].search(t["text"]) for t in c["turns"]):
                    continue
                if counts[p] >= 4:
                    for t in c["turns"]:
                        t["text"], n = rx[p].subn(lambda m: match_case(m.group(0), alts[used[p] % len(alts)], asr),
                                                  t["text"])
                        changed += n
                    used[p] += 1
                counts[p] += 1
        f.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in calls), encoding="utf-8")
    print(f"{changed} stock sentences paraphrased")
    return 0


if __name__ == "__main__":
    sys.exit(main())
