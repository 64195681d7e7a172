"""scripts/train_default.py: the shipped model's corpus is recoverable from the repo's history."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _has_commit(commit: str) -> bool:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return False
    r = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True)
    return r.returncode == 0


def test_corpus_at_the_shipped_commit_is_the_corpus_the_model_card_names(load_script, tmp_path):
    from transcript_qa.training.data import file_hash, load_labeled

    mod = load_script("scripts/train_default.py")
    if not _has_commit(mod.SHIPPED_CORPUS):
        pytest.skip(f"this clone lacks commit {mod.SHIPPED_CORPUS} (shallow clone?)")
    files = mod.corpus_at(mod.SHIPPED_CORPUS, tmp_path / "corpus")
    training = json.loads((ROOT / "models" / "default" / "metrics.json").read_text())["training"]
    # the hash the training run recorded for its train file, and the dev size it selected on
    assert file_hash([files["train"]]) == training["data_hash"]
    assert len(load_labeled(files["train"])) == training["train_calls"]
    assert len(load_labeled(files["dev"])) == training["dev_calls"]
    # today's test split is the frozen one, so the retrained model is scored on the same calls
    r = subprocess.run(["git", "-C", str(ROOT), "show", f"{mod.SHIPPED_CORPUS}:datasets/calls/test.jsonl"],
                       capture_output=True, check=True)
    assert r.stdout == (ROOT / "datasets" / "calls" / "test.jsonl").read_bytes()


def test_corpus_at_an_unknown_commit_names_the_file_and_writes_nothing(load_script, tmp_path):
    mod = load_script("scripts/train_default.py")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("no git checkout")
    with pytest.raises(SystemExit, match="datasets/calls/train.jsonl at commit 0000000"):
        mod.corpus_at("0000000", tmp_path / "corpus")
    assert not list((tmp_path / "corpus").glob("*.jsonl"))


def test_only_the_shipped_models_card_tells_how_it_was_shipped(load_script):
    mod = load_script("scripts/train_default.py")
    run_card, shipped_card = mod.notes(308), mod.notes(243, shipped=True)
    assert "(308 calls)" in run_card and "(243 calls)" in shipped_card
    # a model this script trains is a candidate or a reproduction: its card must not say it was shipped
    assert "How this model replaced the previous one" not in run_card and "so it was shipped" not in run_card
    assert "How this model replaced the previous one" in shipped_card
    assert "How this model replaced the previous one" in (ROOT / "models" / "default" / "README.md").read_text()
