PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/epaper: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

.PHONY: demo test test-all bench
demo: $(BIN)/epaper
	$(BIN)/epaper demo

test: $(BIN)/epaper
	$(BIN)/python -m pytest -q -m "not slow"

test-all: $(BIN)/epaper
	$(BIN)/python -m pytest -q

bench: $(BIN)/epaper
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m bench
