# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when it is
# missing and install evalkit with its dependencies (versions pinned by constraints.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# The whole pipeline on the example project: data (evaluation files, then the monitoring extracts
# into the store, whose success measures the strategy's time series reads), validation with no
# warnings, every evaluation (with the true effects beside the estimates), evidence ratings and the
# portfolio, monthly monitoring with its dashboard, and every report rendered (Quarto when
# installed, else Pandoc).
demo: $(STAMP)
	$(BIN)/evalkit synth
	$(BIN)/evalkit monitor demo-data --ingest
	$(BIN)/evalkit monitor export
	$(BIN)/evalkit validate --strict
	$(BIN)/evalkit summary
	$(BIN)/evalkit run
	$(BIN)/evalkit synth --check
	$(BIN)/evalkit compare
	$(BIN)/evalkit monitor status
	$(BIN)/evalkit monitor dashboard
	$(BIN)/evalkit monitor sna --from 2023-04 --to 2024-03
	$(BIN)/evalkit report --pdf

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

# Benchmarks print comparisons; they are not part of the test suite.
bench: $(STAMP)
	$(BIN)/python bench/bench_cli.py
	$(BIN)/python bench/bench_prepost.py
	$(BIN)/python bench/bench_matching.py
	$(BIN)/python bench/bench_report.py
	$(BIN)/python bench/bench_monitor.py

clean:
	rm -rf $(VENV) .pytest_cache _site
