# Chatframe — the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Chatframe needs Python 3.11 or newer" or 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install Chatframe with its development tools

run: $(STAMP)  ## migrate the embedded SQLite database and start Chatframe
	$(BIN)/chatframe db upgrade
	@echo ""
	@echo "  Chatframe:        http://localhost:$(PORT)/.well-known/openid-configuration"
	@echo "  Token endpoint:   http://localhost:$(PORT)/oauth/token"
	@echo "  Next: create a customer, client and bot (see README.md, 'Your first embed code')."
	@echo ""
	$(BIN)/chatframe serve --host $(HOST) --port $(PORT)

test: $(STAMP)  ## run the whole suite (SQLite and PostgreSQL + Redis)
	$(BIN)/pytest

lint: $(STAMP)  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
