# Tandem: `make run` for the platform with a demo tenant, `make test` for the whole suite.
# Both work on a fresh machine: they install what is missing and start what is not running.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STACK := deploy/local/stack.sh
PLATFORM := deploy/local/platform.sh

.PHONY: help install lock stack migrate run up down test lint unit integration bench clean-state web web-tools

help:
	@echo "make run    set up everything, run the platform with a demo tenant (Ctrl-C stops)"
	@echo "make up     the same in the background; make down stops it"
	@echo "make test   set up everything, lint, type-check and run every test"
	@echo "make bench  measure the figures of SPEC section 12"

# Exactly the locked versions, their hashes checked, then the project itself without
# resolving anything again: two installs months apart get the same packages. The image
# (Dockerfile) installs requirements.lock, the runtime subset of the same versions.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
UV_COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes

$(STAMP): pyproject.toml $(DEV_LOCK)
	@echo "[make] installing Python dependencies into $(VENV) from $(DEV_LOCK) ..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --progress-bar off --require-hashes -r $(DEV_LOCK)
	@$(BIN)/python -m pip install --quiet --progress-bar off --no-deps -e . -e clients/python
	@touch $(STAMP)

install: $(STAMP)

# After editing the dependencies in pyproject.toml: versions already locked stay as they
# are; `make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed.
# tests/unit/test_lockfile.py fails while the locks and pyproject.toml disagree.
lock:
	@test -x $(BIN)/uv || $(MAKE) install
	@$(UV_COMPILE) $(LOCK_ARGS) pyproject.toml -o $(LOCK)
	@$(UV_COMPILE) $(LOCK_ARGS) pyproject.toml clients/python/pyproject.toml --extra dev \
		-c $(LOCK) -o $(DEV_LOCK)
	@echo "[make] $(LOCK) and $(DEV_LOCK) written"

# The dashboard (web/ → web/dist, served at /app): npm ci from the lockfile, then a Vite
# build, each redone only when its inputs are newer than its output. web-tools installs
# node/npm and chromium (for tests/browser) from Debian when they are missing.
WEB_SOURCES := $(shell find web/src web/scripts -type f 2>/dev/null) web/index.html \
	web/vite.config.ts web/tsconfig.json web/package.json

web-tools:
	@bash $(STACK) web-tools

web/node_modules/.package-lock.json: web/package-lock.json | web-tools
	@echo "[make] installing the dashboard's npm packages ..."
	@cd web && npm ci --no-audit --no-fund --loglevel=error

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	@echo "[make] building the dashboard ..."
	@cd web && npm run --silent build

web: web-tools web/dist/index.html

stack: install
	@bash $(STACK) up

migrate: stack
	@source .state/env 2>/dev/null || true; $(BIN)/tandem migrate && $(BIN)/tandem topics

run: migrate web
	@bash $(PLATFORM) run

up: migrate web
	@bash $(PLATFORM) up

down:
	@bash $(PLATFORM) down
	@bash $(STACK) down

lint: install
	@echo "[make] ruff check, ruff format --check, mypy"
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy

# pytest exits 5 when it collected no test: that is a failure here, never a pass.
test: migrate lint web
	@source .state/env 2>/dev/null || true; \
	rc=0; $(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "[make] pytest collected no tests: failing"; exit 1; fi; \
	exit $$rc

unit: install
	@$(BIN)/pytest -p no:cacheprovider tests/unit $(PYTEST_ARGS)

bench: migrate
	@bash $(STACK) bench-tools
	@source .state/env 2>/dev/null || true; $(BIN)/python -m bench.run $(BENCH_ARGS)

clean-state: down
	rm -rf .state
