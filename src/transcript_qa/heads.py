"""The task heads: one small sequence model over a call's turn vectors, with a head per task.

Input per turn: the sentence vector, the role, and the cue features (features.py). A BiGRU gives
each turn its context; from it come stage logits (decoded by Viterbi over learned transitions),
offer / kind / response logits, a resolution pointer, the outcome (attention pooling), and five
soft-skill scores, each with its own attention over agent turns that names the evidence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from .labels import OFFER_KINDS, OFFER_RESPONSES, OUTCOMES, SKILLS, STAGES


@dataclass
class HeadsConfig:
    emb_dim: int = 384
    n_features: int = 0
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.3
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    outcomes: list[str] = field(default_factory=lambda: list(OUTCOMES))
    offer_kinds: list[str] = field(default_factory=lambda: list(OFFER_KINDS))
    offer_responses: list[str] = field(default_factory=lambda: list(OFFER_RESPONSES))
    skills: list[str] = field(default_factory=lambda: list(SKILLS))
    call_features: bool = True  # call-level cue summaries for the outcome and skill heads
    stage_crf: bool = False  # learn the stage transitions with a CRF loss (else: set from training counts)
    rel_pos_index: int = 2  # where features.py puts the relative position

    def to_dict(self) -> dict:
        return asdict(self)


class CallHeads(nn.Module):
    def __init__(self, cfg: HeadsConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.hidden
        self.inp = nn.Sequential(
            nn.Dropout(cfg.dropout / 2),
            nn.Linear(cfg.emb_dim + cfg.n_features, d),
            nn.GELU(),
            nn.Dropout(cfg.dropout),
        )
        self.gru = nn.GRU(d, d // 2, num_layers=cfg.layers, batch_first=True, bidirectional=True)
        self.mix = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Dropout(cfg.dropout))
        self.stage = nn.Linear(d, len(cfg.stages))
        self.offer = nn.Linear(d, 1)
        self.offer_kind = nn.Linear(d, len(cfg.offer_kinds))
        self.offer_resp = nn.Linear(d, len(cfg.offer_responses))
        self.res_ptr = nn.Linear(d, 1)
        self.out_att = nn.Linear(d, 1)
        nf = 3 * cfg.n_features if cfg.call_features else 0
        self.outcome = nn.Sequential(nn.Linear(2 * d + nf, d), nn.GELU(), nn.Dropout(cfg.dropout),
                                     nn.Linear(d, len(cfg.outcomes)))
        self.skill_att = nn.Linear(d, len(cfg.skills))
        self.skill_val = nn.Linear(d, len(cfg.skills))
        self.skill_out = nn.Linear(2 * len(cfg.skills) + nf, len(cfg.skills))
        # log transition scores between stages: set from training counts, and learned too with a CRF
        n = len(cfg.stages)
        if cfg.stage_crf:
            self.transitions = nn.Parameter(torch.zeros(n, n))
            self.start_scores = nn.Parameter(torch.zeros(n))
        else:
            self.register_buffer("transitions", torch.zeros(n, n))
            self.register_buffer("start_scores", torch.zeros(n))

    def forward(self, emb: torch.Tensor, feats: torch.Tensor, mask: torch.Tensor, agent: torch.Tensor) -> dict[str, torch.Tensor]:
        """emb [B,T,E], feats [B,T,F], mask [B,T] bool, agent [B,T] bool -> logits per task."""
        x = self.inp(torch.cat([emb, feats], -1))
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.gru(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
        h = self.mix(torch.cat([h, x], -1))
        neg = torch.finfo(h.dtype).min
        out: dict[str, torch.Tensor] = {
            "stage": self.stage(h),
            "offer": self.offer(h).squeeze(-1),
            "offer_kind": self.offer_kind(h),
            "offer_resp": self.offer_resp(h),
            "res_ptr": self.res_ptr(h).squeeze(-1).masked_fill(~mask, neg),
        }
        a = self.out_att(h).squeeze(-1).masked_fill(~mask, neg).softmax(-1)
        pooled = (a.unsqueeze(-1) * h).sum(1)
        mx = h.masked_fill(~mask.unsqueeze(-1), neg).max(1).values
        am = mask & agent
        am = torch.where(am.any(1, keepdim=True), am, mask)  # a call with no agent turn: use all
        call_f: list[torch.Tensor] = []
        if self.cfg.call_features:
            # how the call ends decides its outcome: cue rates of each side in the last 40% of turns
            late = mask & (feats[..., self.cfg.rel_pos_index] >= 0.6)
            call_f = [_masked_mean(feats, late & agent), _masked_mean(feats, late & ~agent), _masked_mean(feats, am)]
        out["outcome"] = self.outcome(torch.cat([pooled, mx, *call_f], -1))
        sa = self.skill_att(h).masked_fill(~am.unsqueeze(-1), neg).softmax(1)  # [B,T,S]
        sv = self.skill_val(h)  # [B,T,S]
        att_val = (sa * sv).sum(1)
        mean_val = (sv * am.unsqueeze(-1)).sum(1) / am.sum(1, keepdim=True).clamp(min=1)
        out["skills"] = 3.0 + 2.0 * torch.tanh(self.skill_out(torch.cat([att_val, mean_val, *call_f], -1)))
        out["skill_att"] = sa
        out["skill_turn"] = sv
        if self.cfg.stage_crf and self.training:  # for the CRF loss; inference reads the attributes
            out["transitions"] = self.transitions
            out["start_scores"] = self.start_scores
        return out


def _masked_mean(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Mean of x [B,T,F] over the turns where m [B,T] is true (zeros where none)."""
    mf = m.unsqueeze(-1).to(x.dtype)
    return (x * mf).sum(1) / mf.sum(1).clamp(min=1)


def crf_nll(emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor,
            start: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the gold stage paths under a linear-chain CRF.

    emissions [B,T,K] (log-softmax per turn), tags [B,T] (-100 where padded), mask [B,T] bool;
    calls are left-aligned (mask is a prefix).
    """
    B, T, K = emissions.shape
    y = tags.clamp(min=0)
    m = mask & (tags >= 0)
    em_gold = emissions.gather(2, y.unsqueeze(-1)).squeeze(-1)  # [B,T]
    gold = start[y[:, 0]] + em_gold[:, 0]
    if T > 1:
        tr = transitions[y[:, :-1], y[:, 1:]] + em_gold[:, 1:]  # [B,T-1]
        gold = gold + (tr * m[:, 1:]).sum(1)
    alpha = start.unsqueeze(0) + emissions[:, 0]  # [B,K]
    for t in range(1, T):
        nxt = torch.logsumexp(alpha.unsqueeze(2) + transitions.unsqueeze(0), dim=1) + emissions[:, t]
        alpha = torch.where(m[:, t : t + 1], nxt, alpha)
    log_z = torch.logsumexp(alpha, dim=1)
    lengths = m.sum(1).clamp(min=1).to(emissions.dtype)
    return ((log_z - gold) / lengths).mean()


def viterbi(emissions: np.ndarray, transitions: np.ndarray, start: np.ndarray) -> list[int]:
    """Best stage path for one call: emissions [T,K] log-probs, transitions [K,K] log-scores."""
    T, K = emissions.shape
    score = start + emissions[0]
    back = np.zeros((T, K), dtype=np.int64)
    for t in range(1, T):
        cand = score[:, None] + transitions
        back[t] = cand.argmax(0)
        score = cand.max(0) + emissions[t]
    path = [int(score.argmax())]
    for t in range(T - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    return path[::-1]


def transition_scores(sequences: list[list[int]], k: int, smoothing: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Log transition and start probabilities from gold stage sequences (add-``smoothing``)."""
    trans = np.full((k, k), smoothing)
    start = np.full(k, smoothing)
    for seq in sequences:
        if seq:
            start[seq[0]] += 1
        for a, b in zip(seq, seq[1:]):
            trans[a, b] += 1
    trans = np.log(trans / trans.sum(1, keepdims=True))
    start = np.log(start / start.sum())
    return trans.astype(np.float32), start.astype(np.float32)


class EnsembleHeads(nn.Module):
    """Several CallHeads trained with different seeds; outputs averaged. Same interface as CallHeads."""

    def __init__(self, members: list[CallHeads]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.cfg = members[0].cfg

    @property
    def transitions(self) -> torch.Tensor:
        """The members' transition scores, averaged (each member learns its own with a CRF)."""
        return torch.stack([m.transitions for m in self.members]).mean(0)

    @property
    def start_scores(self) -> torch.Tensor:
        return torch.stack([m.start_scores for m in self.members]).mean(0)

    def forward(self, emb, feats, mask, agent) -> dict[str, torch.Tensor]:
        outs = [m(emb, feats, mask, agent) for m in self.members]
        avg = {k: torch.stack([o[k] for o in outs]).mean(0) for k in outs[0]}
        neg = torch.finfo(avg["res_ptr"].dtype).min
        avg["res_ptr"] = avg["res_ptr"].masked_fill(~mask, neg)
        return avg


def build_heads(config: dict) -> nn.Module:
    """CallHeads, or EnsembleHeads when the model config says ``ensemble`` > 1."""
    n = int(config.get("ensemble", 1))
    cfg = HeadsConfig(**config["heads"])
    return CallHeads(cfg) if n <= 1 else EnsembleHeads([CallHeads(cfg) for _ in range(n)])
