# fashionlens — the two entry points named in the README, each working on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint setup-serve setup-dev setup-browser clean

## demo: set up the serving environment (no torch) and serve the web app on the demo catalog
demo: setup-serve
	$(BIN)/fashionlens serve

## test: set up everything (training extras included) and run lint + the whole test suite
test: setup-dev setup-browser
	$(BIN)/ruff check src tests benchmarks fuzz tools
	$(BIN)/python -m pytest -q

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

setup-serve: $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -e .

setup-dev: $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -e '.[train,dev]'

## setup-browser: Debian's Chromium for the web page tests (tests/test_web_e2e.py), if missing
setup-browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
