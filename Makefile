# Two entry points on a fresh Debian machine with Python 3.11:
#   make demo   runs the main job (offline, no API keys)
#   make test   installs everything, then lint, format check, types and the whole test suite
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv bench clean

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh "$(PY)" "$(VENV)"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/voiceflow call

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/framework.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
