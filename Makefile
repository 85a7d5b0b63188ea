# The template's own development tasks. `make help` lists them. Every target bootstraps .venv (pinned tools from
# pyproject.toml's `test` extra) on first use, so a fresh machine needs only Python 3.11+, git and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The end-to-end tier runs as two pytest processes (2 cores), split by variant so that each (serving, tracking)
# project is baked, installed and trained in one process only: REST and gRPC variants, then everything else.
E2E_HALF := fastapi- or grpc-
LINT_PATHS := tools tests hooks

.DEFAULT_GOAL := help
.PHONY: help install generate test test-fast test-e2e lint sync docs

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv with the pinned test, lint and docs tools

generate: $(STAMP) ## Generate a project with every default into build/ (cookiecutter, no questions)
	$(BIN)/cookiecutter --no-input --overwrite-if-exists --output-dir build .
	@echo "generated build/churn-model: cd build/churn-model && make setup && make train && make test"

test: $(STAMP) ## Run every test tier: the fast tier, then each variant baked and run end to end
	$(BIN)/python -m pytest -m "not e2e"
	$(MAKE) --no-print-directory test-e2e

test-fast: $(STAMP) ## Run the fast tier only (renders, static checks, hostile answers, prompts, docs)
	$(BIN)/python -m pytest -m "not e2e"

test-e2e: $(STAMP) ## Run the end-to-end tier only (two processes in parallel)
	@mkdir -p build
	@$(BIN)/python -m pytest -m e2e -k "$(E2E_HALF)" > build/e2e-serving.log 2>&1 & first=$$!; \
	$(BIN)/python -m pytest -m e2e -k "not ($(E2E_HALF))"; second=$$?; \
	wait $$first; first=$$?; \
	echo "--- end-to-end tier, REST and gRPC variants (ran in parallel with the above) ---"; \
	cat build/e2e-serving.log; \
	test $$first -eq 0 -a $$second -eq 0

lint: $(STAMP) ## ruff check and ruff format --check on the template's own code
	$(BIN)/python -m ruff check --force-exclude $(LINT_PATHS)
	$(BIN)/python -m ruff format --check --force-exclude $(LINT_PATHS)

sync: $(STAMP) ## Regenerate copier.yml and the options tables from cookiecutter.json
	$(BIN)/python tools/sync_copier.py
	$(BIN)/python tools/options_table.py

docs: $(STAMP) ## Serve the documentation site on 127.0.0.1:8000
	$(BIN)/mkdocs serve
