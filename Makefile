# The whole interface: `make up`, `make test`, `make lint`, `make bench`.
# Each target bootstraps what it needs on a fresh Debian/Ubuntu machine with python3 and make.

SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: up test lint bench sync run-packages system-packages web-assets clean

$(UV):
	@echo "==> installing uv into $(TOOLS)/"
	@$(PYTHON) -m venv $(TOOLS) 2>/dev/null || { \
		echo "==> python3-venv missing: installing it"; \
		apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(TOOLS); }
	@$(TOOLS)/bin/pip install -q --disable-pip-version-check uv

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	@echo "==> syncing the locked environment into $(VENV)/"
	@# Bytecode compiled at install: every `kinoteka` command starts from it (issue #13 item 9).
	@$(UV) sync --frozen --all-extras --compile-bytecode -q
	@touch $@

sync: $(VENV)/.synced

# The pages' front-end libraries (package.json + lockfile), served from node_modules/.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "==> npm missing: installing Debian's nodejs and npm"; \
		apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
	@echo "==> installing the front-end packages (npm ci)"
	@npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

web-assets: node_modules/.installed

# Debian packages, installed only when missing: ffmpeg for the platform itself (media workers,
# the demo clips `make up` generates); that plus a real browser for the tests.
run-packages:
	@bash scripts/system-packages.sh run

system-packages:
	@bash scripts/system-packages.sh test

up: sync run-packages web-assets
	@$(VENV)/bin/kinoteka up

test: sync system-packages web-assets
	@$(VENV)/bin/pytest

lint: sync
	@$(VENV)/bin/ruff check src tests bench migrations
	@$(VENV)/bin/ruff format --check src tests bench migrations
	@$(VENV)/bin/mypy

# `make bench` runs every benchmark, `make bench cli search` the ones named.
BENCHES := $(filter-out bench,$(MAKECMDGOALS))
bench: sync run-packages web-assets
	@$(VENV)/bin/python -m bench $(BENCHES)

ifeq (bench,$(firstword $(MAKECMDGOALS)))
$(BENCHES):
	@:
.PHONY: $(BENCHES)
endif

clean:
	rm -rf $(VENV) $(TOOLS) node_modules .kinoteka .pytest_cache .mypy_cache .ruff_cache
