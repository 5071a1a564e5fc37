# stratify: run `make` to list the targets.
.DEFAULT_GOAL := help
SHELL := /bin/sh

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# The lock is universal (any OS, Python >= 3.12) with hashes; `make lock` keeps every pin
# the ranges in pyproject.toml still allow, `make lock UPGRADE=1` moves all to the newest.
LOCK_FLAGS := --extra dev --extra spark --universal --python-version 3.12 --generate-hashes \
	--custom-compile-command 'make lock' --quiet $(if $(UPGRADE),--upgrade)

## Show this help
help:
	@awk '/^## /{doc=substr($$0,4); next} /^[a-z][a-z-]*:/{if(doc){split($$0,t,":"); printf "  \033[1m%-10s\033[0m %s\n", t[1], doc}; doc=""}' $(MAKEFILE_LIST)

# uv (pinned by the lock) installs the lock exactly, then stratify itself, editable,
# without dependencies and with the locked setuptools (no build isolation).
$(STAMP): pyproject.toml $(LOCK)
	@PY=$$(scripts/find-python) || exit 1; \
	if [ ! -x $(BIN)/python ]; then echo "Creating $(VENV) with $$PY"; $$PY -m venv $(VENV) || exit 1; fi; \
	$(BIN)/python -m pip install --quiet "$$(grep -E '^uv==' $(LOCK) | cut -d' ' -f1)" && \
	$(BIN)/uv pip sync --quiet --python $(BIN)/python --require-hashes $(LOCK) && \
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	@touch $(STAMP)

## Create .venv (first Python >= 3.12) and install the locked versions and stratify
install: $(STAMP)

## Refresh requirements.lock from pyproject.toml (UPGRADE=1: newest versions allowed)
lock:
	@test -x $(BIN)/uv || $(MAKE) --no-print-directory install
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -o $(LOCK)

## Run the whole job on the synthetic borough (simulate, load, features, train, audit, cards, serve, outreach)
demo: $(STAMP)
	$(BIN)/stratify demo

## Run the test suite (the Spark tests need Java 17: stops with a message if it is missing)
test: $(STAMP)
	@scripts/check-java
	$(BIN)/python -m pytest -n 2 -q

## Lint (ruff), type-check (mypy) and check the package rules (import-linter)
lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && \
	$(BIN)/python scripts/namespace.py mypy && $(BIN)/python scripts/namespace.py lint-imports

## Build the wheel, install it in a fresh venv outside the repository and run the demo there
wheel-demo: $(STAMP)
	scripts/wheel-demo

## Run the benchmarks and print their figures
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## Remove the virtual environment, caches and the working directory
clean:
	rm -rf $(VENV) work build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
