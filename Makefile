# Two commands on a fresh machine with nothing but Python 3.11+:
#   make demo   the provider at work against the local Octopods emulator, through Airflow
#   make test   lint, type check, the docs build and the whole test suite
# Each creates its own virtual environment (.venv) on first use.

PYTHON ?= python3
AIRFLOW_VERSION ?= 3.3.2
AIRFLOW_FLOOR ?= 3.2.0
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-airflow-$(AIRFLOW_VERSION)
PYTEST_ARGS ?=
CONSTRAINTS ?=

.PHONY: install demo test lint docs pytest test-floor integration clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[dev]" "apache-airflow==$(AIRFLOW_VERSION)" \
		$(if $(CONSTRAINTS),-c $(CONSTRAINTS))
	rm -f $(VENV)/.installed-airflow-*
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/python scripts/demo.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The documentation site, warnings as errors; served locally with `$(BIN)/mkdocs serve`.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint docs pytest

# The suite again on the oldest Airflow we support.
test-floor:
	$(MAKE) pytest VENV=.venv-floor AIRFLOW_VERSION=$(AIRFLOW_FLOOR) CONSTRAINTS=constraints/airflow-$(AIRFLOW_FLOOR).txt

# A real deployment on loopback: PostgreSQL, the Airflow processes, a browser (integration/).
# The provider is installed as a package here, not in editable mode.
VENV_IT ?= .venv-integration
integration:
	test -x $(VENV_IT)/bin/python || $(PYTHON) -m venv $(VENV_IT)
	$(VENV_IT)/bin/python -m pip install -q --disable-pip-version-check uv
	$(VENV_IT)/bin/uv pip install -q --python $(VENV_IT)/bin/python --reinstall-package airflow-provider-octopods \
		".[integration,dev]" "apache-airflow==$(AIRFLOW_VERSION)"
	$(VENV_IT)/bin/python -m pytest -p no:cacheprovider --timeout 1800 $(PYTEST_ARGS) integration

clean:
	rm -rf .venv .venv-floor .venv-integration .airflow .demo .artifacts .pytest_cache .mypy_cache .ruff_cache
