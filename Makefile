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
# installed, else Pandoc). `evalkit demo` runs these steps (evalkit.cli.DEMO_STEPS: synth, monitor
# demo-data --ingest, monitor export, validate --strict, summary, run, synth --check, compare,
# monitor status, monitor dashboard, monitor sna, report --pdf) in one process: a progress bar per step and a
# closing summary; `make demo V=1` prints every step's own lines.
demo: $(STAMP)
	$(BIN)/evalkit demo$(if $(V), -v)

# The suite's wall time is printed last (the CI log shows it); tests/conftest.py limits BLAS and
# OpenMP to one thread per worker.
test: $(STAMP)
	@start=$$(date +%s); $(BIN)/python -m pytest -q -n 2 --durations=15; status=$$?; \
	echo "test suite: $$(( $$(date +%s) - start )) s wall on $$(nproc) CPU(s), load average $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	exit $$status

# Benchmarks print comparisons measured in the same run, each against its target (issue 20);
# they are not part of the test suite.
# bench/bench_all.py runs each bench/bench_*.py in turn and prints every target line together at the end.
bench: $(STAMP)
	$(BIN)/python bench/bench_all.py

clean:
	rm -rf $(VENV) .pytest_cache _site
