"""Role resolution: which speaker is the agent.

Order of precedence: the user's mapping (``--agent-speaker spk_0``, a channel or a name), then
the roles the format names, then inference from what each speaker says. Every call records how
its roles were decided and with what confidence (``Call.roles``).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import Iterable

from .readers.base import RawCall
from .transcript import Call, Role, RoleAssignment, Turn, turn_id

# Phrases agents say far more often than customers, and the reverse. Weights are log-odds-like.
AGENT_CUES: list[tuple[re.Pattern[str], float]] = [
    (re.compile(p, re.I), w)
    for p, w in [
        (r"\b(thanks?|thank you) (you )?for (calling|contacting|holding|waiting|your patience)", 3.0),
        (r"\bhow (can|may|could|might) (i|we) (help|assist|be of)", 3.0),
        (r"\bwhat can i (do for you|help( you)? with)", 3.0),
        (r"\bwelcome to\b", 2.0),
        (r"\bmy name is\b", 0.8),
        (r"\bthis is \w+ (from|at|with|speaking)\b", 2.0),
        (r"\bspeaking\b", 0.6),
        (r"\b(can|could|may) i (get|have|take|grab|confirm) (your|the)\b", 2.0),
        (r"\b(date of birth|security (question|answer)|postcode|zip code|last four|verify|verification)\b", 1.0),
        (r"\bis there anything else\b", 2.5),
        (r"\banything else i can\b", 2.5),
        (r"\b(let me|i'll|i will|i'm going to|i am going to) (check|look|pull|see|have a look|transfer|put you|process|send|escalate|raise|book|arrange|refund|credit|waive|update)", 1.5),
        (r"\b(one moment|bear with me|just a moment|please hold|on hold|i can see (that|your|here))\b", 1.5),
        (r"\b(i apologi[sz]e|sorry (for|about) (the|that|any) (inconvenience|wait|trouble|confusion))", 1.2),
        (r"\b(have a (great|good|nice|lovely|wonderful) (day|evening|afternoon|weekend))\b", 0.8),
        (r"\b(on (your|the) account|in our system|on our end|our records)\b", 1.0),
        (r"\b(ma'?am|sir)\b", 0.8),
        (r"\b(i can (offer|help)|we can offer|would you like (to|me))\b", 1.0),
        (r"\bfor security\b", 1.5),
    ]
]
CUSTOMER_CUES: list[tuple[re.Pattern[str], float]] = [
    (re.compile(p, re.I), w)
    for p, w in [
        (r"\bi('m| am) (calling|ringing|phoning) (about|because|to|regarding|for)\b", 3.0),
        (r"\b(i|we) (want|need|would like|wanted|'d like) to\b", 1.0),
        (r"\bmy (card|account|bill|order|package|parcel|flight|booking|policy|claim|phone|router|internet|meter|password|appointment|subscription|payment|balance|car|prescription|delivery)\b", 1.2),
        (r"\bi (have|got|had) (a|an|some) (problem|question|issue|complaint)\b", 2.0),
        (r"\b(can|could) you (help|tell|check|look|please|just|cancel|send)\b", 1.0),
        (r"\b(i was|i've been|i got|i have been) (charged|billed|told|waiting|trying|on hold)\b", 1.5),
        (r"\bit('s| is) (not|still not) working\b", 1.0),
        (r"\b(my name is \w+ and i|yes that's me|that's correct|yeah that's right)\b", 0.6),
        (r"\bthank you so much\b|\bthanks for your help\b|\bthat's (great|perfect|all)\b", 0.5),
    ]
]
PRIOR_FIRST_SPEAKER = 1.0  # agents usually speak first on inbound calls


def speaker_scores(raw: RawCall) -> dict[str, float]:
    """Net agent score per speaker label: agent cues minus customer cues, per turn, plus a first-speaker prior."""
    score: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for t in raw.turns:
        count[t.speaker] += 1
        for rx, w in AGENT_CUES:
            if rx.search(t.text):
                score[t.speaker] += w
        for rx, w in CUSTOMER_CUES:
            if rx.search(t.text):
                score[t.speaker] -= w
    if raw.turns:
        score[raw.turns[0].speaker] += PRIOR_FIRST_SPEAKER
    # questions: agents ask more of them in service calls, weakly
    for sp in count:
        q = sum(1 for t in raw.turns if t.speaker == sp and "?" in t.text)
        score[sp] += 0.3 * q / max(1, count[sp])
    return dict(score)


def _norm(label: str) -> str:
    return re.sub(r"\s+", " ", str(label).strip().lower())


def infer_agent(raw: RawCall) -> tuple[tuple[str, ...], float, str]:
    """The speaker labels taken as the agent, a confidence and a note, from the text."""
    speakers = list(dict.fromkeys(t.speaker for t in raw.turns))
    if len(speakers) == 1:
        return (speakers[0],), 0.5, "one speaker only; taken as the agent"
    sc = speaker_scores(raw)
    ranked = sorted(speakers, key=lambda s: -sc.get(s, 0.0))
    top, second = ranked[0], ranked[1]
    margin = sc[top] - sc[second]
    conf = 1.0 / (1.0 + math.exp(-0.8 * margin))
    agents = [top]
    # a third speaker with strong agent cues (a transfer to a second agent) is an agent too
    for s in ranked[2:]:
        if sc[s] >= 3.0:
            agents.append(s)
    note = "inferred from what each speaker says: " + ", ".join(f"{s}={sc[s]:.1f}" for s in ranked[:4])
    return tuple(agents), round(conf, 3), note


def resolve_roles(
    raw: RawCall,
    agent_speakers: Iterable[str] | None = None,
    *,
    trust_format: bool = True,
) -> tuple[list[Role], RoleAssignment]:
    """Roles for each turn of ``raw`` and how they were decided."""
    wanted = {_norm(a) for a in (agent_speakers or []) if str(a).strip()}
    if wanted:
        labels = {t.speaker for t in raw.turns}
        chans = raw.channels
        hits = {s for s in labels if _norm(s) in wanted or _norm(chans.get(s, "\0")) in wanted}
        if hits:
            roles = [Role.AGENT if t.speaker in hits else Role.CUSTOMER for t in raw.turns]
            return roles, RoleAssignment(method="user", confidence=1.0, agent_speakers=tuple(sorted(hits)),
                                         note="from the agent-speaker option")
    if trust_format and raw.turns and all(t.role is not None for t in raw.turns):
        roles = [t.role for t in raw.turns]  # type: ignore[misc]
        agents = tuple(sorted({t.speaker for t in raw.turns if t.role == Role.AGENT}))
        return roles, RoleAssignment(method="format", confidence=1.0, agent_speakers=agents,
                                     note="roles named by the format")
    # partly named roles: keep the named ones, infer the rest from the named speakers' labels
    agents, conf, note = infer_agent(raw)
    if trust_format and any(t.role is not None for t in raw.turns):
        named = {t.speaker: t.role for t in raw.turns if t.role is not None}
        if Role.AGENT in named.values():
            agents = tuple(s for s, r in named.items() if r == Role.AGENT)
            conf, note = 0.9, "roles named by the format for some speakers"
        else:
            # only customers are named: the agent is the best-scoring of the other speakers
            others = [s for s in dict.fromkeys(t.speaker for t in raw.turns) if s not in named]
            if others:
                sc = speaker_scores(raw)
                agents = (max(others, key=lambda s: sc.get(s, 0.0)),)
                conf = 0.9 if len(others) == 1 else conf
                note = "customer named by the format; the agent is " + (
                    "the other speaker" if len(others) == 1 else "inferred among the other speakers")
    roles = [Role.AGENT if t.speaker in agents else Role.CUSTOMER for t in raw.turns]
    method = "inferred" if len({t.speaker for t in raw.turns}) > 1 else "default"
    if wanted:
        note = f"no speaker or channel matched the agent-speaker option ({', '.join(sorted(wanted))}); " + note
    return roles, RoleAssignment(method=method, confidence=conf, agent_speakers=agents, note=note)


def build_call(raw: RawCall, call_id: str, source: str, agent_speakers: Iterable[str] | None = None) -> Call:
    """RawCall -> immutable Call with resolved roles and stable turn ids."""
    roles, how = resolve_roles(raw, agent_speakers)
    turns = tuple(
        Turn(id=turn_id(call_id, i), index=i, speaker=t.speaker, role=r, text=t.text.strip(), start=t.start, end=t.end)
        for i, (t, r) in enumerate(zip(raw.turns, roles))
    )
    return Call(id=call_id, turns=turns, metadata=raw.metadata, source=source, roles=how)
