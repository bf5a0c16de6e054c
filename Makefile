# Needs only Python 3.11+ and make: uv is bootstrapped into .tools/ and pins everything else.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
RUN := $(UV) run --frozen --no-sync

.PHONY: run test lint format typecheck unit bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

run: .venv/.synced
	$(RUN) aimall-cart migrate
	$(RUN) aimall-cart seed --demo
	$(RUN) aimall-cart serve

test: lint typecheck
	$(RUN) pytest

lint: .venv/.synced
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) deptry src
	$(RUN) lint-imports

typecheck: .venv/.synced
	$(RUN) mypy

format: .venv/.synced
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

unit: .venv/.synced
	$(RUN) pytest tests/unit

# Cart load against a throwaway PostgreSQL database (benchmarks/README.md); BENCH_ARGS adds options,
# e.g. make bench BENCH_ARGS="--carts 500 --duration 5 --runs 1 --connections 64"
bench: .venv/.synced
	@command -v wrk >/dev/null 2>&1 || { echo "wrk is needed: sudo apt-get install wrk (Debian/Ubuntu) or brew install wrk"; exit 1; }
	$(RUN) python benchmarks/cart_load.py $(BENCH_ARGS)

clean:
	rm -rf .venv .tools .mypy_cache .ruff_cache .pytest_cache .hypothesis
