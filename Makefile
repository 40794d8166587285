# The two commands a newcomer runs: `make demo` and `make test`. Both create .venv and install into it.
# torch is pinned through constraints.txt: an unpinned torch pulls a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-full test lint install clean wheel-smoke

$(STAMP): setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# SynthSign end to end in under 12 minutes on 2 cores; open outputs/demo/index.html. demo-full: the study's sizes.
demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python examples/demo.py --output-dir outputs/demo

demo-full: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python examples/demo.py --size full --output-dir outputs/demo_full

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q tests
	$(BIN)/ruff check signdpo_trl recipes examples benchmarks tests .ci

# What `pip install signdpo-trl` gives a user: the wheel, installed non-editable in a clean virtual environment, run
# from outside the checkout (one SignDPO step, save with its model card, reload, translate a real .pose file).
SMOKE := $(abspath build/wheel-smoke)
wheel-smoke: $(STAMP)
	rm -rf $(SMOKE) && mkdir -p $(SMOKE)
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir $(SMOKE)/dist .
	$(PYTHON) -m venv $(SMOKE)/venv
	$(SMOKE)/venv/bin/pip install --quiet -c constraints.txt $(SMOKE)/dist/*.whl
	cd $(SMOKE) && HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 $(SMOKE)/venv/bin/python $(CURDIR)/.ci/smoke_installed.py \
		$(abspath ../shared/fixtures/pose/sgg_kleine.pose) $(SMOKE)/model

lint: $(STAMP)
	$(BIN)/ruff check signdpo_trl recipes examples benchmarks tests .ci

clean:
	rm -rf $(VENV) outputs build
