# Two commands do all set-up on a fresh machine with Python 3.11:
#   make run    create .venv, install, materialise the whole lake, print where the results are
#   make test   install the test dependencies too, run the whole suite
# and `make dev` starts the Dagster UI on http://127.0.0.1:3000.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Dagster's instance lives in $EMERGENCE_DATA/dagster (default data/dagster): assets/instance.py
# sets DAGSTER_HOME there for `make run` and `make dev`, so both see the same runs.
export PYTHONUNBUFFERED := 1

.PHONY: run test dev lint clean lab scaleout-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@# duckdb-cli 1.4.4's wheel ships the CLI binary without its exec bit (else it tries a download)
	chmod +x $(BIN)/duckdb
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/python -m assets.run_lake

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

LAB_JOBS ?= 2
lab: $(VENV)/.installed  # train, evaluate and store the default lab ladder (after `make run`), LAB_JOBS sizes at once
	$(BIN)/python -m sources.lab $(LADDER) --jobs $(LAB_JOBS)

# The code location comes from pyproject.toml's [tool.dagster] (named emergence_lake); Ctrl-C
# stops the UI and all its processes (assets/dev_server.py).
dev: $(VENV)/.installed
	$(BIN)/python -m assets.dev_server $(BIN)/dagster dev -h 127.0.0.1 -p 3000

# Only the scale-out tests (PostgreSQL instance, Celery workers, DuckLake): README "Past one machine".
scaleout-test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m scaleout tests/scaleout

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	d="$${EMERGENCE_DATA:-data}"; rm -rf "$$d/dagster" "$$d/charts" "$$d/emergence.duckdb" "$$d/.emergence.duckdb".*
