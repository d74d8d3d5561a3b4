PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

# The runtime alone (make demo): what the archiver needs, no test tools (pyspark is 491 MB).
$(BIN)/epaper: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

# The test extra on top (make test).
$(VENV)/.test-extra: $(BIN)/epaper pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $@

.PHONY: demo test test-all bench
demo: $(BIN)/epaper
	$(BIN)/epaper demo

# Four workers on two cores: much of a crawl test is waiting on a subprocess or the replica.
# Bytecode is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE=1 in some
# sandboxes): the suite starts a few hundred epaper processes, each compiling the package again
# otherwise (about a fifth of a second of CPU each).
test: $(VENV)/.test-extra
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -m "not slow" -n 4 --dist worksteal

test-all: $(VENV)/.test-extra
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n 4 --dist worksteal

bench: $(BIN)/epaper
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m bench
