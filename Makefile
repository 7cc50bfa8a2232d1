# Chatframe — the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
SITE_PORT ?= 5001

.PHONY: install run test lint format clean bench bench-growth bench-floor

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Chatframe needs Python 3.11 or newer" or 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install Chatframe with its development tools

run: $(STAMP)  ## migrate SQLite, seed the demo, start Chatframe and the demo customer site
	$(BIN)/chatframe demo --port $(PORT) --site-port $(SITE_PORT)

test: $(STAMP)  ## run the whole suite: Python (SQLite, PostgreSQL + Redis, Chromium) and node --test
	node --test embed_static/test/
	$(BIN)/pytest

lint: $(STAMP)  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)  ## wrk against `chatframe serve` (SQLite, PostgreSQL + Redis) next to node-oidc-provider
	$(BIN)/python -m bench.run $(if $(filter 1,$(GROWTH)),--growth)

bench-growth: $(STAMP)  ## the same workloads with 1 M users, 1 M sessions, 100 k bots loaded; worker RSS
	$(BIN)/python -m bench.run --growth

bench-floor: $(STAMP)  ## each workload's unavoidable work as a bare WSGI app, next to the peer and Chatframe
	$(BIN)/python -m bench.floor

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
