"""fastals' serving calls on their own: recommend against a brute-force NumPy oracle, predict,
edge cases, batching, threads and the clear errors fastals raises where implicit crashes.

The oracle ranks X @ Y.T with the user's stored items and ``filter_items`` masked to
-finfo(dtype).max and reproduces implicit's top-k exactly (implicit/cpu/select.h): the items
are scanned in id order through a min-heap of (score, id) of size N; an item enters when the
heap is not full or its score is strictly greater than the smallest score in the heap (the
smallest (score, id) pair is evicted); the result is sorted by descending (score, id). The
property tests use small integer factors, so every score is exact in float32 and float64 and
ties are frequent: ids and scores are compared exactly.
"""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastals
from fastals import AlternatingLeastSquares
from fastals.reference import serving as reference

DTYPES = [np.float32, np.float64]
DTYPE_PARAMS = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]


# --------------------------------------------------------------------------------------
# Oracle and helpers
# --------------------------------------------------------------------------------------
heap_topk = reference.top_k  # implicit's selection, in plain Python
oracle = reference.recommend  # (x, Y, dtype, N, excluded, items) -> expected (ids, scores)


def csr_rows(mask, values, n_items):
    """CSR from a boolean mask of stored cells and their values (stored zeros stay)."""
    mask = np.asarray(mask, bool)
    rows, cols = np.nonzero(mask)
    indptr = np.zeros(mask.shape[0] + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=mask.shape[0]), out=indptr[1:])
    data = np.asarray(values, np.float32)[rows, cols]
    return sp.csr_matrix((data, cols.astype(np.int32), indptr), shape=(mask.shape[0], n_items))


def make_model(X, Y, dtype, num_threads=0):
    model = AlternatingLeastSquares(factors=X.shape[1], dtype=dtype, num_threads=num_threads)
    model.user_factors = np.ascontiguousarray(X, dtype=dtype)
    model.item_factors = np.ascontiguousarray(Y, dtype=dtype)
    return model


def check_topk_properties(ids, scores, excluded, candidates, N, dtype):
    """The documented properties of one row of recommend's answer."""
    n_candidates = len(candidates)
    neg = -np.finfo(dtype).max
    assert ids.dtype.kind == "i"
    assert scores.dtype == np.dtype(dtype)
    assert ids.shape == scores.shape == (min(N, n_candidates),)
    assert len(set(ids.tolist())) == len(ids), "duplicate ids"
    assert set(ids.tolist()) <= set(np.asarray(candidates).tolist())
    assert (np.diff(scores.astype(np.float64)) <= 0).all(), "scores not descending"
    excluded = set(excluded) & set(np.asarray(candidates).tolist())
    n_allowed = n_candidates - len(excluded)
    head, tail = ids[:n_allowed], ids[n_allowed:]
    assert not excluded & set(head.tolist()), "a liked / filtered item ranks among the others"
    assert set(tail.tolist()) <= excluded
    assert (scores[n_allowed:] == neg).all()
    assert (scores[: min(n_allowed, len(ids))] > neg).all()


def assert_rows_equal(got, expected):
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


# --------------------------------------------------------------------------------------
# Hypothesis: integer factors, exact comparison with the oracle
# --------------------------------------------------------------------------------------
@st.composite
def problems(draw, max_users=6, max_items=25):
    dtype = draw(st.sampled_from(DTYPES))
    n_users = draw(st.integers(1, max_users))
    n_items = draw(st.integers(1, max_items))
    k = draw(st.integers(1, 4))
    small = st.integers(-3, 3)
    X = draw(hnp.arrays(np.int8, (n_users, k), elements=small)).astype(dtype)
    Y = draw(hnp.arrays(np.int8, (n_items, k), elements=small)).astype(dtype)
    stored = draw(hnp.arrays(np.bool_, (n_users, n_items)))
    values = draw(hnp.arrays(np.int8, (n_users, n_items), elements=st.sampled_from([-2, 0, 1, 4])))
    user_items = csr_rows(stored, values, n_items)
    N = draw(st.integers(1, n_items + 4))
    filter_liked = draw(st.booleans())
    filter_items = draw(
        st.none() | st.lists(st.integers(0, n_items - 1), max_size=n_items, unique=True)
    )
    return dtype, X, Y, user_items, N, filter_liked, filter_items


def liked(user_items, u):
    """Every stored entry of row u: positives, negatives and stored zeros."""
    return set(user_items[u].indices.tolist())


@settings(max_examples=60, deadline=None)
@given(problem=problems())
def test_recommend_matches_oracle(problem):
    dtype, X, Y, user_items, N, filter_liked, filter_items = problem
    model = make_model(X, Y, dtype)
    n_users, n_items = user_items.shape
    kwargs = {"N": N, "filter_already_liked_items": filter_liked, "filter_items": filter_items}
    userids = np.arange(n_users)
    ids, scores = model.recommend(userids, user_items, **kwargs)
    assert ids.dtype == np.int32 and scores.dtype == np.dtype(dtype)
    assert ids.shape == scores.shape == (n_users, min(N, n_items))
    for u in userids:
        excluded = (liked(user_items, u) if filter_liked else set()) | set(filter_items or ())
        expected = oracle(X[u], Y, dtype, N, excluded)
        assert_rows_equal((ids[u], scores[u]), expected)
        check_topk_properties(ids[u], scores[u], excluded, np.arange(n_items), N, dtype)
        single = model.recommend(int(u), user_items[u], **kwargs)
        assert single[0].dtype == np.int32 and single[0].ndim == 1
        assert_rows_equal(single, (ids[u], scores[u]))


@settings(max_examples=40, deadline=None)
@given(problem=problems(), data=st.data())
def test_recommend_items_matches_oracle(problem, data):
    dtype, X, Y, user_items, N, filter_liked, _ = problem
    n_users, n_items = user_items.shape
    items = data.draw(
        st.lists(st.integers(0, n_items - 1), min_size=1, max_size=n_items, unique=True)
    )
    model = make_model(X, Y, dtype)
    kwargs = {"N": N, "filter_already_liked_items": filter_liked, "items": items}
    userids = np.arange(n_users)
    ids, scores = model.recommend(userids, user_items, **kwargs)
    assert ids.shape == scores.shape == (n_users, min(N, len(items)))
    for u in userids:
        excluded = liked(user_items, u) if filter_liked else set()
        expected = oracle(X[u], Y, dtype, N, excluded, items=items)
        assert_rows_equal((ids[u], scores[u]), expected)
        check_topk_properties(ids[u], scores[u], excluded, items, N, dtype)
        assert_rows_equal(model.recommend(int(u), user_items[u], **kwargs), (ids[u], scores[u]))


# --------------------------------------------------------------------------------------
# Hypothesis: random real factors (scores to rounding, ids up to near-ties)
# --------------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    dtype=st.sampled_from(DTYPES),
    n_users=st.integers(1, 8),
    n_items=st.integers(1, 60),
    k=st.integers(1, 12),
    N=st.integers(1, 70),
    filter_liked=st.booleans(),
)
def test_recommend_real_factors(seed, dtype, n_users, n_items, k, N, filter_liked):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_users, k)).astype(dtype)
    Y = rng.standard_normal((n_items, k)).astype(dtype)
    ui = csr_rows(
        rng.random((n_users, n_items)) < 0.2, rng.integers(1, 5, (n_users, n_items)), n_items
    )
    model = make_model(X, Y, dtype)
    ids, scores = model.recommend(
        np.arange(n_users), ui, N=N, filter_already_liked_items=filter_liked
    )
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for u in range(n_users):
        excluded = liked(ui, u) if filter_liked else set()
        check_topk_properties(ids[u], scores[u], excluded, np.arange(n_items), N, dtype)
        exact = X[u].astype(np.float64) @ Y.T.astype(np.float64)
        scale = np.abs(exact).max() + 1e-30
        expected_ids, expected_scores = oracle(X[u], Y, dtype, N, excluded)
        real = expected_scores > -np.finfo(dtype).max
        # each returned score is that item's score ...
        np.testing.assert_allclose(
            scores[u][real], exact[ids[u][real]], rtol=rtol, atol=rtol * scale
        )
        # ... and the ranking is the oracle's up to swaps of (near-)tied scores
        np.testing.assert_allclose(
            scores[u].astype(np.float64),
            expected_scores.astype(np.float64),
            rtol=rtol,
            atol=rtol * scale,
        )
        differ = ids[u] != expected_ids
        assert np.allclose(
            exact[ids[u][differ & real]],
            exact[expected_ids[differ & real]],
            rtol=rtol,
            atol=rtol * scale,
        )


# --------------------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------------------
def small_model(dtype=np.float32, n_users=5, n_items=9, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(-3, 4, (n_users, k)).astype(dtype)
    Y = rng.integers(-3, 4, (n_items, k)).astype(dtype)
    return make_model(X, Y, dtype), X, Y


@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
def test_n_larger_than_items_is_capped(dtype):
    model, X, Y = small_model(dtype)
    n_items = len(Y)
    ui = csr_rows(np.eye(5, n_items, dtype=bool), np.ones((5, n_items)), n_items)
    ids, scores = model.recommend(2, ui[2], N=n_items + 10)
    assert ids.shape == scores.shape == (n_items,)
    assert_rows_equal((ids, scores), oracle(X[2], Y, dtype, n_items, {2}))
    assert ids[-1] == 2 and scores[-1] == -np.finfo(dtype).max  # the liked item comes last
    ids, scores = model.recommend(np.arange(5), ui, N=1000)
    assert ids.shape == (5, n_items)
    ids, _ = model.recommend(0, ui[0], N=1000, items=[1, 5, 7])
    assert ids.shape == (3,)


@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
def test_empty_user_rows(dtype):
    model, X, Y = small_model(dtype)
    empty = sp.csr_matrix((5, len(Y)), dtype=np.float32)
    ids, scores = model.recommend(np.arange(5), empty, N=len(Y))
    unfiltered = model.recommend(np.arange(5), None, N=len(Y), filter_already_liked_items=False)
    assert_rows_equal((ids, scores), unfiltered)
    for u in range(5):
        assert_rows_equal((ids[u], scores[u]), oracle(X[u], Y, dtype, len(Y)))
        assert_rows_equal(model.recommend(u, empty[u], N=4), oracle(X[u], Y, dtype, 4))


@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
def test_all_items_filtered(dtype):
    model, X, Y = small_model(dtype)
    n_items = len(Y)
    neg = -np.finfo(dtype).max
    everything = sp.csr_matrix(np.ones((1, n_items), dtype=np.float32))
    for N in (3, n_items, n_items + 2):
        expected_ids = np.arange(min(N, n_items))[::-1]  # all tied: lowest ids, descending
        ids, scores = model.recommend(1, everything, N=N)
        np.testing.assert_array_equal(ids, expected_ids)
        assert (scores == neg).all()
        ids, scores = model.recommend(
            1, None, N=N, filter_already_liked_items=False, filter_items=np.arange(n_items)
        )
        np.testing.assert_array_equal(ids, expected_ids)
        assert (scores == neg).all()
    # stored zeros and negatives are "liked" too
    zeros = sp.csr_matrix(
        (
            np.array([0.0] * 4 + [-1.0] * (n_items - 4), np.float32),
            np.arange(n_items),
            [0, n_items],
        ),
        shape=(1, n_items),
    )
    assert zeros.nnz == n_items
    ids, scores = model.recommend(1, zeros, N=n_items)
    assert (scores == neg).all()


@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
def test_single_item(dtype):
    model, X, Y = small_model(dtype, n_items=1)
    ids, scores = model.recommend(0, sp.csr_matrix((1, 1), dtype=np.float32), N=10)
    np.testing.assert_array_equal(ids, [0])
    np.testing.assert_array_equal(scores, (X[0] @ Y[0]).astype(dtype).reshape(1))
    ids, scores = model.recommend(np.arange(5), sp.csr_matrix(np.ones((5, 1))), N=1)
    assert ids.shape == (5, 1) and (ids == 0).all() and (scores == -np.finfo(dtype).max).all()


def test_user_items_may_be_csr_array():
    model, X, Y = small_model()
    ui = csr_rows(np.random.default_rng(1).random((5, 9)) < 0.4, np.ones((5, 9)), 9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = model.recommend(3, sp.csr_array(ui[3]), N=5)
        batch = model.recommend(np.arange(5), sp.csr_array(ui), N=5)
    assert_rows_equal(got, model.recommend(3, ui[3], N=5))
    assert_rows_equal(batch, model.recommend(np.arange(5), ui, N=5))


# --------------------------------------------------------------------------------------
# Batching, threads, large batches
# --------------------------------------------------------------------------------------
def integer_problem(n_users, n_items, k, seed, density=0.1):
    rng = np.random.default_rng(seed)
    X = rng.integers(-3, 4, (n_users, k)).astype(np.float32)
    Y = rng.integers(-3, 4, (n_items, k)).astype(np.float32)
    stored = rng.random((n_users, n_items)) < density
    ui = csr_rows(stored, rng.integers(-1, 4, (n_users, n_items)), n_items)
    return X, Y, ui


def test_batch_equals_scalar():
    X, Y, ui = integer_problem(40, 30, 3, seed=2, density=0.2)
    model = make_model(X, Y, np.float32)
    userids = np.array([5, 0, 39, 5, 12])
    for kwargs in (
        {"N": 7},
        {"N": 30, "filter_items": [0, 1, 2]},
        {"N": 4, "filter_already_liked_items": False},
        {"N": 6, "items": [29, 3, 4, 10, 11, 12, 20]},
    ):
        ids, scores = model.recommend(userids, ui[userids], **kwargs)
        for row, u in enumerate(userids):
            assert_rows_equal(model.recommend(int(u), ui[u], **kwargs), (ids[row], scores[row]))
            assert_rows_equal(
                model.recommend(np.int64(u), ui[u], **kwargs), (ids[row], scores[row])
            )


@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
def test_results_independent_of_num_threads(dtype):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((700, 16)).astype(dtype)
    Y = rng.standard_normal((400, 16)).astype(dtype)
    ui = csr_rows(rng.random((700, 400)) < 0.05, np.ones((700, 400)), 400)
    one, two = make_model(X, Y, dtype, num_threads=1), make_model(X, Y, dtype, num_threads=2)
    users = np.arange(700)
    for kwargs in ({"N": 10}, {"N": 400, "filter_items": [1, 2, 3]}, {"N": 5, "items": [3, 9, 1]}):
        assert_rows_equal(one.recommend(users, ui, **kwargs), two.recommend(users, ui, **kwargs))
    np.testing.assert_array_equal(
        one.similar_items(np.arange(400), N=10)[0], two.similar_items(np.arange(400), N=10)[0]
    )
    np.testing.assert_array_equal(
        one.similar_users(users, N=10)[1], two.similar_users(users, N=10)[1]
    )


def test_large_batch():
    n_users, n_items = 3000, 100
    X, Y, ui = integer_problem(n_users, n_items, 4, seed=3)
    model = make_model(X, Y, np.float32)
    users = np.arange(n_users)
    ids, scores = model.recommend(users, ui, N=10, filter_items=[7, 8])
    assert ids.shape == scores.shape == (n_users, 10)
    for u in users:
        expected = oracle(X[u], Y, np.float32, 10, liked(ui, u) | {7, 8})
        assert_rows_equal((ids[u], scores[u]), expected)
    # a permuted batch gives the permuted answer
    perm = np.random.default_rng(0).permutation(n_users)
    got = model.recommend(perm, ui[perm], N=10, filter_items=[7, 8])
    assert_rows_equal(got, (ids[perm], scores[perm]))


# --------------------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
def test_predict(dtype):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((6, 4)).astype(dtype)
    Y = rng.standard_normal((8, 4)).astype(dtype)
    model = make_model(X, Y, dtype)
    exact = X.astype(np.float64) @ Y.T.astype(np.float64)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    atol = rtol * np.abs(exact).max()

    value = model.predict(2, 5)
    assert np.ndim(value) == 0
    assert np.asarray(value).dtype == np.dtype(dtype)
    np.testing.assert_allclose(float(value), exact[2, 5], rtol=rtol, atol=atol)

    got = model.predict([0, 1, 5, 5], np.array([7, 0, 3, 3]))
    assert got.shape == (4,) and got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, exact[[0, 1, 5, 5], [7, 0, 3, 3]], rtol=rtol, atol=atol)

    got = model.predict(np.arange(6)[:, None], np.arange(8)[None, :])
    assert got.shape == (6, 8) and got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, exact, rtol=rtol, atol=atol)

    got = model.predict(3, np.arange(8))
    assert got.shape == (8,)
    np.testing.assert_allclose(got, exact[3], rtol=rtol, atol=atol)
    got = model.predict(np.arange(6), 0)
    np.testing.assert_allclose(got, exact[:, 0], rtol=rtol, atol=atol)

    with pytest.raises(ValueError):
        model.predict([0, 1], [0, 1, 2])


# --------------------------------------------------------------------------------------
# Clear errors
# --------------------------------------------------------------------------------------
N_USERS, N_ITEMS = 30, 45


@pytest.fixture
def model_and_data():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((N_USERS, 4)).astype(np.float32)
    Y = rng.standard_normal((N_ITEMS, 4)).astype(np.float32)
    ui = csr_rows(rng.random((N_USERS, N_ITEMS)) < 0.2, np.ones((N_USERS, N_ITEMS)), N_ITEMS)
    return make_model(X, Y, np.float32), ui


def test_same_class():
    assert fastals.AlternatingLeastSquares is fastals.als.AlternatingLeastSquares


def test_transposed_user_items(model_and_data):
    model, ui = model_and_data
    transposed = ui.T.tocsr()  # (n_items, n_users): the seed notebook's mistake
    calls = [
        lambda: model.recommend(np.arange(N_ITEMS), transposed, N=5),
        lambda: model.explain(0, transposed, 3),
    ]
    for call in calls:
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert "transposed" in message, message
        assert str(N_ITEMS) in message, message


def test_narrower_rows_are_rows_with_empty_new_columns(model_and_data):
    """As implicit: rows from before ``partial_fit_items`` grew the model (fewer columns)
    are accepted, the missing columns empty; a single row cannot be told from a transposed
    one by its width, so only whole transposed matrices are refused."""
    model, ui = model_and_data
    narrow = ui[:3, :13]
    padded = sp.csr_matrix((narrow.data, narrow.indices, narrow.indptr), shape=(3, N_ITEMS))
    for kwargs in ({}, {"recalculate_user": True}, {"filter_items": [1, 2]}):
        got = model.recommend([0, 1, 2], narrow, N=5, **kwargs)
        expected = model.recommend([0, 1, 2], padded, N=5, **kwargs)
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert np.array_equal(
        model.recalculate_user(0, narrow[:1]), model.recalculate_user(0, padded[:1])
    )
    assert model.explain(0, narrow, 3)[:2] == model.explain(0, padded, 3)[:2]


def test_wrong_number_of_columns(model_and_data):
    model, ui = model_and_data
    wide = sp.csr_matrix((3, N_ITEMS + 1), dtype=np.float32)
    for call in (
        lambda: model.recommend([0, 1, 2], wide, N=5),
        lambda: model.recalculate_user(0, wide[:1]),
        lambda: model.explain(0, sp.csr_matrix((N_USERS, N_ITEMS + 1), dtype=np.float32), 3),
    ):
        with pytest.raises(ValueError, match=str(N_ITEMS)):
            call()
    # item_users: at most one column per user
    wide_items = sp.csr_matrix((1, N_USERS + 1), dtype=np.float32)
    for call in (
        lambda: model.recalculate_item(0, wide_items),
        lambda: model.partial_fit_items([0], wide_items),
        lambda: model.similar_items(0, recalculate_item=True, item_users=wide_items),
    ):
        with pytest.raises(ValueError, match=str(N_USERS)):
            call()


def test_full_matrix_instead_of_user_rows(model_and_data):
    model, ui = model_and_data
    for call in (
        lambda: model.recommend(3, ui, N=5),
        lambda: model.recommend(np.array([3, 4]), ui, N=5),
        lambda: model.recommend(3, ui, N=5, recalculate_user=True),
    ):
        with pytest.raises(ValueError) as info:
            call()
        message = str(info.value)
        assert "row" in message and re.search(r"user_items\[userids?\]", message), message


def _assert_out_of_range(call, bad, count, kind):
    with pytest.raises(IndexError) as info:
        call()
    message = str(info.value)
    assert "out of range" in message, message
    assert str(bad) in message, message
    assert re.search(kind, message), message
    assert str(count) in message or str(count - 1) in message, message


@pytest.mark.parametrize("bad", [N_USERS, N_USERS + 7, -1])
def test_userid_out_of_range(model_and_data, bad):
    model, ui = model_and_data
    kind = r"user ?id"
    _assert_out_of_range(lambda: model.recommend(bad, ui[0], N=5), bad, N_USERS, kind)
    _assert_out_of_range(
        lambda: model.recommend(np.array([0, bad]), ui[:2], N=5), bad, N_USERS, kind
    )
    _assert_out_of_range(
        lambda: model.recommend(bad, None, N=5, filter_already_liked_items=False),
        bad,
        N_USERS,
        kind,
    )
    _assert_out_of_range(lambda: model.similar_users(bad, N=5), bad, N_USERS, kind)
    _assert_out_of_range(lambda: model.predict(bad, 0), bad, N_USERS, kind)
    _assert_out_of_range(lambda: model.explain(bad, ui, 0), bad, N_USERS, kind)


@pytest.mark.parametrize("bad", [N_ITEMS, N_ITEMS + 3, -2])
def test_itemid_out_of_range(model_and_data, bad):
    model, ui = model_and_data
    kind = r"item ?id"
    _assert_out_of_range(lambda: model.similar_items(bad, N=5), bad, N_ITEMS, kind)
    _assert_out_of_range(lambda: model.similar_items([1, bad], N=5), bad, N_ITEMS, kind)
    _assert_out_of_range(lambda: model.predict(0, bad), bad, N_ITEMS, kind)
    _assert_out_of_range(lambda: model.predict([0, 1], [2, bad]), bad, N_ITEMS, kind)
    _assert_out_of_range(lambda: model.explain(0, ui, bad), bad, N_ITEMS, kind)
    with pytest.raises(IndexError):
        model.recommend(0, ui[0], N=5, items=[0, bad])
    with pytest.raises(IndexError):
        model.similar_items(0, N=5, items=[0, bad])


def test_items_with_filter_items(model_and_data):
    model, ui = model_and_data
    with pytest.raises(ValueError):
        model.recommend(0, ui[0], N=5, items=[1, 2, 3], filter_items=[2])
    with pytest.raises(ValueError):
        model.similar_users(0, N=5, users=[1, 2, 3], filter_users=[2])


def test_filtering_needs_user_items(model_and_data):
    model, _ = model_and_data
    with pytest.raises((ValueError, TypeError)):
        model.recommend(0, None, N=5)
