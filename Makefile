# Two commands do all set-up on a fresh machine with Python 3.11:
#   make run    create .venv, install, materialise the whole lake, print where the results are
#   make test   install the test dependencies too, run the whole suite
# and `make dev` starts the Dagster UI on http://127.0.0.1:3000.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)
export PYTHONUNBUFFERED := 1

.PHONY: run test dev lint clean lab

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	mkdir -p data
	$(BIN)/python -m assets.run_lake

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lab: $(VENV)/.installed  # train, evaluate and store the default lab ladder (after `make run`)
	$(BIN)/python -m sources.lab $(LADDER)

dev: $(VENV)/.installed
	mkdir -p data
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -m assets.definitions

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

clean:
	rm -rf data/dagster data/charts data/emergence.duckdb
