# inversa: `make demo` and `make test` work on a fresh machine (Python 3.10+).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is pinned at install time (a CPU build lies on this machine's disk); the package
# itself only asks for torch>=2.3.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/inversa demo -o out/demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/python benchmarks/bench_denoise.py
	$(BIN)/python benchmarks/bench_deblur.py
	$(BIN)/python benchmarks/bench_raw_noise.py
	$(BIN)/python benchmarks/bench_burst_dataset.py
	$(BIN)/python benchmarks/bench_align.py
	$(BIN)/python benchmarks/bench_burst.py
	$(BIN)/python benchmarks/bench_large.py
	$(BIN)/python benchmarks/bench_lkr.py
	$(BIN)/python benchmarks/bench_exo.py --cubes 6 --seed0 100
	$(BIN)/python benchmarks/bench_exo_large.py
	$(BIN)/python benchmarks/bench_batch.py --skip-bursts

clean:
	rm -rf $(VENV) out .pytest_cache
