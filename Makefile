# stratify: run `make` to list the targets.
.DEFAULT_GOAL := help
SHELL := /bin/sh

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

## Show this help
help:
	@awk '/^## /{doc=substr($$0,4); next} /^[a-z][a-z-]*:/{if(doc){split($$0,t,":"); printf "  \033[1m%-8s\033[0m %s\n", t[1], doc}; doc=""}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@PY=$$(scripts/find-python) || exit 1; \
	echo "Creating $(VENV) with $$PY"; \
	$$PY -m venv $(VENV) && \
	$(BIN)/python -m pip install --quiet --upgrade pip && \
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## Create .venv (first Python >= 3.12) and install stratify with its dev tools
install: $(STAMP)

## Run the whole job on the synthetic borough (simulate, load, features, train, audit, cards, serve, outreach)
demo: $(STAMP)
	$(BIN)/stratify demo

## Run the test suite
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

## Lint (ruff) and type-check (mypy)
lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

## Run the benchmarks and print their figures
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## Remove the virtual environment, caches and the working directory
clean:
	rm -rf $(VENV) work .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
