"""One ALS iteration without per-fit set-up, fastals vs implicit, at factors 32/64/128.

Timed: the users half-sweep then the items half-sweep, what both libraries' ``fit`` callbacks
time per iteration. Everything ``fit`` does once (validation, confidences, transpose, fastals'
row reordering) is prepared outside the timing by ``harness.models.AlsIteration``; a first call
(JIT compile or cache load, recorded as ``extra_info["first_call_s"]``) is excluded. Each
round continues from the previous factors, as a fit's iterations do. implicit runs with 1
BLAS thread. Same KuaiRec-like matrix for both (``conftest.kuairec_matrix``). Run timed::

    pytest benchmarks/bench_fit_factors.py --benchmark-enable
    FASTALS_BENCH_SCALE=0.3 pytest benchmarks/bench_fit_factors.py --benchmark-enable
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from harness.models import AlsIteration

ROUNDS = 5
FACTORS = (32, 64, 128)


@pytest.mark.filterwarnings("ignore:factors=")
@pytest.mark.parametrize("factors", FACTORS, ids=[f"k{k}" for k in FACTORS])
@pytest.mark.parametrize("solver", ["cg", "cholesky"])
@pytest.mark.parametrize("library", ["fastals", "implicit"])
def test_iteration(benchmark, kuairec_matrix, bench_size, fit_means, library, solver, factors):
    if library == "implicit":
        pytest.importorskip("implicit.cpu.als")
    step = AlsIteration(library, kuairec_matrix, factors, solver, regularization=0.1)
    group = f"iteration-{solver}-k{factors}"
    benchmark.group = group
    start = time.perf_counter()
    step.run()  # warm-up: JIT compile or cache load
    benchmark.extra_info.update(
        library=library,
        solver=solver,
        factors=factors,
        nnz=int(kuairec_matrix.nnz),
        shape=list(kuairec_matrix.shape),
        scale=bench_size["scale"],
        first_call_s=time.perf_counter() - start,
    )
    benchmark.pedantic(step.run, rounds=ROUNDS)

    assert step.X.shape == (kuairec_matrix.shape[0], factors)
    assert np.isfinite(step.X).all() and np.isfinite(step.Y).all()
    if benchmark.stats is not None:
        fit_means.setdefault(group, {})[library] = benchmark.stats.stats.mean
