# picdrop — everything runs from a local virtual environment that the Makefile creates itself.
# Installs are pinned by constraints.txt (`make constraints` regenerates it).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The server alone with its optional server parts (no Qt, no test tools): what `make server` runs.
SERVER_VENV  := .venv-server
SERVER_STAMP := $(SERVER_VENV)/.installed

.PHONY: run server test lint bench bench-startup dist dist-onefile install-desktop constraints clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[desktop,dev]'
	touch $(STAMP)

$(SERVER_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(SERVER_VENV)
	$(SERVER_VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[scale,metrics]'
	touch $(SERVER_STAMP)

## run: the desktop app with its embedded local server
run: $(STAMP)
	$(BIN)/python -m desktop

## server: the backend alone, from its own venv without the desktop app or the test tools
## (PICDROP_* settings apply; PostgreSQL/S3/Redis and the Prometheus endpoint included)
server: $(SERVER_STAMP)
	$(SERVER_VENV)/bin/picdrop-server serve

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

## constraints: regenerate constraints.txt from a fresh, unconstrained install of everything
constraints:
	rm -rf build/constraints-venv
	$(PYTHON) -m venv build/constraints-venv
	build/constraints-venv/bin/python -m pip install --quiet '.[desktop,dev]'
	{ sed -n '/^#/p' constraints.txt; build/constraints-venv/bin/python -m pip freeze --exclude picdrop; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	rm -rf build/constraints-venv

clean:
	rm -rf $(VENV) $(SERVER_VENV) build dist .pytest_cache
