# fpgatag: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fpgatag-installed

.PHONY: demo test test-fast bench bench-rtl bench-distill-full clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(STAMP)
	$(BIN)/fpgatag demo --out runs/demo

test: $(STAMP)
	$(BIN)/ruff check fpgatag tests bench
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m 'not slow'

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# RTL flow: da4ml generation, Verilator vs C simulation, Yosys counts for every student preset
# (the unpruned 32-wide presets take 20-30 min each in Yosys; see bench/results/rtl.md)
bench-rtl: $(STAMP)
	$(BIN)/python bench/bench_rtl.py

# the distillation benchmark at >= 50k jets per class (hours on a few cores; see the script)
bench-distill-full: $(STAMP)
	bench/distill_full.sh

clean:
	rm -rf runs .pytest_cache
