# Two commands set everything up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ventfusion-installed
TORCH := torch==2.13.0
MEDPLUM := tests/support/medplum
MEDPLUM_STAMP := $(MEDPLUM)/node_modules/.ventfusion-installed

.PHONY: run test install lint types contracts pytest system-deps test-servers model bench clean

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

pytest: install test-servers
	$(BIN)/pytest -q $(PYTEST_ARGS)

## Debian packages the integration tests drive (DCMTK, Orthanc, Chromium, Node.js); idempotent.
system-deps:
	bash .ci/system-deps.sh
	$(MAKE) test-servers

## npm packages of the third-party FHIR test server (Medplum's router), as pinned by its
## package-lock.json; reinstalled only when the lock file changes. Without npm the tests skip it.
test-servers: $(MEDPLUM_STAMP)

$(MEDPLUM_STAMP): $(MEDPLUM)/package.json $(MEDPLUM)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  cd $(MEDPLUM) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.ventfusion-installed; \
	else \
	  echo "npm not found: the Medplum FHIR tests will be skipped (make system-deps installs Node.js)"; \
	fi

## Retrain the bundled default model on the synthetic simulator.
model: install
	bash bench/rebuild_default_model.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info $(MEDPLUM)/node_modules
