"""AlternatingLeastSquares: behaviour, structure recovery, determinism, callbacks, refit."""

import os
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from tolerances import KERNEL_F64, rel_err

from fastals import AlternatingLeastSquares, ModelFitError
from fastals.data import checkerboard, planted_low_rank


def small_matrix(seed=0, shape=(40, 50), density=0.2):
    rng = np.random.default_rng(seed)
    m = sp.random(*shape, density=density, format="csr", rng=rng, dtype=np.float32)
    m.data = np.where(m.data < 0.1, 41.0, 1.0).astype(np.float32)
    return m


def fit(matrix, **kwargs):
    params = dict(factors=8, regularization=0.1, iterations=5, random_state=0)
    params.update(kwargs)
    model = AlternatingLeastSquares(**params)
    model.fit(matrix, show_progress=False)
    return model


@pytest.mark.parametrize("use_cg", [True, False])
def test_checkerboard_structure_is_recovered(use_cg):
    m = checkerboard(60, 80, n_blocks=2)
    model = fit(m, factors=4, iterations=10, use_cg=use_cg)
    scores = model.user_factors @ model.item_factors.T
    same_block = (np.arange(60)[:, None] % 2) == (np.arange(80)[None, :] % 2)
    # every user scores every item of its own block above every item of the other block
    for u in range(60):
        assert scores[u, same_block[u]].min() > scores[u, ~same_block[u]].max()


def test_planted_low_rank_topics_are_recovered():
    m, user_latent, item_latent = planted_low_rank(300, 400, rank=4, density=0.1, seed=1)
    model = fit(m, factors=8, iterations=10)
    scores = model.user_factors @ model.item_factors.T
    user_topic, item_topic = user_latent.argmax(1), item_latent.argmax(1)
    top10 = np.argsort(-scores, axis=1)[:, :10]
    share = (item_topic[top10] == user_topic[:, None]).mean()
    assert share > 0.9


def test_same_seed_same_factors_other_seed_other_factors():
    m = small_matrix()
    a, b, c = fit(m, random_state=5), fit(m, random_state=5), fit(m, random_state=6)
    assert np.array_equal(a.user_factors, b.user_factors)
    assert np.array_equal(a.item_factors, b.item_factors)
    assert not np.allclose(a.user_factors, c.user_factors)


@pytest.mark.parametrize("use_cg", [True, False])
def test_thread_count_gives_identical_factors_and_is_restored(use_cg):
    from fastals._threads import current_threads

    m = small_matrix(shape=(300, 200))
    before = current_threads()
    one = fit(m, num_threads=1, use_cg=use_cg, calculate_training_loss=True)
    assert current_threads() == before
    two = fit(m, num_threads=2, use_cg=use_cg, calculate_training_loss=True)
    assert current_threads() == before
    assert np.array_equal(one.user_factors, two.user_factors)
    assert np.array_equal(one.item_factors, two.item_factors)
    assert one.loss_history == two.loss_history


def test_float64_model_and_reference_path_agree():
    m = small_matrix()
    native = fit(m, dtype=np.float64, iterations=2)
    readable = fit(m, dtype=np.float64, iterations=2, use_native=False)
    assert native.user_factors.dtype == np.float64
    assert rel_err(native.user_factors, readable.user_factors) < KERNEL_F64 * 1e3
    assert rel_err(native.item_factors, readable.item_factors) < KERNEL_F64 * 1e3


def test_cholesky_loss_never_increases():
    model = fit(small_matrix(), use_cg=False, iterations=8, calculate_training_loss=True)
    losses = np.array(model.loss_history)
    assert len(losses) == 8
    assert np.all(np.diff(losses) <= 1e-7 * losses[:-1])


def test_callback_arguments_and_early_stop():
    calls = []

    def callback(iteration, elapsed, loss):
        calls.append((iteration, elapsed, loss))
        return False if iteration == 2 else None  # None (or True) keeps going

    model = AlternatingLeastSquares(factors=4, iterations=10, calculate_training_loss=True)
    model.fit(small_matrix(), show_progress=False, callback=callback)
    assert [c[0] for c in calls] == [0, 1, 2]
    assert all(c[1] >= 0 and isinstance(c[2], float) for c in calls)
    assert model.loss_history == [c[2] for c in calls]


def test_fit_callback_attribute_is_used_and_loss_none_without_loss():
    seen = []
    model = AlternatingLeastSquares(factors=4, iterations=3)
    model.fit_callback = lambda i, e, loss: seen.append(loss)
    model.fit(small_matrix(), show_progress=False)
    assert seen == [None, None, None]
    assert model.loss_history == []


def test_progress_bar_shows_loss(capsys):
    model = AlternatingLeastSquares(factors=4, iterations=2, calculate_training_loss=True)
    model.fit(small_matrix(), show_progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "loss=" in err


def test_refit_warm_starts():
    m = small_matrix()
    model = fit(m, iterations=1)
    first = model.user_factors.copy()
    model.fit(m, show_progress=False)
    fresh_two = fit(m, iterations=2)
    assert not np.array_equal(model.user_factors, first)
    assert np.allclose(model.user_factors, fresh_two.user_factors, rtol=1e-4, atol=1e-6)


def test_refit_on_transposed_matrix_is_a_clear_error():
    m = small_matrix()
    model = fit(m)
    with pytest.raises(ValueError, match="looks transposed"):
        model.fit(m.T.tocsr(), show_progress=False)
    with pytest.raises(ValueError, match=r"shape \(40, 49\).*40 users x 50 items"):
        model.fit(m[:, :49], show_progress=False)
    model.user_factors = model.item_factors = None
    model.fit(m.T.tocsr(), show_progress=False)
    assert model.user_factors.shape == (50, 8)


def test_more_factors_than_users_warns_and_works():
    m = small_matrix(shape=(5, 30), density=0.5)
    with pytest.warns(UserWarning, match="exceeds"):
        model = fit(m, factors=10)
    assert np.isfinite(model.user_factors).all()


def test_nan_factors_raise_model_fit_error():
    m = small_matrix()
    model = AlternatingLeastSquares(factors=4, iterations=1)
    model.user_factors = np.full((40, 4), np.nan, np.float32)
    model.item_factors = np.ones((50, 4), np.float32)
    model.item_factors[3] = np.nan
    with pytest.raises(ModelFitError, match="NaN encountered in factors"):
        model.fit(m, show_progress=False)


def test_pickle_round_trip():
    model = fit(small_matrix())
    clone = pickle.loads(pickle.dumps(model))
    assert np.array_equal(clone.user_factors, model.user_factors)
    assert clone.factors == model.factors and clone.cg_steps == model.cg_steps


def test_gram_and_norm_properties():
    model = fit(small_matrix())
    Y, X = model.item_factors.astype(np.float64), model.user_factors.astype(np.float64)
    np.testing.assert_allclose(model.YtY, Y.T @ Y, rtol=1e-4)
    np.testing.assert_allclose(model.XtX, X.T @ X, rtol=1e-4)
    np.testing.assert_allclose(model.item_norms, np.linalg.norm(Y, axis=1), rtol=1e-5)
    model.user_factors[0] = 0
    model._user_norms = None
    assert model.user_norms[0] == model.user_norms.dtype.type(1e-10)  # implicit's, in the dtype


def test_cg_steps_is_a_keyword_and_an_attribute():
    m = small_matrix()
    a = fit(m, cg_steps=1)
    b = AlternatingLeastSquares(factors=8, regularization=0.1, iterations=5, random_state=0)
    b.cg_steps = 1
    b.fit(m, show_progress=False)
    assert np.array_equal(a.user_factors, b.user_factors)
    assert not np.array_equal(a.user_factors, fit(m).user_factors)


def test_small_work_runs_on_one_thread_with_the_same_results(monkeypatch):
    import fastals._threads as threads

    m = small_matrix(shape=(300, 200))
    parallel = fit(m, calculate_training_loss=True)
    monkeypatch.setattr(threads, "SERIAL_WORK", 10**12)

    def no_pool(n):
        raise AssertionError("a serial call used the thread pool")

    monkeypatch.setattr(threads, "_pool", no_pool)
    serial = fit(m, calculate_training_loss=True)  # the fit ran on the calling thread only
    assert np.array_equal(serial.user_factors, parallel.user_factors)
    assert serial.loss_history == parallel.loss_history
    assert threads.resolve_num_threads(0, work=10**12 - 1) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_starts_its_own_thread_pool(monkeypatch):
    """The parent's pool threads do not survive fork: a child that fits must not wait on
    them forever (multiprocessing's fork start method, Dask's process workers)."""
    import multiprocessing

    import fastals._threads as threads

    monkeypatch.setattr(threads, "SERIAL_WORK", 0)  # even this small fit uses the pool
    m = small_matrix(shape=(300, 200))
    fit(m, num_threads=2)  # the parent's pool exists now
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        result = pool.apply_async(_fit_user_factors, (m,))
        child = result.get(timeout=60)
    assert np.array_equal(child, fit(m, num_threads=2).user_factors)


def _fit_user_factors(m):
    return fit(m, num_threads=2).user_factors


def test_thread_sizing_does_not_wrap_at_100m_entries(monkeypatch):
    """A fit sizes its threads by entries x factors as a Python int: int32 indptr[-1] = 100M
    times 64 wrapped negative once and ran 100M-entry fits on one thread."""
    import fastals.factorization as factorization

    seen = []
    real = factorization.thread_scope
    monkeypatch.setattr(factorization, "thread_scope",
                        lambda n, work=None: seen.append(work) or real(n, work=work))  # fmt: skip
    model = AlternatingLeastSquares(factors=64, iterations=1)
    model.user_factors = model.item_factors = np.zeros((1, 64), np.float32)
    model._train(lambda iteration: None, False, None, np.int32(100_000_000))
    assert seen == [6_400_000_000]


def test_a_callback_that_changes_the_item_factors_is_seen_by_the_next_iteration():
    """Nothing computed from the factors (the Gram the item half-sweep could hand on) is
    carried past a callback: one that scales the item factors in place must give what
    fitting from those scaled factors gives."""
    Cui = sp.random(300, 200, density=0.08, random_state=4, format="csr", dtype=np.float32)
    Cui.data[:] = 3.0

    def halve(*_):
        model.item_factors *= 0.5

    model = AlternatingLeastSquares(factors=8, iterations=2, random_state=0)
    model.fit(Cui, show_progress=False, callback=halve)
    stepwise = AlternatingLeastSquares(factors=8, iterations=1, random_state=0)
    stepwise.fit(Cui, show_progress=False)
    stepwise.item_factors *= 0.5
    stepwise.fit(Cui, show_progress=False)  # a warm start from the halved factors
    stepwise.item_factors *= 0.5
    np.testing.assert_array_equal(model.user_factors, stepwise.user_factors)
    np.testing.assert_array_equal(model.item_factors, stepwise.item_factors)
