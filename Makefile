# The template's own development tasks. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# hooks/ hold Jinja: pyproject.toml excludes them (and the template directory), --force-exclude applies that here.
LINT_PATHS := tools tests hooks

.DEFAULT_GOAL := help
.PHONY: help install test test-fast lint sync

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: ## Create .venv and install the test tools
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[test]"

test: ## Run every test tier (fast and end-to-end)
	$(BIN)/python -m pytest

test-fast: ## Run the fast tier only (renders, static checks, hostile answers, prompts)
	$(BIN)/python -m pytest -m "not e2e"

lint: ## ruff check and ruff format --check on the template's own code
	$(BIN)/python -m ruff check --force-exclude $(LINT_PATHS)
	$(BIN)/python -m ruff format --check --force-exclude $(LINT_PATHS)

sync: ## Regenerate copier.yml from cookiecutter.json
	$(BIN)/python tools/sync_copier.py
