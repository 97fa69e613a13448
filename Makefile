# picdrop — everything runs from a local virtual environment that the Makefile creates itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run server test lint bench bench-startup dist dist-onefile install-desktop clean

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

## dist: the packaged app (build.spec): dist/picdrop/ (one folder), checked with its --self-test,
## and on Linux dist/picdrop-VERSION-linux-ARCH.tar.gz. PICDROP_ONEFILE=1: dist/onefile/picdrop.
dist: $(STAMP)
ifeq ($(filter-out 0,$(PICDROP_ONEFILE)),)
	$(BIN)/pyinstaller --noconfirm --log-level WARN --workpath build/pyinstaller --distpath dist build.spec
	dist/picdrop/picdrop --self-test
	@if [ "$$(uname -s)" = Linux ]; then $(BIN)/python -m desktop.tools.linux_package tarball; fi
else
	$(BIN)/pyinstaller --noconfirm --log-level WARN --workpath build/pyinstaller-onefile --distpath dist/onefile build.spec
	dist/onefile/picdrop --self-test
endif

dist-onefile:
	$(MAKE) dist PICDROP_ONEFILE=1

## install-desktop: menu entry + icons in $$XDG_DATA_HOME (runs dist/picdrop/picdrop if built, else .venv's; EXEC=path to choose)
install-desktop: $(STAMP)
	$(BIN)/python -m desktop.tools.linux_package install $(if $(EXEC),--exec "$(EXEC)")

## bench: every benchmark in one run (serving, uploads, pipeline, memory, desktop; start-up too
## when dist/ has the builds): one table, docs/bench/results.json and docs/bench/results.png.
## BENCH_ARGS="--quick" for a short smoke run, "--only serve,upload" for some of them.
bench: $(STAMP)
	$(BIN)/python -m bench.run_all $(BENCH_ARGS)

## bench-startup: bundle sizes, start-up time to a shown window and idle memory, frozen vs source
bench-startup: $(STAMP)
	$(BIN)/python -m bench.bench_startup

lint: $(STAMP)
	$(BIN)/ruff check backend desktop tests bench
	$(BIN)/ruff format --check backend desktop tests bench

clean:
	rm -rf $(VENV) build dist .pytest_cache
