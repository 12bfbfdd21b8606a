# Two commands do all the set-up: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Test processes: one per core ("auto"); TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= auto
PORT ?= 5000
HOST ?= 127.0.0.1
export FLASK_APP := app
RUN_ENV := BILLING_ENV=development

.PHONY: run test install lint typecheck pytest migrate seed bench clean messages

# The UI's gettext catalogs (SPEC 14): the .po files are the source, the .mo files are built here
# (never committed); a changed .po is compiled again by whatever reaches `install`.
CATALOGS := $(wildcard billing/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -i $< -o $@

install: $(VENV)/.installed $(COMPILED)

# After marking strings: extract them from babel.cfg's sources and merge into each catalog.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o billing/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i billing/translations/messages.pot -d billing/translations --no-fuzzy-matching --ignore-obsolete
	rm billing/translations/messages.pot

migrate: install
	$(RUN_ENV) $(BIN)/flask db upgrade

seed: migrate
	$(RUN_ENV) $(BIN)/flask seed demo

run: seed
	@echo ""
	@echo "  Trans-Caspian Fiber wholesale platform: http://$(HOST):$(PORT)/"
	@echo "  demo login: sales@azertelecom.az / caspian-demo-2026  (admin@azertelecom.az for admin pages)"
	@echo "              finance@azertelecom.az, noc@azertelecom.az; the portal: portal@silkroute.example"
	@echo "  API docs:   http://$(HOST):$(PORT)/api/v1/docs"
	@echo ""
	$(RUN_ENV) $(BIN)/flask run --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy billing

pytest: install
	$(BIN)/pytest -n $(TEST_WORKERS)

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/availability.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
