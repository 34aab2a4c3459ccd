# The two commands: `make run` (the main job) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8082
GOAL ?= examples/goals/software-delivery-portal.json

.PHONY: run test install install-dev lint bench bench-full clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: install, start the service (embedded SQLite + eager Celery), plan an example goal, keep serving
run: install
	$(BIN)/layer2-planning serve --port $(PORT) --demo $(GOAL)

## test: install the dev extras, make sure PostgreSQL and Redis are up, run the whole suite
test: install-dev
	bash scripts/ensure-services.sh
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check .

## bench: the quick benchmarks (each prints a table; results go in docs/benchmarks.md by hand)
bench: install
	$(BIN)/python bench/decomposition.py --repeat 5
	$(BIN)/python bench/risk.py --runs 500
	$(BIN)/python bench/allocation.py
	$(BIN)/python bench/psplib.py j30 --time-limit 10 --every 10

## bench-full: the whole PSPLIB runs behind docs/benchmarks.md (about an hour)
bench-full: install
	$(BIN)/python bench/psplib.py j30 --time-limit 10
	$(BIN)/python bench/psplib.py j30 --time-limit 1 --heuristic-only
	$(BIN)/python bench/psplib.py j60 --time-limit 10

clean:
	rm -rf $(VENV) instance .pytest_cache *.egg-info
