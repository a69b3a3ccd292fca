# One entry point for the chores. `make quickstart` and `make test` are the README's two commands.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export DOCINGEST_HOME ?= $(CURDIR)/.docingest
export DAGSTER_HOME ?= $(DOCINGEST_HOME)/dagster

.PHONY: install tesseract quickstart test test-fast lint typecheck audit check dev bench samples clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch is pinned to the CPU build first: a bare `torch` requirement pulls GBs of CUDA wheels.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# OCR of scanned pages needs Tesseract's English data (Debian: tesseract-ocr, tesseract-ocr-eng).
# Installed with apt-get when this runs as root on a system that has it; otherwise skipped, saying
# so. Without it docingest still works: pages with a text layer keep it, and only pages without
# usable text fail with OCR_ERROR.
APT_GET ?= apt-get
TESSERACT_PACKAGES := tesseract-ocr tesseract-ocr-eng
FIND_TESSDATA := $(BIN)/python -c "from docingest.parsing.ocr import tessdata_for; print(tessdata_for('eng'))"

tesseract: install
	@if $(FIND_TESSDATA) >/dev/null 2>&1; then \
	  echo "tesseract: found, language data in $$($(FIND_TESSDATA))"; \
	elif [ "$$(id -u)" = 0 ] && command -v $(APT_GET) >/dev/null 2>&1; then \
	  echo "tesseract: not found; installing $(TESSERACT_PACKAGES) with $(APT_GET)"; \
	  if { $(APT_GET) install -y -qq $(TESSERACT_PACKAGES) || \
	       { $(APT_GET) update -qq && $(APT_GET) install -y -qq $(TESSERACT_PACKAGES); }; } \
	     >/dev/null && $(FIND_TESSDATA) >/dev/null 2>&1; then \
	    echo "tesseract: installed, language data in $$($(FIND_TESSDATA))"; \
	  else \
	    echo "tesseract: SKIPPED, $(APT_GET) could not install $(TESSERACT_PACKAGES)." \
	      "Scanned pages will fail with OCR_ERROR; pages with text are parsed as usual."; \
	  fi; \
	else \
	  echo "tesseract: SKIPPED, not installed, and installing needs root and apt-get" \
	    "(install $(TESSERACT_PACKAGES) yourself, or point TESSDATA_PREFIX at a tessdata folder)." \
	    "Scanned pages will fail with OCR_ERROR; pages with text are parsed as usual."; \
	fi

quickstart: install tesseract
	$(BIN)/docingest ingest samples/documents
	$(BIN)/docingest search "which errors are retryable" --top-k 3
	$(BIN)/docingest status

# The suite on the machine's cores: test files spread over one pytest-xdist worker per core (at
# most PYTEST_WORKERS_MAX; a file's tests stay on one worker, with its module fixtures), then
# the tests that stop a service the others share (marker `exclusive`), alone. Most of the
# suite's time is waiting (daemon ticks, schedules, subprocesses starting): a second worker
# fills it. `make test PYTEST_WORKERS=0` runs without workers, in the order of the files.
PYTEST_WORKERS ?= auto
PYTEST_WORKERS_MAX ?= 4
test: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --maxprocesses $(PYTEST_WORKERS_MAX) \
		--dist loadfile -m "not exclusive"
	$(BIN)/python -m pytest -m exclusive

# The quick loop while developing: pure logic, parsing, chunking and single assets; no daemon,
# browser, subprocess CLI, fault or PostgreSQL tests, and none that run the layout or embedding
# model to measure it (`make test` runs everything).
test-fast: install
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --maxprocesses $(PYTEST_WORKERS_MAX) \
		--dist loadfile -m "not slow and not postgres and not real_model" \
		--ignore=tests/hardening \
		--ignore=tests/pipelines tests

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

# Started in $DAGSTER_HOME: `dagster dev` warns about any other dagster.yaml in its working
# folder, and the repository's own (the production PostgreSQL config) is one.
dev: install
	$(BIN)/python -c "from pipelines.instance import ensure_dagster_home; ensure_dagster_home()"
	cd "$(DAGSTER_HOME)" && PYTHONWARNINGS='$(DEV_WARNINGS)' $(abspath $(BIN))/dagster dev \
		-w $(CURDIR)/workspace.yaml

bench: install
	$(BIN)/python -m bench.ingest_bench --docs 50

samples: install
	$(BIN)/python samples/render_samples.py

clean:
	rm -rf $(DOCINGEST_HOME)
