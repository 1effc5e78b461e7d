# Two commands on a fresh machine with nothing but Python 3.11+:
#   make demo   the provider at work against the local Octopods emulator, through Airflow
#   make test   lint, type check, the docs build and the whole test suite
# Each creates its own virtual environment (.venv) on first use.

# The oldest and the newest Python that this project claims and Airflow 3.3.x supports (the
# classifiers in pyproject.toml say the same; scripts/check_dist.py checks it).
# pyenv's interpreters where present (its python3.13 shim refuses unless 3.13 is selected).
pyenv_python = $(or $(lastword $(sort $(wildcard $(HOME)/.pyenv/versions/$(1).*/bin/python))),python$(1))
PYTHON ?= $(call pyenv_python,3.11)
PYTHON_NEWEST ?= $(call pyenv_python,3.13)
AIRFLOW_VERSION ?= 3.3.2
AIRFLOW_FLOOR ?= 3.2.0
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-airflow-$(AIRFLOW_VERSION)
PYTEST_ARGS ?=
# The unit suite on this many processes (pytest-xdist; 0: one process, as before). Two on a
# two-core machine: the suite mostly waits (emulator lifecycles, poll intervals, subprocesses),
# so two workers halve its time; worksteal keeps both busy to the end, as a few tests take 20 s+.
PYTEST_WORKERS ?= 2
CONSTRAINTS ?=

.PHONY: install demo test lint docs pytest test-floor test-newest-python dist integration clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e ".[dev]" "apache-airflow==$(AIRFLOW_VERSION)"$(if $(CONSTRAINTS), -c $(CONSTRAINTS))
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
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

test: lint docs pytest

# The suite again on the oldest Airflow we support.
test-floor:
	$(MAKE) pytest VENV=.venv-floor AIRFLOW_VERSION=$(AIRFLOW_FLOOR) CONSTRAINTS=constraints/airflow-$(AIRFLOW_FLOOR).txt

# The suite again on the newest Python we claim.
test-newest-python:
	$(MAKE) pytest VENV=.venv-newest-python PYTHON=$(PYTHON_NEWEST)

# The wheel and the sdist, checked: twine's metadata check, then what they must hold (LICENSE,
# Project-URLs, classifiers for the Pythons above, a lean core).
dist: install
	rm -rf dist
	$(BIN)/python -m build --installer uv --outdir dist .
	$(BIN)/twine check --strict dist/*
	$(BIN)/python scripts/check_dist.py dist --pythons $$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
		$$($(PYTHON_NEWEST) -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# A real deployment on loopback: PostgreSQL, the Airflow processes, a browser (integration/).
# The provider is the built wheel, as users install it; the tests import it from there too
# (--import-mode=append: the source tree comes after site-packages).
VENV_IT ?= .venv-integration
integration: dist
	test -x $(VENV_IT)/bin/python || $(PYTHON) -m venv $(VENV_IT)
	$(VENV_IT)/bin/python -m pip install -q --disable-pip-version-check uv
	$(VENV_IT)/bin/uv pip install -q --python $(VENV_IT)/bin/python --reinstall-package airflow-provider-octopods \
		"$$(ls dist/*.whl)[integration,dev]" "apache-airflow==$(AIRFLOW_VERSION)"
	$(VENV_IT)/bin/pytest -p no:cacheprovider --import-mode=append --timeout 1800 $(PYTEST_ARGS) integration

clean:
	rm -rf dist .venv .venv-floor .venv-newest-python .venv-integration .ci-logs .airflow .demo .artifacts .pytest_cache .mypy_cache .ruff_cache
