# The one entry point for people and CI.  `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.khronos-installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install system-deps demo screenshots test reliability lint format typecheck pytest bench docs clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv and install Khronos with its dev tools (fast when nothing changed)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]' 2>&1 | grep -v "^WARNING: Location" || true
	@$(BIN)/python -c "import khronos" && touch $@

system-deps: ## install the Debian packages the integration tests use (as root; else say what is missing)
	@bash scripts/system-deps.sh

demo: install ## the live demo: a simulated bot watched by the daemon and its dashboard (Ctrl-C stops)
	@$(BIN)/khronos demo --dir .khronos-demo

screenshots: install ## docs/img/dashboard-{light,dark}.png from a real demo run, telegram-alert.png (headless Chromium)
	$(BIN)/python scripts/screenshots.py
	$(BIN)/python scripts/render_alert.py

lint: install ## ruff check, ruff format --check, mypy --strict, packages use public names
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks
	$(BIN)/mypy
	$(BIN)/python scripts/check_imports.py

format: install ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format src tests scripts benchmarks
	$(BIN)/ruff check --fix src tests scripts benchmarks

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

test: install system-deps lint pytest ## everything CI runs: deps, lint, types, the whole test suite

reliability: install system-deps ## the whole suite with full fault counts (20 each); writes docs/RELIABILITY.md
	KHRONOS_FAULT_REPEAT=20 KHRONOS_CHAOS_OUTAGE=120 KHRONOS_REQUIRE_INTEGRATION=1 \
	KHRONOS_RELIABILITY_REPORT=docs/RELIABILITY.md $(BIN)/pytest $(PYTEST_ARGS)

docs: install ## regenerate the configuration reference in README.md
	$(BIN)/python scripts/sync_reference.py

bench: install ## benchmarks beside the anchor libraries, written to docs/BENCHMARKS.md (QUICK=1: < 2 min)
	QUICK=$(QUICK) $(BIN)/python benchmarks/run.py $(BENCH)

clean: ## remove build and test leftovers (keeps .venv)
	rm -rf .khronos-demo .pytest_cache .mypy_cache .ruff_cache build dist
