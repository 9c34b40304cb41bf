# Dozor: `make run` starts the bot, `make test` runs every check. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run once scan test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(VENV)/.installed $@

run: $(VENV)/.installed  ## start the service (embedded SQLite store unless REDIS_URL is set)
	$(BIN)/dozor run

once: $(VENV)/.installed  ## one polling cycle, then exit
	$(BIN)/dozor once

scan: $(VENV)/.installed  ## what matches in every feed right now (remembers nothing)
	$(BIN)/dozor scan

lint: $(VENV)/.dev
	$(BIN)/ruff check bot handlers tests bench
	$(BIN)/ruff format --check bot handlers tests bench
	$(BIN)/mypy --strict bot handlers

format: $(VENV)/.dev
	$(BIN)/ruff format bot handlers tests bench
	$(BIN)/ruff check --fix bot handlers tests bench

test: lint  ## lint, type-check and run every test (needs Redis at REDIS_URL or 127.0.0.1:6379/15)
	$(BIN)/pytest -q

bench: $(VENV)/.dev  ## speed and memory figures beside their baselines (not tests)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
