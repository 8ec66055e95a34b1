# Quick start: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install demo test test-postgres lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Conduct needs Python 3.11 or newer on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@sh scripts/ensure-libmagic.sh $(BIN)/python
	@sh scripts/ensure-system-packages.sh
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/conduct demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-postgres: $(STAMP)
	CONDUCT_DATABASE_URL=$(POSTGRES_URL) $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/ingest_bench.py
	$(BIN)/python bench/ocr_bench.py --images 100
	$(BIN)/python bench/analyse_bench.py

clean:
	rm -rf $(VENV) conduct-store .pytest_cache .mypy_cache .ruff_cache
