"""What implicit 0.7.3 accepts, fastals accepts with the same answer (issue 14's list)."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from fastals import AlternatingLeastSquares, ParameterWarning


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(3)
    ui = sp.random(40, 60, density=0.15, format="csr", rng=rng, dtype=np.float32)
    ui.data = np.ceil(ui.data * 4)
    model = AlternatingLeastSquares(factors=8, iterations=3, random_state=0)
    model.fit(ui, show_progress=False)
    return model, ui


def test_zero_iterations_initialises_and_returns():
    ui = sp.csr_matrix(np.ones((10, 12), np.float32))
    model = AlternatingLeastSquares(factors=4, iterations=0, calculate_training_loss=True)
    model.fit(ui, show_progress=False)
    assert model.user_factors.shape == (10, 4) and model.item_factors.shape == (12, 4)
    assert model.loss_history == []
    again = AlternatingLeastSquares(factors=4, iterations=0, random_state=5)
    again.fit(ui, show_progress=False)
    rng = np.random.default_rng(5)  # implicit's initialisation: users, then items
    assert np.array_equal(again.user_factors, rng.random((10, 4), dtype=np.float32) * 0.01)


@pytest.mark.parametrize("N", [0, 5, 100])
def test_empty_batch_gives_empty_arrays(fitted, N):
    model, ui = fitted
    ids, scores = model.recommend(np.array([], dtype=np.int64), ui[:0], N=N)
    assert ids.shape == scores.shape == (0, min(N, ui.shape[1]))
    ids, _ = model.recommend([], None, N=N, filter_already_liked_items=False)
    assert ids.shape == (0, min(N, ui.shape[1]))
    assert model.recalculate_user([], ui[:0]).shape == (0, model.factors)


def test_rank_items_is_recommend_over_the_items_unfiltered(fitted):
    model, ui = fitted
    selected = [3, 7, 1, 20, 5, 11, 2, 9, 30, 31, 33, 40]
    with pytest.warns(DeprecationWarning, match="rank_items is deprecated"):
        ids, scores = model.rank_items(4, ui[4], selected)
    expected = model.recommend(4, ui[4], items=selected, filter_already_liked_items=False)
    assert np.array_equal(ids, expected[0]) and np.array_equal(scores, expected[1])
    assert len(ids) == 10  # implicit's default N


def test_recommend_all_returns_the_ids_of_each_row(fitted):
    model, ui = fitted
    with pytest.warns(DeprecationWarning, match="recommend_all is deprecated"):
        ids = model.recommend_all(ui, N=4)
    assert np.array_equal(ids, model.recommend(np.arange(ui.shape[0]), ui, N=4)[0])
    with pytest.warns(DeprecationWarning):
        shifted = model.recommend_all(ui[10:15], N=4, users_items_offset=10)
    assert np.array_equal(shifted, ids[10:15])


def test_to_gpu_says_there_is_no_gpu_build(fitted):
    with pytest.raises(ValueError, match="no GPU build"):
        fitted[0].to_gpu()


def test_parameter_warning_is_implicits_once_implicit_is_imported():
    """Without implicit imported the class is fastals' own (fastals never imports implicit);
    once the program imports it, the warning is also an instance of implicit's class."""
    child = (
        "import sys, warnings, numpy as np, scipy.sparse as sp\n"
        "import fastals\n"
        "m = fastals.AlternatingLeastSquares(factors=2, iterations=1)\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    m.fit(sp.coo_matrix(np.eye(5, dtype=np.float32)), show_progress=False)\n"
        "assert 'implicit' not in sys.modules, 'fastals imported implicit'\n"
        "assert w[0].category is fastals.ParameterWarning\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    implicit_utils = pytest.importorskip("implicit.utils")
    model = AlternatingLeastSquares(factors=2, iterations=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(sp.coo_matrix(np.eye(5, dtype=np.float32)), show_progress=False)
    category = caught[0].category
    assert issubclass(category, implicit_utils.ParameterWarning)
    assert issubclass(category, ParameterWarning)
