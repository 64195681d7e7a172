"""Helpers of the benchmark scripts that decide what a benchmark reports."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _r(call_id: str, outcome: str, confidence: float = 0.9):
    return SimpleNamespace(call_id=call_id, outcome=outcome, outcome_confidence=confidence)


def test_harper_valley_lists_exactly_the_calls_whose_outcome_changed():
    changes = _module("harper_valley").outcome_changes
    after = [_r("a", "resolved"), _r("b", "unresolved", 0.9234), _r("c", "escalated")]
    before = [_r("a", "resolved"), _r("b", "resolved"), _r("c", "resolved")]
    assert changes(after, before) == [
        {"call_id": "b", "before": "resolved", "after": "unresolved", "after_confidence": 0.923},
        {"call_id": "c", "before": "resolved", "after": "escalated", "after_confidence": 0.9},
    ]
    assert changes(before, before) == []
    with pytest.raises(ValueError):
        changes(after, list(reversed(before)))
