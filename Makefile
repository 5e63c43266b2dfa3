# Set-up is part of every target: a fresh machine needs only python3 (3.10+).
VENV ?= .venv
PY := $(VENV)/bin/python
# The torch version (a plain "torch" would take the newest); its CPU build comes from TORCH_WHEEL or TORCH_INDEX.
TORCH ?= torch==2.13.0
# That build's wheel, where this kind of machine keeps it: uv installs it from the file (pip's find-links see it
# too, but pip takes ~20 s to unpack it); none here, or TORCH overridden, and pip installs $(TORCH).
PYTAG := $(shell python3 -c 'import sys; print("cp%d%d" % sys.version_info[:2])' 2>/dev/null)
TORCH_WHEEL ?= $(if $(filter torch==2.13.0,$(TORCH)),$(firstword $(wildcard /opt/wheels/torch-2.13.0+cpu-$(PYTAG)-*.whl)))
# Where pip finds $(TORCH) when there is no wheel file: on Linux, the package index's torch is the CUDA
# build, PyTorch's own CPU index has the CPU one (TORCH_INDEX= for the package index alone).
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
ARGS ?=
TEST_JOBS ?= auto  # pytest-xdist workers for make test and test-fast (auto: one per core)
# The virtual environment and the browser (apt) set themselves up side by side before the tests.
MAKEFLAGS += --jobs=2
# Bytecode caches on: without them every test's subprocess compiles slotfill again (seconds each).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: venv train test test-fast lint browser bench-accuracy bench-speed bench-serve bench-stream sample clean

venv: $(VENV)/.installed

# uv installs the ~160 packages in parallel (pip: 76 s, uv: 11 s; bench/RESULTS.md, "The test suite's
# time"), torch pinned (its wheel, or pip's install of $(TORCH) first) so that uv never swaps it for a
# CUDA build; pip where uv cannot (upgraded first: an old pip cannot install a project in editable mode).
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet uv
	$(if $(TORCH_WHEEL),,$(PY) -m pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX) )"$(TORCH)")
	$(VENV)/bin/uv pip install --quiet --python $(PY) "$(or $(TORCH_WHEEL),$(TORCH))" -e ".[dev]" \
	  || ($(PY) -m pip install --quiet --upgrade pip && $(PY) -m pip install --quiet "$(TORCH)" -e ".[dev]")
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

# bench-serve's model (model.onnx beside it: export.py); bench/runs/ is not committed, so train and export it first.
SERVE_CKPT ?= bench/runs/default42/model.pt
bench-serve: venv  ## HTTP load benchmark (short) of $(SERVE_CKPT): prints its table, writes no file
	$(PY) bench/serve_load.py --ckpt $(SERVE_CKPT) $(ARGS)

bench-stream: venv  ## streaming predict.py on 1,000,000 generated lines -> bench/runs/stream/result_*.json
	$(PY) bench/stream.py $(ARGS)

bench-accuracy: venv  ## accuracy benchmark (5 seeds, presets + ablation) -> bench/results/accuracy.md
	$(PY) bench/accuracy.py $(ARGS)

sample:  ## regenerate data/sample and data/unseen_cities
	python3 data/make_sample.py
	python3 data/make_unseen_cities.py

clean:
	rm -rf outputs multirun .pytest_cache
