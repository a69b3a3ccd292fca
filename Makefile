# One entry point for the chores. `make quickstart` and `make test` are the README's two commands.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export DOCINGEST_HOME ?= $(CURDIR)/.docingest
export DAGSTER_HOME ?= $(DOCINGEST_HOME)/dagster

.PHONY: install quickstart test lint typecheck audit check dev bench samples clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch is pinned to the CPU build first: a bare `torch` requirement pulls GBs of CUDA wheels.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

quickstart: install
	$(BIN)/docingest ingest samples/documents
	$(BIN)/docingest search "which errors are retryable" --top-k 3
	$(BIN)/docingest status

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# pip-audit over the venv: fails on a known vulnerability; says so (and passes) when its
# advisory data cannot be reached. AUDIT_STRICT=1 fails then too (.ci/audit.py).
audit: install
	$(BIN)/python .ci/audit.py

check: lint typecheck test

# Dagster 1.13 marks `dagster dev` superseded by `dg dev` (dagster-dg-cli: some twenty more
# packages and a dg project layout); `dagster dev` with workspace.yaml does the same here, so
# that one notice is filtered by its text (tests/pipelines/test_ui_browser.py starts it alike).
DEV_WARNINGS := ignore:Function `dev_command` is superseded

dev: install
	$(BIN)/python -c "from pipelines.instance import ensure_dagster_home; ensure_dagster_home()"
	PYTHONWARNINGS='$(DEV_WARNINGS)' $(BIN)/dagster dev -w workspace.yaml

bench: install
	$(BIN)/python -m bench.ingest_bench --docs 50

samples: install
	$(BIN)/python samples/render_samples.py

clean:
	rm -rf $(DOCINGEST_HOME)
