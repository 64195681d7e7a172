"""Padding variable-length calls into one batch for the heads."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def pad_batch(embs: Sequence[np.ndarray], feats: Sequence[np.ndarray], agent: Sequence[Sequence[bool]],
              device: str = "cpu") -> dict[str, torch.Tensor]:
    """Stack calls of different lengths: emb [B,T,E], feats [B,T,F], mask/agent [B,T]."""
    B = len(embs)
    T = max(1, max(len(e) for e in embs))
    E = embs[0].shape[1]
    F = feats[0].shape[1]
    emb = np.zeros((B, T, E), dtype=np.float32)
    ft = np.zeros((B, T, F), dtype=np.float32)
    mask = np.zeros((B, T), dtype=bool)
    ag = np.zeros((B, T), dtype=bool)
    for i, (e, f, a) in enumerate(zip(embs, feats, agent)):
        n = len(e)
        emb[i, :n] = e
        ft[i, :n] = f
        mask[i, :n] = True
        ag[i, :n] = a
    return {
        "emb": torch.from_numpy(emb).to(device),
        "feats": torch.from_numpy(ft).to(device),
        "mask": torch.from_numpy(mask).to(device),
        "agent": torch.from_numpy(ag).to(device),
    }
