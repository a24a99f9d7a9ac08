# The two commands a newcomer needs: `make demo` and `make test`. Both run `make setup`
# first, which creates .venv and re-uses whatever is already there (see scripts/setup.sh).

VENV ?= .venv
PY := $(VENV)/bin/python
export MUJOCO_GL ?= egl
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test lint format clean

setup:
	@bash scripts/setup.sh

demo: setup
	@$(VENV)/bin/vla-wm demo

test: setup lint
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf build install log .pytest_cache
