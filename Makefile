# Two commands set everything up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ventfusion-installed
TORCH := torch==2.13.0

.PHONY: run test install lint types contracts pytest system-deps model bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first and pinned: anything unpinned would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[dev]' $(TORCH)
	@touch $(STAMP)

install: $(STAMP)

## Start the app on its embedded defaults: SQLite, bundled model, a simulated ward.
run: install
	$(BIN)/ventfusion demo

## Lint, types, import contracts and the test suite.
test: install lint types contracts pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest -q $(PYTEST_ARGS)

## Debian packages the integration tests drive (DCMTK, Orthanc, Chromium); idempotent.
system-deps:
	bash .ci/system-deps.sh

## Retrain the bundled default model on the synthetic simulator.
model: install
	bash bench/rebuild_default_model.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
