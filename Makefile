# Set-up is part of every target: a fresh machine needs only python3 (3.10+).
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU build of torch; a plain "torch" would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
ARGS ?=
TEST_JOBS ?= auto  # pytest-xdist workers for make test and test-fast (auto: one per core)
# The virtual environment and the browser (apt) set themselves up side by side before the tests.
MAKEFLAGS += --jobs=2
# Bytecode caches on: without them every test's subprocess compiles slotfill again (seconds each).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: venv train test test-fast lint browser bench-accuracy bench-speed bench-serve bench-stream sample clean

venv: $(VENV)/.installed

# uv installs the other ~160 packages in parallel (pip: 76 s, uv: 11 s; bench/RESULTS.md, "The test
# suite's time"); torch stays pip's (the local CPU wheel), pinned so that uv never swaps it; pip where uv cannot.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)" uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) "$(TORCH)" -e ".[dev]" \
	  || $(PY) -m pip install --quiet -e ".[dev]"
	touch $@

train: venv  ## train the default tagger on ATIS (override with ARGS="data=snips ...")
	$(PY) train.py $(ARGS)

test: venv browser  ## the whole test suite (what CI runs), after setting up what the browser test needs
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m pytest -n $(TEST_JOBS) --dist worksteal $(ARGS)

test-fast: venv  ## the tests not marked slow, each property test on a quarter of its examples
	SLOTFILL_FAST_TESTS=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m pytest -m "not slow" -n $(TEST_JOBS) --dist worksteal $(ARGS)

# Chromium and its driver for the demo page's browser test (Debian packages; nothing to do when present).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
	  echo "chromium: $$(command -v chromium), chromedriver: $$(command -v chromedriver)"; \
	else \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium chromium-driver; \
	fi

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench-speed: venv  ## speed benchmark -> bench/results/speed.md
	$(PY) bench/speed.py $(ARGS)

bench-serve: venv  ## HTTP load benchmark (short) -> bench/RESULTS.md table
	$(PY) bench/serve_load.py $(ARGS)

bench-stream: venv  ## streaming predict.py on 1,000,000 generated lines -> bench/runs/stream/result_*.json
	$(PY) bench/stream.py $(ARGS)

bench-accuracy: venv  ## accuracy benchmark (5 seeds, presets + ablation) -> bench/results/accuracy.md
	$(PY) bench/accuracy.py $(ARGS)

sample:  ## regenerate data/sample and data/unseen_cities
	python3 data/make_sample.py
	python3 data/make_unseen_cities.py

clean:
	rm -rf outputs multirun .pytest_cache
