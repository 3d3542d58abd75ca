"""fastals' serving calls against implicit 0.7.3 on IDENTICAL factors.

Every test builds an implicit model and a fastals model holding the same factors (implicit's,
fitted once on a small random matrix, copied into fastals) and checks that recommend,
similar_items, similar_users, recalculate_user/item, partial_fit_users/items and explain
return the same ids (exactly, order included) and the same scores (relative 1e-5).

implicit's top-k (implicit/cpu/select.h) scans the items in id order through a min-heap of
(score, id) pairs of size N: an item enters when the heap is not full or when its score is
strictly greater than the heap's smallest score, evicting the smallest (score, id) pair; the
result is emitted in descending (score, id) order. So among tied scores the order is
descending id, and which tied items survive the cut depends on that scan (it is NOT simply
"the lowest ids"). The tie tests below use integer factors (exact scores, many ties) and
compare ids with implicit's exactly.

The one documented difference: when N exceeds the number of candidate items, fastals returns
only that many results (implicit pads with id 0 / score 0).

implicit is a test-only reference: the whole module is skipped when it is not installed.
"""

import functools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import fastals

implicit_als = pytest.importorskip("implicit.als")
threadpoolctl = pytest.importorskip("threadpoolctl")

N_USERS, N_ITEMS, K = 50, 70, 8
EMPTY_USER = 7  # a user without any stored entry
REGULARIZATION, ALPHA = 0.5, 2.0  # alpha != 1 exercises its use in recalculate / explain

# Scores and solved factors (recalculate_*, partial_fit_*, explain): relative tolerance. The
# normal equations here are well conditioned (cond ~4): implicit's float32 solves are within
# 1e-6 of an exact float64 solve, so 1e-5 leaves room for fastals' own rounding only.
SCORE_RTOL = 1e-5

DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]


# --------------------------------------------------------------------------------------
# Problem, models and comparison helpers
# --------------------------------------------------------------------------------------
def make_user_items(n_users=N_USERS, n_items=N_ITEMS, density=0.15, seed=0):
    """Users x items CSR with integer values (float32-exact), negatives, stored zeros and
    an empty row (EMPTY_USER). Built from indptr so the explicit zeros stay stored."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[EMPTY_USER % n_users, :] = False
    rows, cols = np.nonzero(mask)
    data = rng.integers(1, 6, size=rows.size).astype(np.float32)
    kind = rng.random(rows.size)
    data[kind < 0.1] *= -1.0
    data[(kind >= 0.1) & (kind < 0.15)] = 0.0
    indptr = np.zeros(n_users + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n_users), out=indptr[1:])
    ui = sp.csr_matrix((data, cols.astype(np.int32), indptr), shape=(n_users, n_items))
    assert ui.nnz == rows.size
    assert (ui.data < 0).any() and (ui.data == 0).any()
    return ui


USER_ITEMS = make_user_items()


def without_stored_zeros(ui):
    """With ``items=``, implicit drops stored zeros from the filter (it remaps the row
    through eliminate_zeros), while fastals filters every stored entry: the items= tests
    use rows without stored zeros, where both agree."""
    ui = ui.copy()
    ui.eliminate_zeros()
    return ui


def imp(fn, *args, **kwargs):
    """Call implicit with one BLAS thread."""
    with threadpoolctl.threadpool_limits(1, "blas"):
        return fn(*args, **kwargs)


@functools.cache
def _implicit_fit(dtype):
    with threadpoolctl.threadpool_limits(1, "blas"):
        model = _new_implicit(dtype, K)
        model.fit(USER_ITEMS, show_progress=False)
    return model.user_factors.copy(), model.item_factors.copy()


def _new_implicit(dtype, factors):
    with threadpoolctl.threadpool_limits(1, "blas"):
        return implicit_als.AlternatingLeastSquares(
            factors=factors,
            regularization=REGULARIZATION,
            alpha=ALPHA,
            dtype=dtype,
            iterations=4,
            random_state=0,
            use_gpu=False,
            num_threads=1,
        )


def make_pair(dtype, user_factors, item_factors):
    """(implicit model, fastals model) holding copies of the same factors."""
    factors = user_factors.shape[1]
    implicit_model = _new_implicit(dtype, factors)
    fast = fastals.AlternatingLeastSquares(
        factors=factors, regularization=REGULARIZATION, alpha=ALPHA, dtype=dtype
    )
    implicit_model.user_factors = np.array(user_factors, dtype=dtype)
    implicit_model.item_factors = np.array(item_factors, dtype=dtype)
    fast.user_factors = np.array(user_factors, dtype=dtype)
    fast.item_factors = np.array(item_factors, dtype=dtype)
    return implicit_model, fast


@pytest.fixture(params=DTYPES)
def pair(request):
    """implicit and fastals models with implicit's fitted factors (fresh objects per test)."""
    return make_pair(request.param, *_implicit_fit(request.param))


def make_tie_factors(dtype, seed=5):
    """Integer factors with many exactly tied scores: duplicated item rows, zero item rows,
    a zero user (every score 0) and entries in {-1, 0, 1} (exact products and norms that
    tie exactly whenever the maths does)."""
    rng = np.random.default_rng(seed)
    items = rng.integers(-1, 2, size=(40, 4)).astype(dtype)
    items[20:30] = items[0:10]  # duplicates
    items[30:35] = 0.0  # zero rows: score 0 for every user
    items[35:] = items[3]  # several copies of one row
    users = rng.integers(-1, 2, size=(12, 4)).astype(dtype)
    users[0] = 0.0  # everything ties
    users[1] = [1, 0, 0, 0]
    return users, items


@pytest.fixture(params=DTYPES)
def tie_pair(request):
    return make_pair(request.param, *make_tie_factors(request.param))


def tie_user_items(n_users=12, n_items=40, seed=6):
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < 0.25) * rng.integers(1, 4, (n_users, n_items))
    dense[2] = 0
    dense[3, ::2] = 1  # half of the items, among them duplicates and zero rows
    return sp.csr_matrix(dense.astype(np.float32))


def _scale(scores):
    """Largest magnitude among the real (not filtered, finite) scores."""
    scores = np.asarray(scores, dtype=np.float64)
    real = np.isfinite(scores) & (np.abs(scores) < np.finfo(np.float32).max / 4)
    return float(np.abs(scores[real]).max()) if real.any() else 1.0


def assert_same_topk(fast, ref, *, rtol=SCORE_RTOL, ids_int32=True):
    """Same ids (exactly, order included), same score dtype, scores within rtol."""
    fast_ids, fast_scores = fast
    ref_ids, ref_scores = ref
    fast_ids, fast_scores = np.asarray(fast_ids), np.asarray(fast_scores)
    assert fast_ids.shape == np.shape(ref_ids), (fast_ids.shape, np.shape(ref_ids))
    assert fast_scores.shape == fast_ids.shape
    np.testing.assert_array_equal(fast_ids, ref_ids)
    if ids_int32:
        assert fast_ids.dtype == np.int32
    else:
        assert np.issubdtype(fast_ids.dtype, np.integer)
    assert fast_scores.dtype == np.asarray(ref_scores).dtype
    np.testing.assert_allclose(fast_scores, ref_scores, rtol=rtol, atol=rtol * _scale(ref_scores))


def rel_err(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    denom = float(np.linalg.norm(b))
    return float(np.linalg.norm(a - b) / denom) if denom else float(np.linalg.norm(a))


def assert_same_factors(fast, ref, rtol=SCORE_RTOL):
    fast = np.asarray(fast)
    assert fast.shape == np.shape(ref)
    assert fast.dtype == np.asarray(ref).dtype
    assert rel_err(fast, ref) <= rtol, rel_err(fast, ref)


# --------------------------------------------------------------------------------------
# recommend
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("filter_liked", [True, False])
@pytest.mark.parametrize("N", [1, 10, N_ITEMS])
def test_recommend_scalar(pair, filter_liked, N):
    implicit_model, fast = pair
    for u in range(N_USERS):
        row = USER_ITEMS[u]
        ref = imp(implicit_model.recommend, u, row, N=N, filter_already_liked_items=filter_liked)
        got = fast.recommend(u, row, N=N, filter_already_liked_items=filter_liked)
        assert got[0].ndim == 1
        assert_same_topk(got, ref)


def test_recommend_without_user_items_when_not_filtering(pair):
    implicit_model, fast = pair
    ref = imp(implicit_model.recommend, 3, None, N=10, filter_already_liked_items=False)
    assert_same_topk(fast.recommend(3, None, N=10, filter_already_liked_items=False), ref)
    users = np.array([4, 0, 4])
    ref = imp(implicit_model.recommend, users, None, N=10, filter_already_liked_items=False)
    assert_same_topk(fast.recommend(users, None, N=10, filter_already_liked_items=False), ref)


@pytest.mark.parametrize("filter_liked", [True, False])
@pytest.mark.parametrize(
    "userids",
    [
        pytest.param(np.arange(N_USERS), id="all"),
        pytest.param(np.array([5, 3, 3, 40, 0, EMPTY_USER, 49]), id="subset-repeats"),
        pytest.param([12], id="list-of-one"),
    ],
)
def test_recommend_batch(pair, filter_liked, userids):
    implicit_model, fast = pair
    rows = USER_ITEMS[np.asarray(userids)]
    for N in (1, 10, N_ITEMS):
        ref = imp(
            implicit_model.recommend, userids, rows, N=N, filter_already_liked_items=filter_liked
        )
        got = fast.recommend(userids, rows, N=N, filter_already_liked_items=filter_liked)
        assert got[0].shape == (len(userids), N)
        assert_same_topk(got, ref)


@pytest.mark.parametrize("filter_liked", [True, False])
def test_recommend_filter_items(pair, filter_liked):
    implicit_model, fast = pair
    # filter the items that would otherwise rank first for user 0, plus a few others
    top = fast.recommend(0, USER_ITEMS[0], N=6, filter_already_liked_items=False)[0]
    filter_items = np.unique(np.concatenate([top, [1, 2, 3, 69]]))
    for u in (0, 1, EMPTY_USER, 30):
        ref = imp(
            implicit_model.recommend,
            u,
            USER_ITEMS[u],
            N=12,
            filter_already_liked_items=filter_liked,
            filter_items=filter_items,
        )
        got = fast.recommend(
            u,
            USER_ITEMS[u],
            N=12,
            filter_already_liked_items=filter_liked,
            filter_items=filter_items,
        )
        assert_same_topk(got, ref)
        assert not np.isin(got[0], filter_items).any()
    users = np.arange(0, N_USERS, 3)
    for N in (12, N_ITEMS):
        ref = imp(
            implicit_model.recommend,
            users,
            USER_ITEMS[users],
            N=N,
            filter_already_liked_items=filter_liked,
            filter_items=list(filter_items),
        )
        got = fast.recommend(
            users,
            USER_ITEMS[users],
            N=N,
            filter_already_liked_items=filter_liked,
            filter_items=list(filter_items),
        )
        assert_same_topk(got, ref)


@pytest.mark.parametrize("filter_liked", [True, False])
@pytest.mark.parametrize("as_list", [True, False], ids=["list", "ndarray"])
def test_recommend_items(pair, filter_liked, as_list):
    implicit_model, fast = pair
    ui = without_stored_zeros(USER_ITEMS)
    rng = np.random.default_rng(11)
    items = rng.choice(N_ITEMS, size=25, replace=False)  # unsorted on purpose
    items = [int(i) for i in items] if as_list else items
    for N in (1, 5, 25, 40):  # 40 > len(items): both cap at len(items)
        for u in (0, 2, EMPTY_USER, 33):
            ref = imp(
                implicit_model.recommend,
                u,
                ui[u],
                N=N,
                filter_already_liked_items=filter_liked,
                items=items,
            )
            got = fast.recommend(
                u, ui[u], N=N, filter_already_liked_items=filter_liked, items=items
            )
            assert_same_topk(got, ref, ids_int32=False)
            assert np.isin(got[0], items).all()
        users = np.arange(N_USERS)
        ref = imp(
            implicit_model.recommend,
            users,
            ui,
            N=N,
            filter_already_liked_items=filter_liked,
            items=items,
        )
        got = fast.recommend(users, ui, N=N, filter_already_liked_items=filter_liked, items=items)
        assert_same_topk(got, ref, ids_int32=False)


@pytest.mark.parametrize("filter_liked", [True, False])
def test_recommend_recalculate_user(pair, filter_liked):
    implicit_model, fast = pair
    rng = np.random.default_rng(3)
    new_row = sp.csr_matrix(
        (rng.random(N_ITEMS) < 0.2) * rng.integers(1, 5, N_ITEMS), dtype=np.float32
    )
    kwargs = {"N": 10, "filter_already_liked_items": filter_liked, "recalculate_user": True}
    for u, row in [(0, USER_ITEMS[0]), (EMPTY_USER, USER_ITEMS[EMPTY_USER]), (5, new_row)]:
        ref = imp(implicit_model.recommend, u, row, **kwargs)
        assert_same_topk(fast.recommend(u, row, **kwargs), ref)
    users = np.array([1, 4, EMPTY_USER, 20, 20])
    rows = sp.vstack([USER_ITEMS[users[:-1]], new_row], format="csr")
    ref = imp(implicit_model.recommend, users, rows, **kwargs)
    assert_same_topk(fast.recommend(users, rows, **kwargs), ref)


@pytest.mark.parametrize("filter_liked", [True, False])
def test_recommend_n_larger_than_items_is_capped(pair, filter_liked):
    """The documented difference: fastals returns n_items results, implicit pads."""
    implicit_model, fast = pair
    N = N_ITEMS + 7
    for u in (0, EMPTY_USER, 17):
        ref_ids, ref_scores = imp(
            implicit_model.recommend, u, USER_ITEMS[u], N=N, filter_already_liked_items=filter_liked
        )
        assert len(ref_ids) == N and (ref_ids[N_ITEMS:] == 0).all()  # implicit's padding
        got = fast.recommend(u, USER_ITEMS[u], N=N, filter_already_liked_items=filter_liked)
        assert got[0].shape == (N_ITEMS,)
        assert_same_topk(got, (ref_ids[:N_ITEMS], ref_scores[:N_ITEMS]))
        assert sorted(got[0].tolist()) == list(range(N_ITEMS))
    users = np.array([3, 0, EMPTY_USER])
    ref_ids, ref_scores = imp(
        implicit_model.recommend,
        users,
        USER_ITEMS[users],
        N=N,
        filter_already_liked_items=filter_liked,
    )
    got = fast.recommend(users, USER_ITEMS[users], N=N, filter_already_liked_items=filter_liked)
    assert got[0].shape == (len(users), N_ITEMS)
    assert_same_topk(got, (ref_ids[:, :N_ITEMS], ref_scores[:, :N_ITEMS]))


# --------------------------------------------------------------------------------------
# Ties: implicit's exact order
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("filter_liked", [True, False])
def test_recommend_ties(tie_pair, filter_liked):
    implicit_model, fast = tie_pair
    ui = tie_user_items()
    n_users, n_items = ui.shape
    users = np.arange(n_users)
    for N in (1, 2, 3, 5, 8, 13, 21, 34, n_items):
        for u in users:
            ref = imp(
                implicit_model.recommend, u, ui[u], N=N, filter_already_liked_items=filter_liked
            )
            assert_same_topk(
                fast.recommend(u, ui[u], N=N, filter_already_liked_items=filter_liked), ref
            )
        ref = imp(implicit_model.recommend, users, ui, N=N, filter_already_liked_items=filter_liked)
        assert_same_topk(
            fast.recommend(users, ui, N=N, filter_already_liked_items=filter_liked), ref
        )
        filter_items = [0, 20, 31, 36, 39]  # a row, its duplicate, a zero row, copies
        ref = imp(
            implicit_model.recommend,
            users,
            ui,
            N=N,
            filter_already_liked_items=filter_liked,
            filter_items=filter_items,
        )
        got = fast.recommend(
            users, ui, N=N, filter_already_liked_items=filter_liked, filter_items=filter_items
        )
        assert_same_topk(got, ref)


@pytest.mark.parametrize("filter_liked", [True, False])
def test_recommend_ties_items(tie_pair, filter_liked):
    implicit_model, fast = tie_pair
    ui = tie_user_items()
    users = np.arange(ui.shape[0])
    items = np.array([39, 3, 23, 0, 30, 20, 31, 36, 5, 25, 10, 12])  # unsorted, tied rows
    for N in (1, 3, 4, 7, len(items)):
        ref = imp(
            implicit_model.recommend,
            users,
            ui,
            N=N,
            filter_already_liked_items=filter_liked,
            items=items,
        )
        got = fast.recommend(users, ui, N=N, filter_already_liked_items=filter_liked, items=items)
        assert_same_topk(got, ref, ids_int32=False)
        for u in users:
            ref = imp(
                implicit_model.recommend,
                u,
                ui[u],
                N=N,
                filter_already_liked_items=filter_liked,
                items=items,
            )
            got = fast.recommend(
                u, ui[u], N=N, filter_already_liked_items=filter_liked, items=items
            )
            assert_same_topk(got, ref, ids_int32=False)


def test_similar_ties(tie_pair):
    implicit_model, fast = tie_pair
    n_users, n_items = fast.user_factors.shape[0], fast.item_factors.shape[0]
    for N in (1, 2, 5, 11, n_items):
        for i in range(n_items):
            assert_same_topk(fast.similar_items(i, N=N), imp(implicit_model.similar_items, i, N=N))
        items = np.arange(n_items)
        assert_same_topk(
            fast.similar_items(items, N=N), imp(implicit_model.similar_items, items, N=N)
        )
    for N in (1, 3, n_users):
        for u in range(n_users):
            assert_same_topk(fast.similar_users(u, N=N), imp(implicit_model.similar_users, u, N=N))
    # candidate subsets given sorted (implicit does not sort them in similar_*: with unsorted
    # candidates its tie order follows their positions)
    items = [0, 3, 10, 20, 23, 30, 31, 36, 39]
    for N in (1, 3, 6):
        for i in (0, 3, 30, 36):
            ref = imp(implicit_model.similar_items, i, N=N, items=items)
            assert_same_topk(fast.similar_items(i, N=N, items=items), ref, ids_int32=False)


# --------------------------------------------------------------------------------------
# similar_items / similar_users
# --------------------------------------------------------------------------------------
def test_similar_items(pair):
    implicit_model, fast = pair
    for N in (1, 10, N_ITEMS):
        for i in range(N_ITEMS):
            got = fast.similar_items(i, N=N)
            assert_same_topk(got, imp(implicit_model.similar_items, i, N=N))
            if N > 1 and fast.item_norms[i] > 1e-6:
                assert got[0][0] == i  # the query itself comes first (cosine 1)
        itemids = np.array([0, 5, 5, 69, 33])
        assert_same_topk(
            fast.similar_items(itemids, N=N), imp(implicit_model.similar_items, itemids, N=N)
        )


def test_similar_items_batch_equals_scalar(pair):
    _, fast = pair
    itemids = np.arange(N_ITEMS)
    ids, scores = fast.similar_items(itemids, N=10)
    for i in itemids:
        sids, sscores = fast.similar_items(int(i), N=10)
        np.testing.assert_array_equal(ids[i], sids)
        np.testing.assert_allclose(scores[i], sscores, rtol=SCORE_RTOL, atol=SCORE_RTOL)


def test_similar_items_filter_and_items(pair):
    implicit_model, fast = pair
    filter_items = [1, 4, 9, 16, 25, 36, 49, 64]
    for i in (0, 4, 30):
        ref = imp(implicit_model.similar_items, i, N=10, filter_items=filter_items)
        got = fast.similar_items(i, N=10, filter_items=filter_items)
        assert_same_topk(got, ref)
        assert not np.isin(got[0], filter_items).any()
    itemids = np.arange(0, N_ITEMS, 4)
    ref = imp(implicit_model.similar_items, itemids, N=10, filter_items=filter_items)
    assert_same_topk(fast.similar_items(itemids, N=10, filter_items=filter_items), ref)

    items = np.random.default_rng(2).choice(N_ITEMS, size=20, replace=False)  # unsorted
    for N in (1, 5, 20):
        for i in (0, int(items[3]), 50):
            ref = imp(implicit_model.similar_items, i, N=N, items=items)
            got = fast.similar_items(i, N=N, items=items)
            assert_same_topk(got, ref, ids_int32=False)
            assert np.isin(got[0], items).all()
        ref = imp(implicit_model.similar_items, itemids, N=N, items=items)
        assert_same_topk(fast.similar_items(itemids, N=N, items=items), ref, ids_int32=False)
    with pytest.raises(ValueError):
        fast.similar_items(0, N=5, items=items, filter_items=filter_items)


def test_similar_items_recalculate_item(pair):
    implicit_model, fast = pair
    item_users = USER_ITEMS.T.tocsr()
    for i in (0, 3, 40):
        kwargs = {"N": 10, "recalculate_item": True, "item_users": item_users[i]}
        assert_same_topk(
            fast.similar_items(i, **kwargs), imp(implicit_model.similar_items, i, **kwargs)
        )
    itemids = np.array([2, 8, 8, 60])
    kwargs = {"N": 10, "recalculate_item": True, "item_users": item_users[itemids]}
    ref = imp(implicit_model.similar_items, itemids, **kwargs)
    assert_same_topk(fast.similar_items(itemids, **kwargs), ref)


def test_similar_n_larger_than_candidates_is_capped(pair):
    """As recommend: fastals returns as many results as candidates, implicit pads."""
    implicit_model, fast = pair
    for call, query, count in (("similar_items", 3, N_ITEMS), ("similar_users", 4, N_USERS)):
        ref_ids, ref_scores = imp(getattr(implicit_model, call), query, N=count + 5)
        got = getattr(fast, call)(query, N=count + 5)
        assert got[0].shape == (count,)
        assert_same_topk(got, (ref_ids[:count], ref_scores[:count]))
        ref_ids, ref_scores = imp(getattr(implicit_model, call), [query, 0], N=count + 5)
        got = getattr(fast, call)([query, 0], N=count + 5)
        assert got[0].shape == (2, count)
        assert_same_topk(got, (ref_ids[:, :count], ref_scores[:, :count]))


def test_similar_filtered_tail(pair):
    """Filtered candidates ranked after the others: implicit's scores (-finfo.max / norm,
    -inf when that overflows) and order."""
    implicit_model, fast = pair
    filter_items = list(range(0, N_ITEMS, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the overflow to -inf
        for i in (0, 1, 5):
            ref = imp(implicit_model.similar_items, i, N=N_ITEMS, filter_items=filter_items)
            assert_same_topk(fast.similar_items(i, N=N_ITEMS, filter_items=filter_items), ref)
        filter_users = list(range(0, N_USERS, 4))
        ref = imp(implicit_model.similar_users, [2, 3], N=N_USERS, filter_users=filter_users)
        got = fast.similar_users([2, 3], N=N_USERS, filter_users=filter_users)
        assert_same_topk(got, ref)


def test_similar_users(pair):
    implicit_model, fast = pair
    for N in (1, 10, N_USERS):
        for u in range(N_USERS):
            got = fast.similar_users(u, N=N)
            assert_same_topk(got, imp(implicit_model.similar_users, u, N=N))
        userids = np.array([0, 9, 9, 49, EMPTY_USER])
        ref = imp(implicit_model.similar_users, userids, N=N)
        got = fast.similar_users(userids, N=N)
        assert_same_topk(got, ref)
        for row, u in enumerate(userids):
            single = fast.similar_users(int(u), N=N)
            np.testing.assert_array_equal(got[0][row], single[0])


def test_similar_users_filter_and_users(pair):
    implicit_model, fast = pair
    filter_users = [0, 2, 3, 5, 8, 13, 21, 34]
    for u in (0, 1, 30):
        ref = imp(implicit_model.similar_users, u, N=10, filter_users=filter_users)
        got = fast.similar_users(u, N=10, filter_users=filter_users)
        assert_same_topk(got, ref)
        assert not np.isin(got[0], filter_users).any()
    userids = np.arange(0, N_USERS, 5)
    ref = imp(implicit_model.similar_users, userids, N=10, filter_users=filter_users)
    assert_same_topk(fast.similar_users(userids, N=10, filter_users=filter_users), ref)

    users = np.random.default_rng(4).choice(N_USERS, size=15, replace=False)  # unsorted
    for N in (1, 6, 15):
        for u in (0, int(users[0]), 44):
            ref = imp(implicit_model.similar_users, u, N=N, users=users)
            got = fast.similar_users(u, N=N, users=users)
            assert_same_topk(got, ref, ids_int32=False)
            assert np.isin(got[0], users).all()
        ref = imp(implicit_model.similar_users, userids, N=N, users=users)
        assert_same_topk(fast.similar_users(userids, N=N, users=users), ref, ids_int32=False)
    with pytest.raises(ValueError):
        fast.similar_users(0, N=5, users=users, filter_users=filter_users)


# --------------------------------------------------------------------------------------
# recalculate_* / partial_fit_*
# --------------------------------------------------------------------------------------
def test_recalculate_user(pair):
    implicit_model, fast = pair
    for u in (0, 1, EMPTY_USER, 49):
        row = USER_ITEMS[u]
        got = fast.recalculate_user(u, row)
        assert got.shape == (K,)
        assert_same_factors(got, imp(implicit_model.recalculate_user, u, row))
    users = np.arange(N_USERS)
    got = fast.recalculate_user(users, USER_ITEMS)
    assert got.shape == (N_USERS, K)
    assert_same_factors(got, imp(implicit_model.recalculate_user, users, USER_ITEMS))
    assert not got[EMPTY_USER].any()


def test_recalculate_item(pair):
    implicit_model, fast = pair
    item_users = USER_ITEMS.T.tocsr()
    for i in (0, 5, 69):
        got = fast.recalculate_item(i, item_users[i])
        assert got.shape == (K,)
        assert_same_factors(got, imp(implicit_model.recalculate_item, i, item_users[i]))
    items = np.arange(N_ITEMS)
    got = fast.recalculate_item(items, item_users)
    assert got.shape == (N_ITEMS, K)
    assert_same_factors(got, imp(implicit_model.recalculate_item, items, item_users))


def test_partial_fit_users_grows_and_invalidates_caches(pair):
    implicit_model, fast = pair
    # fill the caches partial_fit must invalidate
    for model in (implicit_model, fast):
        imp(lambda m: (m.user_norms, m.XtX), model)
    rng = np.random.default_rng(8)
    new_row = sp.csr_matrix(
        (rng.random(N_ITEMS) < 0.3) * rng.integers(1, 4, N_ITEMS), dtype=np.float32
    )
    userids = [2, N_USERS + 2, EMPTY_USER]
    rows = sp.vstack([USER_ITEMS[5], new_row, USER_ITEMS[0]], format="csr")
    imp(implicit_model.partial_fit_users, userids, rows)
    fast.partial_fit_users(userids, rows)
    assert fast.user_factors.shape == (N_USERS + 3, K)
    assert not fast.user_factors[N_USERS : N_USERS + 2].any()  # grown with zero rows
    assert_same_factors(fast.user_factors, implicit_model.user_factors)

    ui = sp.vstack([USER_ITEMS, USER_ITEMS[:2], new_row], format="csr")
    users = np.arange(N_USERS + 3)
    ref = imp(implicit_model.recommend, users, ui, N=10)
    assert_same_topk(fast.recommend(users, ui, N=10), ref)
    for u in (2, N_USERS, N_USERS + 2):
        assert_same_topk(fast.similar_users(u, N=10), imp(implicit_model.similar_users, u, N=10))
    assert_same_factors(fast.XtX, implicit_model.XtX)
    item_users = USER_ITEMS.T.tocsr()  # one column per user: pad to the grown user count
    item_users = sp.csr_matrix(
        (item_users.data, item_users.indices, item_users.indptr), shape=(N_ITEMS, N_USERS + 3)
    )
    ref = imp(implicit_model.recalculate_item, [3, 4], item_users[[3, 4]])
    assert_same_factors(fast.recalculate_item([3, 4], item_users[[3, 4]]), ref)

    # a second update of existing ids only (no growth)
    imp(implicit_model.partial_fit_users, np.array([0, 1]), USER_ITEMS[[3, 4]])
    fast.partial_fit_users(np.array([0, 1]), USER_ITEMS[[3, 4]])
    assert fast.user_factors.shape == (N_USERS + 3, K)
    assert_same_factors(fast.user_factors, implicit_model.user_factors)


def test_partial_fit_items_grows_and_invalidates_caches(pair):
    implicit_model, fast = pair
    for model in (implicit_model, fast):
        imp(lambda m: (m.item_norms, m.YtY), model)
    item_users = USER_ITEMS.T.tocsr()
    rng = np.random.default_rng(9)
    new_row = sp.csr_matrix(
        (rng.random(N_USERS) < 0.3) * rng.integers(1, 4, N_USERS), dtype=np.float32
    )
    itemids = np.array([1, N_ITEMS + 1, 4])
    rows = sp.vstack([item_users[10], new_row, item_users[4]], format="csr")
    imp(implicit_model.partial_fit_items, itemids, rows)
    fast.partial_fit_items(itemids, rows)
    n_items = N_ITEMS + 2
    assert fast.item_factors.shape == (n_items, K)
    assert not fast.item_factors[N_ITEMS].any()
    assert_same_factors(fast.item_factors, implicit_model.item_factors)

    ui = sp.csr_matrix(
        (USER_ITEMS.data, USER_ITEMS.indices, USER_ITEMS.indptr), shape=(N_USERS, n_items)
    )
    users = np.arange(N_USERS)
    for N in (10, n_items):
        ref = imp(implicit_model.recommend, users, ui, N=N)
        assert_same_topk(fast.recommend(users, ui, N=N), ref)
    for i in (1, N_ITEMS, N_ITEMS + 1):
        assert_same_topk(fast.similar_items(i, N=10), imp(implicit_model.similar_items, i, N=10))
    assert_same_factors(fast.YtY, implicit_model.YtY)
    ref = imp(implicit_model.recalculate_user, [0, 6], ui[[0, 6]])
    assert_same_factors(fast.recalculate_user([0, 6], ui[[0, 6]]), ref)


# --------------------------------------------------------------------------------------
# explain
# --------------------------------------------------------------------------------------
def assert_same_explanation(got, ref, rtol=SCORE_RTOL):
    total, contributions, _ = got
    ref_total, ref_contributions, _ = ref
    scale = max(abs(float(ref_total)), max((abs(s) for _, s in ref_contributions), default=0.0))
    assert abs(float(total) - float(ref_total)) <= rtol * max(scale, 1e-30)
    assert [int(i) for i, _ in contributions] == [int(i) for i, _ in ref_contributions]
    np.testing.assert_allclose(
        [float(s) for _, s in contributions],
        [float(s) for _, s in ref_contributions],
        rtol=rtol,
        atol=rtol * scale,
    )


@pytest.mark.parametrize("N", [1, 5, 100])
def test_explain(pair, N):
    implicit_model, fast = pair
    for u, i in [(0, 3), (1, 10), (12, 0), (EMPTY_USER, 5), (30, 69)]:
        ref = imp(implicit_model.explain, u, USER_ITEMS, i, N=N)
        got = fast.explain(u, USER_ITEMS, i, N=N)
        assert_same_explanation(got, ref)
        assert len(got[1]) == len(ref[1])


def test_explain_user_weights_round_trip(pair):
    """user_weights is compared by use: passing fastals' own back gives the same answers."""
    implicit_model, fast = pair
    for u in (0, 1, 30):
        _, _, weights = fast.explain(u, USER_ITEMS, 3, N=10)
        _, _, ref_weights = imp(implicit_model.explain, u, USER_ITEMS, 3, N=10)
        for i in (3, 17, 50):
            ref = imp(implicit_model.explain, u, USER_ITEMS, i, user_weights=ref_weights, N=10)
            assert_same_explanation(fast.explain(u, USER_ITEMS, i, user_weights=weights, N=10), ref)
            assert_same_explanation(fast.explain(u, USER_ITEMS, i, N=10), ref)
