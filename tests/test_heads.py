"""The sequence pieces of the heads: the CRF loss and Viterbi decoding agree with brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from transcript_qa.heads import CallHeads, HeadsConfig, crf_nll, viterbi


def brute_force(em: np.ndarray, trans: np.ndarray, start: np.ndarray) -> dict[tuple[int, ...], float]:
    """Score of every path through a small [T, K] emission matrix."""
    T, K = em.shape
    out = {}
    for path in itertools.product(range(K), repeat=T):
        s = start[path[0]] + em[0, path[0]]
        for t in range(1, T):
            s += trans[path[t - 1], path[t]] + em[t, path[t]]
        out[path] = float(s)
    return out


@pytest.fixture
def small():
    g = torch.Generator().manual_seed(0)
    em = torch.randn(2, 4, 3, generator=g).log_softmax(-1)
    trans = torch.randn(3, 3, generator=g)
    start = torch.randn(3, generator=g)
    return em, trans, start


def test_viterbi_finds_the_best_path(small):
    em, trans, start = (x.numpy() for x in small)
    for b in range(2):
        scores = brute_force(em[b], trans, start)
        assert tuple(viterbi(em[b], trans, start)) == max(scores, key=scores.get)


def test_crf_nll_is_the_exact_negative_log_likelihood(small):
    em, trans, start = small
    tags = torch.tensor([[0, 2, 2, 1], [1, 1, 0, -100]])  # the second call is 3 turns long
    mask = tags >= 0
    got = crf_nll(em, tags, mask, trans, start)
    want = []
    for b, n in ((0, 4), (1, 3)):
        scores = brute_force(em[b, :n].numpy(), trans.numpy(), start.numpy())
        log_z = np.logaddexp.reduce(list(scores.values()))
        gold = scores[tuple(tags[b, :n].tolist())]
        want.append((log_z - gold) / n)
    assert got.item() == pytest.approx(float(np.mean(want)), rel=1e-5)


def test_crf_transitions_are_learned_and_only_then():
    emb, feats = torch.randn(2, 5, 8), torch.randn(2, 5, 4)
    mask = torch.ones(2, 5, dtype=torch.bool)
    agent = torch.tensor([[True, False] * 2 + [True]] * 2)
    crf = CallHeads(HeadsConfig(emb_dim=8, n_features=4, hidden=16, stage_crf=True))
    plain = CallHeads(HeadsConfig(emb_dim=8, n_features=4, hidden=16))
    assert "transitions" in dict(crf.named_parameters())
    assert "transitions" not in dict(plain.named_parameters()) and "transitions" in dict(plain.named_buffers())
    crf.train()
    out = crf(emb, feats, mask, agent)
    tags = torch.randint(0, len(crf.cfg.stages), (2, 5))
    crf_nll(out["stage"].log_softmax(-1), tags, mask, out["transitions"], out["start_scores"]).backward()
    assert crf.transitions.grad is not None and crf.transitions.grad.abs().sum() > 0
    crf.eval()
    assert "transitions" not in crf(emb, feats, mask, agent)  # inference outputs stay per call
    # both kinds keep the same state-dict keys, so a model folder loads either way
    assert set(crf.state_dict()) == set(plain.state_dict())


def test_ensemble_decodes_with_the_members_mean_transitions():
    from transcript_qa.heads import EnsembleHeads

    members = [CallHeads(HeadsConfig(emb_dim=8, n_features=4, hidden=16, stage_crf=True)) for _ in range(2)]
    with torch.no_grad():
        members[0].transitions.fill_(1.0)
        members[1].transitions.fill_(3.0)
        members[1].start_scores.fill_(-2.0)
    ens = EnsembleHeads(members)
    assert torch.allclose(ens.transitions, torch.full_like(ens.transitions, 2.0))
    assert torch.allclose(ens.start_scores, torch.full_like(ens.start_scores, -1.0))
