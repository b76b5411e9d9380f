# DaiHoi: `make run` serves the demo on the embedded default, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export DAIHOI_COOKIE_SECURE ?= 0

.PHONY: setup run test test-sqlite test-postgres lint translations extract-messages bench clean

setup: $(VENV)/.installed node_modules/.installed translations

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --omit=optional --no-audit --no-fund --loglevel=error
	touch $@

# Compiled catalogues are build output (.gitignore); the .po files are the source.
translations: $(VENV)/.installed
	$(BIN)/pybabel -q compile -f -d translations

extract-messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l --ignore-dirs=".venv node_modules" -o translations/messages.pot .
	$(BIN)/pybabel -q update -N -i translations/messages.pot -d translations

run: setup
	$(BIN)/daihoi db upgrade
	$(BIN)/daihoi demo
	@echo
	@echo "  Open http://$(HOST):$(PORT)/login"
	@echo "  Sign in as laocai.admin (province admin) or laocai.btc (organiser), password daihoi-demo"
	@echo "  Other demo accounts: laocai.thuky laocai.thamtra laocai.kiemphieu laocai.diemdanh"
	@echo "                       daibieu.demo khachmoi.demo tw.admin sapa.admin"
	@echo
	$(BIN)/daihoi run --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed
	$(BIN)/ruff check .

test: setup lint test-sqlite test-postgres

test-sqlite:
	$(BIN)/pytest -q

# Runs again on PostgreSQL with Redis as the Socket.IO message queue when they answer;
# under CI=true an unreachable server is a failure, not a skip.
test-postgres:
	@bash tests/with_services.sh $(BIN)/pytest -q -m "not browser"

bench: setup
	$(BIN)/python bench/tree_queries.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache
