# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench compare lint clean clean-cache

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml $(VENV)/.runtime
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

demo: $(VENV)/.runtime
	$(PY) -m fastals kuairec

test: $(VENV)/.dev
	$(PY) -m pytest -q

bench: $(VENV)/.dev
	$(PY) -m pytest benchmarks --benchmark-enable --benchmark-only --benchmark-columns=mean,stddev,rounds

compare: $(VENV)/.dev
	$(PY) scripts/compare_implicit.py && $(PY) scripts/compare_implicit.py --scaling

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks .numba_cache

# Numba's on-disk cache keys a kernel on its own file only: after editing a kernel that others
# call (fastals/_kernels/linalg.py, select.py, ...), their cached code is stale. Run this.
clean-cache:
	find fastals -name '*.nbi' -delete -o -name '*.nbc' -delete
