# The two commands a newcomer runs: `make demo` and `make test`. Both create .venv and install into it.
# torch is pinned through constraints.txt: an unpinned torch pulls a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean

$(STAMP): setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python examples/demo.py --output-dir outputs/demo

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q tests
	$(BIN)/ruff check signdpo_trl recipes examples benchmarks tests

lint: $(STAMP)
	$(BIN)/ruff check signdpo_trl recipes examples benchmarks tests

clean:
	rm -rf $(VENV) outputs
