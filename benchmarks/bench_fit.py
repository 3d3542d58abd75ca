"""One ALS iteration: fastals vs implicit on the same KuaiRec-like matrix.

Timed: ``fit`` of a fresh model with ``iterations=1`` (model construction is
setup, not timed; a warm-up fit first keeps JIT compilation out). implicit runs
with 1 BLAS thread, as it asks. Run timed with::

    pytest benchmarks/bench_fit.py --benchmark-enable
    FASTALS_BENCH_SCALE=0.3 pytest benchmarks/bench_fit.py --benchmark-enable
    pytest benchmarks/bench_fit.py --benchmark-enable -k "k32 or k64 or k128"

Per-iteration cost without the set-up is ``bench_fit_factors.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from harness import models
from harness.models import blas_scope

ROUNDS = 5
# factors=128 exceeds the smoke-mode matrix's 72 users: fastals warns, as it should
OVERPARAMETERISED_OK = pytest.mark.filterwarnings("ignore:factors=.*exceeds")
SOLVERS = [
    pytest.param("cg", 50, id="cg-k50"),
    pytest.param("cholesky", 64, id="cholesky-k64"),
    # factors 32/64/128 for both solvers (cholesky-k64 is above)
    *(
        pytest.param(solver, k, id=f"{solver}-k{k}", marks=OVERPARAMETERISED_OK)
        for solver in ("cg", "cholesky")
        for k in (32, 64, 128)
        if (solver, k) != ("cholesky", 64)
    ),
]


def model_class(library: str):
    """harness.models.model_class, with implicit skipped cleanly when it is not installed."""
    if library == "implicit":
        pytest.importorskip("implicit.cpu.als")
    return models.model_class(library)


@pytest.mark.parametrize("solver,factors", SOLVERS)
@pytest.mark.parametrize("library", ["fastals", "implicit"])
def test_fit_one_iteration(
    benchmark, kuairec_matrix, bench_size, fit_means, library, solver, factors
):
    cls = model_class(library)
    params = {
        "factors": factors,
        "regularization": 0.1,
        "iterations": 1,
        "dtype": np.float32,
        "use_cg": solver == "cg",
        "random_state": 0,
    }

    def setup():
        return (cls(**params),), {}

    def fit(model):
        model.fit(kuairec_matrix, show_progress=False)
        return model

    group = f"fit-1-iteration-{solver}-k{factors}"
    benchmark.group = group
    benchmark.extra_info.update(
        library=library,
        solver=solver,
        factors=factors,
        nnz=int(kuairec_matrix.nnz),
        shape=list(kuairec_matrix.shape),
        scale=bench_size["scale"],
    )
    with blas_scope(library):
        fit(cls(**params))  # warm-up: JIT compile, caches
        model = benchmark.pedantic(fit, setup=setup, rounds=ROUNDS)

    assert model.user_factors.shape == (kuairec_matrix.shape[0], factors)
    assert np.isfinite(model.user_factors).all() and np.isfinite(model.item_factors).all()
    if benchmark.stats is not None:
        fit_means.setdefault(group, {})[library] = benchmark.stats.stats.mean
