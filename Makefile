# Two commands: `make run` and `make test`. Each installs what is missing and is fast the second time.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench lint system browser clean-state

$(STAMP): pyproject.toml
	scripts/ensure-system.sh venv
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

system:
	scripts/ensure-system.sh postgis gdal

browser:
	scripts/ensure-system.sh browser

## make run: set up, migrate, load the Jishou sample, serve on http://127.0.0.1:$${WANGGE_PORT:-8000}
run: $(STAMP) system
	$(VENV)/bin/wangge serve --load-sample

## make test: set up and run the full test suite (its own throwaway database; never yours)
test: $(STAMP) system browser
	$(VENV)/bin/python -m pytest

## make bench: the benchmarks, a table of figures and ratios against baselines measured in the same run
bench: $(STAMP) system
	$(VENV)/bin/python -m bench

lint: $(STAMP)
	$(VENV)/bin/ruff check gis api maps tests bench
	$(VENV)/bin/mypy gis api maps
