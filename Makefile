# The two commands a newcomer needs: `make demo` and `make test`.
# Both create the virtual environment and install everything from this repository.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The example third-party plugin: installed, linted and tested like the rest, so it cannot rot.
# Its commands run from inside its folder (its own pyproject.toml configures ruff, mypy, pytest).
EXAMPLE := examples/octane-example-provider
XBIN    := $(abspath $(BIN))

export OCTANE_DATA_DIR ?= $(CURDIR)/octane-data

.PHONY: install demo test lint typecheck test-sqlite test-postgres bench clean

$(STAMP): pyproject.toml $(EXAMPLE)/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e $(EXAMPLE)
	touch $(STAMP)

install: $(STAMP)

## make demo: install, migrate, seed the demo vendor, serve on http://127.0.0.1:8000
demo: install
	OCTANE_WEB__COOKIE_SECURE=false $(BIN)/octane demo
	OCTANE_WEB__COOKIE_SECURE=false $(BIN)/octane serve

## make test: lint, type-check, the suite on SQLite, then the database tests on PostgreSQL
## (each step also for the example plugin in examples/octane-example-provider)
test: install lint typecheck test-sqlite test-postgres

lint: install
	$(BIN)/ruff check octane tests
	$(BIN)/ruff format --check octane tests
	cd $(EXAMPLE) && $(XBIN)/ruff check . && $(XBIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy
	cd $(EXAMPLE) && $(XBIN)/mypy

test-sqlite: install
	$(BIN)/pytest -q -p no:cacheprovider
	cd $(EXAMPLE) && $(XBIN)/pytest -q -p no:cacheprovider

test-postgres: install
	OCTANE_TEST_POSTGRES=1 $(BIN)/pytest -q -p no:cacheprovider -m db
	cd $(EXAMPLE) && OCTANE_TEST_POSTGRES=1 $(XBIN)/pytest -q -p no:cacheprovider

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/billing_run.py --postgres
	$(BIN)/python bench/pdf.py
	$(BIN)/python bench/portal.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
