"""Cheap per-turn features beside the sentence vector: position, length, and lexicon cues.

Lexicon hits are features for the heads, never the answer on their own. Patterns are written for
both clean and ASR-style text (lower case, no punctuation), so they match the meaning, not the
punctuation.
"""

from __future__ import annotations

import math
import re

import numpy as np

_LEX: dict[str, str] = {
    "offer": r"\b(upgrad\w*|add[- ]?ons?|bundl\w*|offers?|deals?|discount\w*|promo\w*|premium|trial|free for|"
             r"per month|a month|monthly|would you (like|be interested|want)|interested in|might (like|want|suit)|"
             r"special|save|saving|protection|cover|waiver|membership|plus|pro plan|worth (adding|considering)|"
             r"lots of (people|customers|folks)|many (people|customers|folks))\b",
    "price": r"(\$|£|€|\b(dollars?|pounds?|euros?|bucks|quid|cents?|pence|percent|%|price|cost|fee|rate)\b)",
    "apology": r"\b(sorry|apolog\w*)\b",
    "empathy": r"\b(understand|frustrat\w*|must be|imagine|that sounds|i hear you|completely get|stressful|"
               r"worrying|annoying|inconvenient)\b",
    "thanks": r"\b(thanks?|thank you|appreciate\w*|cheers)\b",
    "greeting": r"\b(hello|hi|good (morning|afternoon|evening)|welcome|thanks? (you )?for (calling|contacting|holding)|"
                r"how (can|may) i (help|assist)|speaking|my name is|you('ve| have) reached)\b",
    "verify": r"\b(date of birth|birthday|postcode|post code|zip( code)?|security|verify|verif\w*|last four|"
              r"account number|policy number|member (id|number)|reference number|confirm (your|the) (name|address|email|details)|"
              r"first line of|full name|spell (that|your))\b",
    "resolve": r"\b(done|all set|sorted|fixed|processed|refund\w*|credit\w*|reset|should (now )?work|working now|"
               r"that worked|it works|confirm\w*|you('re| are) (all )?good|went through|cancelled|booked|rebooked|"
               r"updated|waived|removed|replacement|on its way)\b",
    "escalate": r"\b(transfer\w*|escalat\w*|ticket|call(ing)? you back|callback|call back|specialist|engineer|"
                r"technician|visit|case number|second line|tier two|supervisor|manager|department|team will)\b",
    "closing": r"\b(anything else|have a (good|great|nice|lovely|wonderful)|good ?bye|bye|survey|take care|"
               r"that('s| is) (all|everything)|you too)\b",
    "negative": r"\b(ridiculous|unacceptable|annoyed|frustrated|angry|upset|worried|not happy|fed up|joke|useless|"
                r"again|still (not|hasn't|haven't|doesn't)|terrible|awful|waste|disappointed|stressed|cancel\w*)\b",
    "hold": r"\b(hold|one moment|bear with|still there|just a (sec|second|minute|moment)|let me (check|look|see|pull))\b",
    "accept": r"\b(yes please|sure|sounds (good|great)|go ahead|sign me up|let'?s do (it|that)|i'?ll take|"
              r"why not|okay (then|fine)|add it|do it)\b",
    "decline": r"\b(no thanks?|not interested|no thank you|i'?m (good|fine|okay)|i'?ll pass|don'?t need|"
               r"not (right )?now|not for me|no no)\b",
    "defer": r"\b(think about it|send (me|it)|email (me|it)|maybe later|let me think|look at it|get back to you|"
             r"talk to my|check with my|call back later|consider)\b",
    "question": r"\?|\b(can you|could you|would you|do you|did you|is it|are you|what|when|where|why|how|which)\b",
    "we_will": r"\b(i('ll| will)|we('ll| will)|i('m| am) going to|let me)\b",
    "retention": r"\b(pause|instead|before (i|you|we) (cancel|close|go)|stay( with us)?|keep (you|your)|half price|"
                 r"cheaper|lower (plan|tier|price|rate)|come back|loyalty|rate lock|lock in|price match|match (that|their|it)|"
                 r"what i can do|one option|an option|alternative)\b",
    "cancel_intent": r"\b(cancel\w*|leav(e|ing)|switch(ing)? (to|provider|supplier)|close (my|the) account|terminat\w*|"
                     r"end (my|the) (contract|subscription|policy|membership)|going (elsewhere|with)|don'?t (want|need) it)\b",
    "deflect": r"\b(not my (department|job|problem)|nothing i can do|can'?t help|you('ll| will) have to|"
               r"that'?s (the )?policy|not (our|my) fault|you should have)\b",
    # a turn that reports a completed action ("... has been transferred", "you're all set"): a service
    # done, not a proposal, whatever its topic (version 3; in round nine's train on 2 offer turns and 695 others)
    "done": r"\b(has been|have been|is now|are now|was (successfully )?\w+ed|were \w+ed|"
            r"i('ve| have) (just |now |already )?\w+ed|went through|(is|it'?s|that'?s) (all )?done|"
            r"(is|it'?s|that'?s) (now )?(complete|completed|finished|processed)|successfully|all set|"
            r"you('re| are) (all )?set|you should (now )?(see|have|receive))\b",
}
# compiled case-sensitive and matched against lower-cased text: 2x faster than re.I, same hits
_LEX_LOWER: dict[str, re.Pattern[str]] = {k: re.compile(v) for k, v in _LEX.items()}
FEATURE_NAMES: list[str] = (
    ["is_agent", "is_customer", "rel_pos", "log_pos", "log_rev_pos", "is_first", "is_last", "log_words",
     "prev_same", "next_is_customer"]
    + [f"lex_{k}" for k in _LEX]
    + [f"prev_lex_{k}" for k in ("offer", "negative", "question")]
    + [f"next_lex_{k}" for k in ("accept", "decline", "defer", "thanks", "negative")]
    + ["customer_cancel_so_far"]
)
FEATURES_VERSION = 3  # 3: lex_done
# the columns that come from the word lists (what TrainConfig.cue_dropout may hide in training)
CUE_FEATURES: list[str] = [n for n in FEATURE_NAMES if "lex_" in n or n == "customer_cancel_so_far"]


def lexicon_hits(text: str) -> dict[str, int]:
    low = text.lower()
    return {k: int(bool(rx.search(low))) for k, rx in _LEX_LOWER.items()}


def feature_columns(names: list[str] | None) -> list[int] | None:
    """Where a model's feature names sit in this version's FEATURE_NAMES (None: the same list), so a
    model trained on an earlier feature set gets exactly the columns it was trained on."""
    if names is None or list(names) == FEATURE_NAMES:
        return None
    missing = [n for n in names if n not in FEATURE_NAMES]
    if missing:
        raise ValueError(f"the model uses features this version does not compute: {', '.join(missing)}")
    return [FEATURE_NAMES.index(n) for n in names]


def turn_features(texts: list[str], is_agent: list[bool], columns: list[int] | None = None) -> np.ndarray:
    """[n_turns, len(FEATURE_NAMES)] float32 features for one call (only ``columns``, when given)."""
    n = len(texts)
    lex = [lexicon_hits(t) for t in texts]
    out = np.zeros((n, len(FEATURE_NAMES)), dtype=np.float32)
    cancel_seen = 0.0
    for i, t in enumerate(texts):
        row: list[float] = [
            float(is_agent[i]), float(not is_agent[i]), i / max(1, n - 1), math.log1p(i) / 4.0,
            math.log1p(n - 1 - i) / 4.0, float(i == 0), float(i == n - 1), math.log1p(len(t.split())) / 4.0,
            float(i > 0 and is_agent[i - 1] == is_agent[i]), float(i + 1 < n and not is_agent[i + 1]),
        ]
        row += [float(lex[i][k]) for k in _LEX]
        prev = lex[i - 1] if i > 0 else None
        nxt = lex[i + 1] if i + 1 < n else None
        row += [float(prev[k]) if prev else 0.0 for k in ("offer", "negative", "question")]
        row += [float(nxt[k]) if nxt else 0.0 for k in ("accept", "decline", "defer", "thanks", "negative")]
        if not is_agent[i] and lex[i]["cancel_intent"]:
            cancel_seen = 1.0  # the customer has asked to cancel or leave: later offers are likely retention
        row.append(cancel_seen)
        out[i] = row
    return out if columns is None else np.ascontiguousarray(out[:, columns])
