"""Evaluation: fastals.evaluation vs implicit.evaluation on identical inputs.

Timed: ``ranking_metrics_at_k`` (K=10, every user with a held-out item) of a model with the
same seeded factors (factors=50, float32) in each library, and ``train_test_split`` (80/20)
of the KuaiRec-like matrix. The split used for the metrics is made once, outside the timing,
and shared; a warm-up call first keeps JIT compilation out. The two libraries' metrics must
agree (fastals computes implicit's definitions). Run timed::

    pytest benchmarks/bench_evaluation.py --benchmark-enable
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from harness.models import model_with_factors, timed

FACTORS = 50
METRICS = ("precision", "map", "ndcg", "auc")


def evaluation(library: str):
    name = "fastals.evaluation" if library == "fastals" else "implicit.evaluation"
    return pytest.importorskip(name) if library == "implicit" else importlib.import_module(name)


@pytest.fixture(scope="module")
def split(kuairec_matrix):
    from implicit.evaluation import train_test_split

    train, test = train_test_split(kuairec_matrix, train_percentage=0.8, random_state=0)
    return train.tocsr(), test.tocsr()


@pytest.fixture(scope="module")
def factors(kuairec_matrix):
    rng = np.random.default_rng(0)
    n_users, n_items = kuairec_matrix.shape
    return (
        rng.standard_normal((n_users, FACTORS)).astype(np.float32),
        rng.standard_normal((n_items, FACTORS)).astype(np.float32),
    )


@pytest.fixture(scope="module")
def metrics_by_library():
    return {}


@pytest.mark.parametrize("library", ["fastals", "implicit"])
def test_ranking_metrics_at_k(benchmark, split, factors, fit_means, metrics_by_library, library):
    module = evaluation(library)
    train, test = split
    model = model_with_factors(library, *factors)
    result = timed(
        benchmark,
        fit_means,
        library,
        "ranking-metrics-at-10",
        {"users": int(train.shape[0]), "test_nnz": int(test.nnz), "factors": FACTORS},
        lambda: module.ranking_metrics_at_k(model, train, test, K=10, show_progress=False),
    )
    assert all(np.isfinite(result[k]) for k in METRICS)
    metrics_by_library[library] = result
    if {"fastals", "implicit"} <= metrics_by_library.keys():
        a, b = metrics_by_library["fastals"], metrics_by_library["implicit"]
        for k in METRICS:
            assert a[k] == pytest.approx(b[k], rel=1e-5, abs=1e-6), k


@pytest.mark.parametrize("library", ["fastals", "implicit"])
def test_train_test_split(benchmark, kuairec_matrix, fit_means, library):
    module = evaluation(library)
    train, test = timed(
        benchmark,
        fit_means,
        library,
        "train-test-split-0.8",
        {"nnz": int(kuairec_matrix.nnz)},
        lambda: module.train_test_split(kuairec_matrix, train_percentage=0.8, random_state=0),
    )
    assert train.shape == test.shape == kuairec_matrix.shape
    assert train.nnz + test.nnz == kuairec_matrix.nnz
