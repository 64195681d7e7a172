# transcript-qa: `make demo` and `make test` work on a fresh clone (Python 3.11, package registries only).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-all bench train-default corpus clean

setup: $(STAMP)

# torch first, pinned: 2.13.0 is the CPU build on local disk; anything else pulls gigabytes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: setup
	@mkdir -p out
	$(BIN)/transcript-qa analyze samples/ --out out/demo_results.jsonl --force --quiet
	$(BIN)/transcript-qa show out/demo_results.jsonl
	$(BIN)/transcript-qa report out/demo_results.jsonl --out out/demo_report.html --force
	@echo "results: out/demo_results.jsonl   report: out/demo_report.html"

test: setup
	$(BIN)/python -m pytest -q

test-all: setup
	$(BIN)/python -m pytest -q --runslow

bench: setup
	$(BIN)/python benchmarks/throughput.py

# the shipped recipe on the shipped model's corpus (train and dev as at commit 40a0751), into out/;
# compare with: transcript-qa evaluate --model out/default-retrained --gold datasets/calls/test.jsonl
train-default: setup
	$(BIN)/python scripts/train_default.py --corpus-at 40a0751 --out out/default-retrained

corpus: setup
	$(BIN)/python scripts/build_corpus.py

clean:
	rm -rf $(VENV) out .cache .pytest_cache
