# Two entry points: `make test` and `make demo`. Both set themselves up on a fresh machine:
# they use the active virtual environment, or create .venv when none is active, and install
# torch==2.13.0 first (the pin that takes the CPU build on these machines) and then autosynth.

ifdef VIRTUAL_ENV
ENV_DIR := $(VIRTUAL_ENV)
else
ENV_DIR := $(CURDIR)/.venv
endif
PYTHON := $(ENV_DIR)/bin/python
STAMP := $(ENV_DIR)/.autosynth-installed
TORCH_PIN := torch==2.13.0
DEMO_DIR ?= $(CURDIR)/demo_data
PYTEST_ARGS ?=

.PHONY: install test test-fast demo clean-demo

$(PYTHON):
	python3 -m venv $(ENV_DIR)
	$(PYTHON) -m pip install --quiet --upgrade pip

$(STAMP): setup.py | $(PYTHON)
	$(PYTHON) -m pip install --quiet $(TORCH_PIN)
	$(PYTHON) -m pip install --quiet -e ".[test,demo]"
	touch $(STAMP)

install: $(STAMP)

## Run the whole test suite, slow end-to-end tests included (what CI runs).
test: $(STAMP)
	$(PYTHON) -m pytest -q $(PYTEST_ARGS) tests

## The suite without the tests marked slow.
test-fast: $(STAMP)
	$(PYTHON) -m pytest -q -m "not slow" $(PYTEST_ARGS) tests

## The main job end to end on the simulated demo cohort.
demo: $(STAMP)
	$(PYTHON) -m dataset_conversion.demo --home $(DEMO_DIR)

clean-demo:
	rm -rf $(DEMO_DIR)
