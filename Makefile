# picdrop — everything runs from a local virtual environment that the Makefile creates itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run server test lint bench dist install-desktop clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: the desktop app with its embedded local server
run: $(STAMP)
	$(BIN)/python -m desktop

## server: the backend alone (PICDROP_* settings apply)
server: $(STAMP)
	$(BIN)/picdrop-server serve

## test: the whole test suite (PICDROP_REQUIRE_ALL=1 turns skips for missing components into failures)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check backend desktop tests bench
	$(BIN)/ruff format --check backend desktop tests bench

clean:
	rm -rf $(VENV) build dist .pytest_cache
