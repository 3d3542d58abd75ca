"""Serving: fastals vs implicit on identical factors of the KuaiRec-like matrix.

Timed: ``recommend`` for every user (N=10, liked items filtered) and ``similar_items`` for
every item, one call each (a warm-up call first keeps JIT compilation out). Both libraries get
the same seeded factors (factors=50, float32); implicit runs with 1 BLAS thread. Run timed::

    pytest benchmarks/bench_recommend.py --benchmark-enable
"""

from __future__ import annotations

import numpy as np
import pytest
from bench_fit import model_class
from harness.models import model_with_factors, random_factors, timed

FACTORS = 50


def random_factors_model(library, shape):
    """A ``library`` model serving seeded random factors for ``shape`` (users, items)."""
    model_class(library)  # skips cleanly when implicit is missing
    return model_with_factors(library, *random_factors(shape, FACTORS))


@pytest.mark.parametrize("library", ["fastals", "implicit"])
def test_recommend_all_users(benchmark, kuairec_matrix, fit_means, library):
    model = random_factors_model(library, kuairec_matrix.shape)
    users = np.arange(kuairec_matrix.shape[0])
    ids, scores = timed(
        benchmark,
        fit_means,
        library,
        "recommend-all-users-N10-filtered",
        {"users": len(users), "nnz": int(kuairec_matrix.nnz), "factors": FACTORS},
        lambda: model.recommend(users, kuairec_matrix, N=10),
    )
    assert ids.shape == (len(users), min(10, kuairec_matrix.shape[1]))
    assert np.all(np.diff(scores, axis=1) <= 0)


@pytest.mark.parametrize("library", ["fastals", "implicit"])
def test_similar_items_all(benchmark, kuairec_matrix, fit_means, library):
    model = random_factors_model(library, kuairec_matrix.shape)
    items = np.arange(kuairec_matrix.shape[1])
    ids, _ = timed(
        benchmark,
        fit_means,
        library,
        "similar-items-all-N10",
        {"items": len(items), "factors": FACTORS},
        lambda: model.similar_items(items, N=10),
    )
    assert np.array_equal(ids[:, 0], items)  # each item is most similar to itself


@pytest.mark.parametrize("library", ["fastals", "implicit"])
def test_recommend_scalar_calls(benchmark, kuairec_matrix, fit_means, library):
    """200 scalar calls, as the seed notebook makes them (one user at a time)."""
    model = random_factors_model(library, kuairec_matrix.shape)
    users = range(min(200, kuairec_matrix.shape[0]))
    rows = [kuairec_matrix[u] for u in users]

    def loop():
        return [model.recommend(u, rows[u], N=10) for u in users]

    out = timed(
        benchmark, fit_means, library, "recommend-200-scalar-calls", {"factors": FACTORS}, loop
    )
    assert len(out) == len(users)
