# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each creates .venv when it is missing (or when pyproject.toml changed) and installs the
# project into it, so each works alone.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench soak clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

# The demo needs no account and no environment variable: --simulate runs the embedded
# simulator, its state in .reconciler/simulator.json (reset first, so the demo is repeatable).
DEMO := examples/quickstart.yaml
demo: $(STAMP)
	rm -f .reconciler/simulator.json
	@echo "==> reconciler plan $(DEMO) --simulate"
	$(BIN)/reconciler plan $(DEMO) --simulate
	@echo "==> reconciler apply $(DEMO) --simulate --yes"
	$(BIN)/reconciler apply $(DEMO) --simulate --yes
	@echo "==> reconciler plan $(DEMO) --simulate   (nothing left to change)"
	$(BIN)/reconciler plan $(DEMO) --simulate --detailed-exitcode

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests benchmarks
	$(BIN)/ruff format --check reconciler tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# The reliability suites at length: 500 more chaos seeds (RECONCILER_SOAK_SEEDS=N for more),
# 80 kill points, thousands of fresh fuzz examples. About 15-20 minutes on 2 cores.
soak: $(STAMP)
	RECONCILER_SOAK=1 $(BIN)/pytest tests/reliability

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .reconciler
