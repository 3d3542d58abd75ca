# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Numba's on-disk cache keys a kernel on its own source file only, but kernels inline helpers
# from other files (fastals/_kernels/_jit.py): after an edit of linalg.py, say, the cached cg.py
# would be stale. `make test` and `make bench` therefore cache under a folder named after a hash
# of every kernel source (simd/ included), so an edit anywhere starts a fresh cache, and after
# the settings the cache does not know: FASTALS_SIMD (the IR kernels' switch) and the target CPU.
# An exported NUMBA_CACHE_DIR (as .ci/run sets) wins.
KERNELS_HASH := $(shell find fastals/_kernels -name '*.py' | LC_ALL=C sort | xargs cat | sha1sum | cut -c1-12)
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache/$(KERNELS_HASH)-simd$(FASTALS_SIMD)-$(NUMBA_CPU_NAME)

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

# Caches outside make (python -m pytest, scripts) live in fastals/_kernels/__pycache__ and go
# stale the same way after a helper is edited: this removes them, and make's hashed caches.
clean-cache:
	find fastals -name '*.nbi' -delete -o -name '*.nbc' -delete
	rm -rf .numba_cache
