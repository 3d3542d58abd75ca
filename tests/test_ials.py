"""iALS (Rendle et al.'s objective): every solver against the NumPy reference, the objective's
descent, fold-in, explain, persistence and bad input."""

import io

import numpy as np
import pytest
import scipy.sparse as sp

import fastals
from fastals import AlternatingLeastSquares, iALS
from fastals.reference import ials as reference

SOLVERS = ("cholesky", "cg", "ials++", "cd")


def weights_matrix(n_users=40, n_items=30, density=0.15, seed=0, binary=False):
    rng = np.random.default_rng(seed)
    W = sp.random(n_users, n_items, density=density, random_state=seed, format="csr")
    W.data = np.ones_like(W.data) if binary else rng.uniform(0.5, 3.0, W.nnz)
    W.data[W.indptr[3] : W.indptr[4]] = 0  # an empty user row
    W.eliminate_zeros()
    return W


def model(**kwargs):
    params = dict(
        factors=6,
        regularization=0.05,
        regularization_exp=1.0,
        unobserved_weight=0.2,
        iterations=3,
        block_size=4,
        dtype=np.float64,
        random_state=7,
        num_threads=1,
    )
    params.update(kwargs)
    return iALS(**params)


@pytest.mark.parametrize("popularity_exp", [None, 0.5])
@pytest.mark.parametrize("nu", [0.0, 1.0])
@pytest.mark.parametrize("solver", SOLVERS + ("ials++ interleaved",))
def test_matches_reference(solver, nu, popularity_exp):
    W = weights_matrix()
    solver, _, order = solver.partition(" ")
    order = order or "sides"
    m = model(
        solver=solver, regularization_exp=nu, popularity_exp=popularity_exp, block_order=order
    )
    m.fit(W, show_progress=False)
    X, Y = reference.fit(
        W, 6, 0.05, nu, 0.2, 3, solver=solver, block_size=4, random_state=7,
        popularity_exp=popularity_exp, block_order=order,
    )  # fmt: skip
    np.testing.assert_allclose(m.user_factors, X, rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(m.item_factors, Y, rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize("popularity_exp", [None, 0.7])
def test_objective_matches_reference(popularity_exp):
    W = weights_matrix()
    m = model(popularity_exp=popularity_exp, iterations=2)
    m.fit(W, show_progress=False)
    c = reference.item_weights(W, 0.2, popularity_exp)
    expected = reference.loss(W, m.user_factors, m.item_factors, c, 0.05, 1.0)
    assert m.objective(W) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("block_size", [1, 4, 6])
@pytest.mark.parametrize(
    "solver, order", [(s, "sides") for s in SOLVERS] + [("ials++", "interleaved")]
)
def test_objective_never_increases(solver, order, block_size):
    W = weights_matrix(seed=3)
    m = model(solver=solver, block_size=block_size, iterations=12, calculate_training_loss=True,
              block_order=order)  # fmt: skip
    m.fit(W, show_progress=False)
    losses = np.array(m.loss_history)
    assert len(losses) == 12
    assert np.all(np.diff(losses) <= 1e-12 * losses[:-1]), losses


def test_full_block_is_the_exact_solve():
    W = weights_matrix()
    exact = model(solver="cholesky").fit(W, show_progress=False) or None
    a, b = model(solver="cholesky"), model(solver="ials++", block_size=6)
    a.fit(W, show_progress=False)
    b.fit(W, show_progress=False)
    assert exact is None
    np.testing.assert_allclose(b.user_factors, a.user_factors, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b.item_factors, a.item_factors, rtol=1e-9, atol=1e-12)


def test_all_solvers_reach_the_same_objective():
    W = weights_matrix(n_users=25, n_items=20, density=0.25, seed=5)
    finals = {}
    for solver, iterations in (("cholesky", 300), ("cg", 300), ("ials++", 600), ("cd", 1500)):
        m = model(factors=3, block_size=2, solver=solver, iterations=iterations)
        m.fit(W, show_progress=False)
        finals[solver] = m.objective(W)
    values = np.array(list(finals.values()))
    assert values.max() - values.min() <= 1e-7 * values.min(), finals


def test_uniform_popularity_weights_equal_alpha0():
    W = weights_matrix()
    a = model(popularity_exp=None)
    b = model(popularity_exp=0.0)  # f^0 = 1 for every item seen; unseen items get 0^0 = 1
    a.fit(W, show_progress=False)
    b.fit(W, show_progress=False)
    np.testing.assert_allclose(b.item_unobserved_weights, 0.2)
    np.testing.assert_allclose(b.user_factors, a.user_factors, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
def test_same_answers_for_any_thread_count(solver):
    W = weights_matrix(n_users=600, n_items=300, density=0.05, seed=2)
    got = []
    for threads in (1, 2):
        m = model(solver=solver, factors=16, dtype=np.float32, num_threads=threads)
        m.fit(W, show_progress=False)
        got.append((m.user_factors, m.item_factors))
    assert np.array_equal(got[0][0], got[1][0]) and np.array_equal(got[0][1], got[1][1])


def test_more_factors_than_users_warns_and_works():
    W = sp.random(5, 30, density=0.5, format="csr", random_state=3)
    model = iALS(factors=10, iterations=2, random_state=0)
    with pytest.warns(UserWarning, match="exceeds"):
        model.fit(W, show_progress=False)
    assert np.isfinite(model.user_factors).all() and np.isfinite(model.item_factors).all()


def test_initialisation_and_warm_start():
    W = weights_matrix()
    m = model(iterations=0, init_stddev=0.3)
    m.fit(W, show_progress=False)
    rng = np.random.default_rng(7)
    expected = rng.standard_normal((40, 6)) * (0.3 / np.sqrt(6))
    np.testing.assert_array_equal(m.user_factors, expected)
    start = m.item_factors.copy()
    m.iterations = 1
    m.fit(W, show_progress=False)  # warm: continues from the factors already set
    fresh = model(iterations=1, init_stddev=0.3)
    fresh.fit(W, show_progress=False)
    np.testing.assert_allclose(m.user_factors, fresh.user_factors)
    assert not np.array_equal(m.item_factors, start)


@pytest.mark.parametrize("popularity_exp", [None, 1.0])
def test_fold_in_solves_the_row_exactly(popularity_exp):
    W = weights_matrix()
    m = model(popularity_exp=popularity_exp)
    m.fit(W, show_progress=False)
    c = reference.item_weights(W, 0.2, popularity_exp)
    reg_u, reg_i = reference.regularization_weights(W, c, 0.05, 1.0)
    for u in (0, 5):
        cols, w = W[u].indices, W[u].data
        A, b = reference.normal_equations(m.item_factors, c, 1.0, reg_u[u], cols, w)
        np.testing.assert_allclose(m.recalculate_user(u, W[u]), np.linalg.solve(A, b), rtol=1e-9)
    Wt = W.T.tocsr()
    i = 2
    cols, w = Wt[i].indices, Wt[i].data
    A, b = reference.normal_equations(m.user_factors, np.ones(40), c[i], reg_i[i], cols, w)
    np.testing.assert_allclose(m.recalculate_item(i, Wt[i]), np.linalg.solve(A, b), rtol=1e-9)


def test_explain_adds_up_to_the_folded_in_score():
    W = weights_matrix()
    m = model()
    m.fit(W, show_progress=False)
    total, top, weights = m.explain(0, W, 4, N=100)
    score = m.recalculate_user(0, W[0]) @ m.item_factors[4]
    assert total == pytest.approx(score, rel=1e-9)
    assert sum(v for _, v in top) == pytest.approx(total, rel=1e-9)
    again, _, _ = m.explain(0, W, 4, user_weights=weights)
    assert again == pytest.approx(total, rel=1e-12)


def test_serving_is_shared():
    W = weights_matrix()
    m = model(dtype=np.float32)
    m.fit(W, show_progress=False)
    ids, scores = m.recommend(np.arange(5), W[:5], N=4)
    assert ids.shape == (5, 4) and ids.dtype == np.int32
    for u in range(5):
        assert not set(ids[u]) & set(W[u].indices)
        np.testing.assert_allclose(scores[u], m.predict(u, ids[u]), rtol=1e-5)
    sim, _ = m.similar_items(3, N=3)
    assert sim[0] == 3
    m.partial_fit_users([40], W[[0]])
    assert m.user_factors.shape == (41, 6)
    np.testing.assert_allclose(m.user_factors[40], m.recalculate_user(0, W[0]), rtol=1e-6)


def test_partial_fit_items_grows_the_item_weights():
    W = weights_matrix()
    m = model(popularity_exp=1.0)
    m.fit(W, show_progress=False)
    Wt = W.T.tocsr()
    m.partial_fit_items([30, 31], Wt[[0, 1]])
    assert m.item_factors.shape == (32, 6)
    c = m.item_unobserved_weights
    assert len(c) == 32
    np.testing.assert_allclose(c[30:], c[:2])  # the same counts give the same weights


@pytest.mark.parametrize("popularity_exp", [None, 0.5])
def test_save_load_round_trip(popularity_exp):
    W = weights_matrix()
    m = model(solver="ials++", popularity_exp=popularity_exp, dtype=np.float32)
    m.fit(W, show_progress=False)
    buffer = io.BytesIO()
    m.save(buffer)
    buffer.seek(0)
    loaded = iALS.load(buffer)
    assert (loaded.solver, loaded.block_size, loaded.popularity_exp) == (
        "ials++",
        4,
        popularity_exp,
    )
    np.testing.assert_array_equal(loaded.user_factors, m.user_factors)
    np.testing.assert_array_equal(
        loaded.recalculate_item(1, W.T.tocsr()[1]), m.recalculate_item(1, W.T.tocsr()[1])
    )
    buffer.seek(0)
    with pytest.raises(ValueError, match="iALS model: load it with iALS.load"):
        AlternatingLeastSquares.load(buffer)


def test_als_file_refused_by_ials():
    buffer = io.BytesIO()
    AlternatingLeastSquares(factors=4).save(buffer)
    buffer.seek(0)
    with pytest.raises(ValueError, match="AlternatingLeastSquares model"):
        iALS.load(buffer)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(solver="sgd"), "solver must be one of 'cholesky', 'cg', 'ials\\+\\+', 'cd'"),
        (dict(block_size=0), "block_size"),
        (dict(factors=8, block_size=9), "block_size must be between 1 and factors=8"),
        (dict(unobserved_weight=-0.1), "unobserved_weight"),
        (dict(regularization=float("nan")), "regularization"),
        (dict(popularity_exp=-1), "popularity_exp"),
        (dict(block_order="random"), "block_order must be 'sides' or 'interleaved'"),
    ],
)
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        iALS(**kwargs)


def test_bad_weights():
    W = weights_matrix()
    bad = W.copy()
    bad.data[5] = -1.0
    with pytest.raises(ValueError, match="negative values .* iALS weights must be >= 0"):
        model().fit(bad, show_progress=False)
    bad.data[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model().fit(bad, show_progress=False)


def test_singular_systems_are_named():
    W = weights_matrix()
    with pytest.raises(ValueError, match="regularization > 0 or unobserved_weight > 0"):
        model(regularization=0.0, unobserved_weight=0.0, factors=6).fit(W, show_progress=False)


def test_stored_zeros_are_not_interactions():
    W = weights_matrix()
    Z = W.copy()
    Z.data = Z.data.copy()
    Z.data[0] = 0.0  # keeps the entry stored, with weight 0
    a, b = model(), model()
    Z2 = Z.copy()
    a.fit(Z, show_progress=False)
    for name in ("data", "indices", "indptr"):  # the caller's matrix is left as it was
        np.testing.assert_array_equal(getattr(Z, name), getattr(Z2, name))
    Z2.eliminate_zeros()
    b.fit(Z2, show_progress=False)
    np.testing.assert_array_equal(a.user_factors, b.user_factors)


def test_public_name():
    assert fastals.iALS is iALS


def short_rows(n_users=300, n_items=200, seed=5):
    """Most users hold 1-4 items, a few many: short rows for the Woodbury path."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for u in range(n_users):
        n = 30 if u % 50 == 0 else int(rng.integers(1, 5))
        rows += [u] * n
        cols += rng.choice(n_items, n, replace=False).tolist()
    W = sp.csr_matrix((rng.uniform(0.5, 3.0, len(rows)), (rows, cols)), shape=(n_users, n_items))
    W.sum_duplicates()
    return W


@pytest.mark.parametrize("popularity_exp", [None, 0.5])
def test_woodbury_for_short_rows_with_nu_zero(monkeypatch, popularity_exp):
    """nu = 0, float32: rows of <= k/2 entries are solved by the Woodbury identity in float64
    (one factorisation of A0 per half-sweep), at least as close to the float64 solution as
    float32 Cholesky; nu = 1 (lambda_u per row) and popularity-weighted items never take it."""
    from fastals import ials_sweeps

    W = short_rows()
    k = 16
    counts = {"user": np.diff(W.indptr), "item": np.bincount(W.indices, minlength=200)}
    one = np.ones(300, np.float32)
    assert ials_sweeps.takes_low_rank(counts["user"], 0.2 * one, 0.05 * one, k, 200, np.float32)
    assert not ials_sweeps.takes_low_rank(counts["user"], one, one, k, 200, np.float64)
    assert not ials_sweeps.takes_low_rank(
        counts["user"], one, np.linspace(1, 2, 300), k, 200, np.float32
    )  # lambda_u varies (nu != 0): no shared A0
    taken = []
    real = ials_sweeps.low_rank_columns
    monkeypatch.setattr(ials_sweeps, "low_rank_columns",
                        lambda *a: taken.append(len(a[1])) or real(*a))  # fmt: skip
    params = dict(solver="cholesky", regularization_exp=0.0, factors=k, iterations=2,
                  popularity_exp=popularity_exp)  # fmt: skip
    exact = model(**params, dtype=np.float64)
    exact.fit(W, show_progress=False)
    taken.clear()
    fast = model(**params, dtype=np.float32)
    fast.fit(W, show_progress=False)
    # both half-sweeps of both iterations; items weighted by popularity: the users' only
    assert taken == ([200, 300] * 2 if popularity_exp is None else [200, 200])
    monkeypatch.setattr(ials_sweeps, "takes_low_rank", lambda *a: False)
    plain = model(**params, dtype=np.float32)
    plain.fit(W, show_progress=False)
    for F in ("user_factors", "item_factors"):
        ref = getattr(exact, F)
        err_fast = np.abs(getattr(fast, F) - ref).max()
        err_plain = np.abs(getattr(plain, F) - ref).max()
        assert err_fast <= max(2 * err_plain, 1e-6), (F, err_fast, err_plain)
        np.testing.assert_allclose(getattr(fast, F), ref, rtol=1e-3, atol=1e-4)
