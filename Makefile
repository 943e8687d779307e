# Two commands are the whole set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench sandbox clean

$(STAMP): pyproject.toml sandboxes/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./sandboxes -e '.[test,bench]'  # the sandboxes: their own project
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/unified-ticketing dev --port 8800 --service-port 8000

sandbox: $(STAMP)
	$(BIN)/unified-ticketing sandbox

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

# Benchmarks (not tests): the seven figures of issue 6 against same-run baselines, on loopback.
# Prints the table and writes bench/results.json and bench/RESULTS.md (about 6 minutes).
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
