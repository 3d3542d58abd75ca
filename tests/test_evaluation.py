"""fastals.evaluation and fastals.baselines: metric kernels against a plain-Python oracle and
against implicit.evaluation 0.7.3, reproducible splits, and the baselines' serving contract."""

import warnings

import implicit.evaluation as ie
import numpy as np
import pytest
import scipy.sparse as sp
import threadpoolctl
from hypothesis import given, settings
from hypothesis import strategies as st
from implicit.als import AlternatingLeastSquares as ImplicitALS
from tolerances import METRIC_RTOL

import fastals.evaluation as fe
from fastals import AlternatingLeastSquares
from fastals.baselines import PopularityRecommender, RandomRecommender
from fastals.data import planted_low_rank
from fastals.reference.metrics import user_statistics

pytestmark = pytest.mark.filterwarnings("ignore:OpenBLAS is configured:RuntimeWarning")

# Metric sums run in a different order than implicit's (per-user arrays summed outside the
# kernel), so equal inputs agree to rounding of a few ulps.
LOWEST = -np.finfo(np.float32).max


# --------------------------------------------------------------------------- helpers


oracle = user_statistics  # plain-Python per-user statistics, both definitions


def truth_matrix(truth_rows, n_items):
    rows = [u for u, t in enumerate(truth_rows) for _ in t]
    cols = [i for t in truth_rows for i in t]
    return sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(truth_rows), n_items)
    )


class FixedLists:
    """A 'model' whose recommend returns given lists (implicit's recommend signature)."""

    def __init__(self, ids):
        self.ids = np.asarray(ids, dtype=np.int32)  # implicit.evaluation requires int32
        self.calls = []

    def recommend(self, userid, user_items, N=10, filter_already_liked_items=True, **kw):
        self.calls.append((np.array(userid), user_items.shape[0], N))
        return self.ids[userid][:, :N], np.zeros((len(userid), N), np.float32)


def assert_metrics_close(a, b, rtol=METRIC_RTOL):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=rtol, abs=1e-15, nan_ok=True), key


@st.composite
def lists_and_truth(draw, allow_empty_slots=True):
    n_items = draw(st.integers(1, 25))
    n_users = draw(st.integers(1, 8))
    K = draw(st.integers(1, 12))
    width = draw(st.integers(0, K + 2))
    recs, truth = [], []
    for _ in range(n_users):
        if allow_empty_slots:
            row = draw(st.lists(st.integers(-1, n_items - 1), min_size=width, max_size=width))
        else:
            row = draw(st.permutations(range(n_items)))[: min(K, n_items)]
        recs.append(row)
        truth.append(sorted(draw(st.sets(st.integers(0, n_items - 1), max_size=n_items))))
    if allow_empty_slots:
        recs = np.array(recs, dtype=np.int64).reshape(n_users, width)
    else:
        recs = np.array(recs, dtype=np.int64)
    return recs, truth, K, n_items


# --------------------------------------------------------------------------- kernels vs oracle


@settings(max_examples=150, deadline=None)
@given(lists_and_truth())
def test_per_user_metrics_match_oracle(case):
    recs, truth, K, n_items = case
    truth_csr = truth_matrix(truth, n_items)
    expected = oracle(recs, truth, K, n_items)
    got = fe.per_user_metrics(recs, truth_csr, K=K, per_user=True, num_threads=2)
    for u, exp in enumerate(expected):
        assert got["n_truth"][u] == len(truth[u])
        if exp is None:
            assert got["hits"][u] == 0
            for key in ("precision", "recall", "ndcg", "map"):
                assert np.isnan(got[f"{key}@{K}"][u])
            continue
        assert got["hits"][u] == exp["hits"]
        for key in ("precision", "recall", "ndcg", "map"):
            assert got[f"{key}@{K}"][u] == pytest.approx(exp[key], rel=1e-12, abs=1e-15)
    evaluated = [e for e in expected if e is not None]
    if not evaluated:
        with pytest.raises(ValueError, match="no user to evaluate"):
            fe.per_user_metrics(recs, truth_csr, K=K)
        return
    means = fe.per_user_metrics(recs, truth_csr, K=K)
    for key in ("precision", "recall", "ndcg", "map"):
        want = sum(e[key] for e in evaluated) / len(evaluated)
        assert means[f"{key}@{K}"] == pytest.approx(want, rel=1e-12, abs=1e-15)


@settings(max_examples=150, deadline=None)
@given(lists_and_truth())
def test_implicit_definitions_match_oracle(case):
    """ranking_metrics_at_k on fixed lists (with empty slots) against the oracle."""
    recs, truth, K, n_items = case
    test = truth_matrix(truth, n_items)
    # only the first n_items positions can hold distinct items: the rest are ignored
    visible = recs[:, : min(K, n_items)]
    expected = [e for e in oracle(visible, truth, K, n_items) if e is not None]
    if not expected:
        with pytest.raises(ValueError, match="no user to evaluate"):
            fe.ranking_metrics_at_k(FixedLists(recs), test, test, K=K, show_progress=False)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # users holding every item: AUC NaN
        got = fe.ranking_metrics_at_k(FixedLists(recs), test, test, K=K, show_progress=False)
    n = len(expected)
    want = {
        "precision": sum(e["hits"] for e in expected) / sum(e["capped"] for e in expected),
        "map": sum(e["map"] for e in expected) / n,
        "ndcg": sum(e["ndcg"] for e in expected) / n,
        "auc": sum(e["auc"] for e in expected) / n,
    }
    assert_metrics_close(got, want, rtol=1e-12)


@settings(max_examples=100, deadline=None)
@given(lists_and_truth(allow_empty_slots=False))
def test_fixed_lists_match_implicit(case):
    """Full lists of distinct ids, K <= n_items: implicit's own function gives the same."""
    recs, truth, K, n_items = case
    K = min(K, n_items)
    test = truth_matrix(truth, n_items)
    if test.nnz == 0 or (np.diff(test.indptr) == n_items).any():
        return  # implicit raises ZeroDivisionError on both
    ours = fe.ranking_metrics_at_k(FixedLists(recs), test, test, K=K, show_progress=False)
    theirs = ie.ranking_metrics_at_k(FixedLists(recs), test, test, K=K, show_progress=False)
    assert_metrics_close(ours, theirs)


def test_metrics_do_not_depend_on_thread_count():
    rng = np.random.default_rng(0)
    recs = rng.integers(-1, 500, size=(3000, 20))
    truth = sp.random(3000, 500, density=0.02, random_state=1, format="csr")
    a = fe.per_user_metrics(recs, truth, K=20, per_user=True, num_threads=1)
    b = fe.per_user_metrics(recs, truth, K=20, per_user=True, num_threads=2)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_per_user_metrics_short_lists_and_truncation():
    truth = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], np.float32))
    recs = np.array([[1, 3, 2], [0, -1, -1], [2, 1, 0]])
    out = fe.per_user_metrics(recs, truth, K=5, per_user=True)
    np.testing.assert_array_equal(out["hits"], [2, 1, 0])
    np.testing.assert_allclose(out["precision@5"][:2], [2 / 5, 1 / 5])
    np.testing.assert_allclose(out["recall@5"][:2], [1.0, 1.0])
    assert np.isnan(out["recall@5"][2])
    # K=1 uses only the first column
    out1 = fe.per_user_metrics(recs, truth, K=1)
    assert out1 == {"precision@1": 1.0, "recall@1": 0.75, "ndcg@1": 1.0, "map@1": 1.0}


# --------------------------------------------------------------------------- vs implicit


@pytest.fixture(scope="module")
def trained():
    """An implicit model on a 200 x 300 planted matrix and a fastals model with its factors."""
    X, _, _ = planted_low_rank(200, 300, rank=4, density=0.08, seed=4)
    X.data[:] = np.random.default_rng(0).integers(1, 5, X.nnz)
    train, test = ie.train_test_split(X, 0.8, random_state=7)
    model = ImplicitALS(factors=16, iterations=8, random_state=0, num_threads=1)
    with threadpoolctl.threadpool_limits(1, "blas"):
        model.fit(train, show_progress=False)
    twin = AlternatingLeastSquares(factors=16, random_state=0)
    twin.user_factors = model.user_factors.copy()
    twin.item_factors = model.item_factors.copy()
    return model, twin, train, test


@pytest.mark.parametrize("K", [1, 5, 10, 50])
def test_ranking_metrics_equal_implicit(trained, K):
    model, twin, train, test = trained
    theirs = ie.ranking_metrics_at_k(model, train, test, K=K, show_progress=False)
    for m in (model, twin):
        assert_metrics_close(
            fe.ranking_metrics_at_k(m, train, test, K=K, show_progress=False), theirs
        )
    assert_metrics_close(
        ie.ranking_metrics_at_k(twin, train, test, K=K, show_progress=False), theirs
    )
    assert 0 < theirs["precision"] <= 1 and 0.5 < theirs["auc"] < 1


def test_ranking_metrics_calls_recommend_like_implicit(trained):
    _, twin, train, test = trained
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    spy = FixedLists(twin.recommend(np.arange(200), train, N=10)[0])
    fe.ranking_metrics_at_k(spy, train, test, K=10, show_progress=False)
    ours = spy.calls
    spy.calls = []
    ie.ranking_metrics_at_k(spy, train, test, K=10, show_progress=False)
    assert len(ours) == len(spy.calls) == 1
    (u1, rows1, n1), (u2, rows2, n2) = ours[0], spy.calls[0]
    np.testing.assert_array_equal(u1, users)
    np.testing.assert_array_equal(u1, u2)
    assert u1.dtype == u2.dtype == np.int32 and rows1 == rows2 and n1 == n2 == 10


def test_ranking_metrics_batches_of_1000():
    n_users = 2500
    test = sp.csr_matrix(
        (np.ones(n_users, np.float32), (np.arange(n_users), np.arange(n_users) % 7)),
        shape=(n_users, 7),
    )
    spy = FixedLists(np.tile(np.arange(7), (n_users, 1)))
    fe.ranking_metrics_at_k(spy, test, test, K=3, show_progress=False)
    assert [len(c[0]) for c in spy.calls] == [1000, 1000, 500]


def test_ranking_metrics_baselines_equal_implicit(trained):
    _, _, train, test = trained
    for model in (PopularityRecommender().fit(train), RandomRecommender(3).fit(train)):
        theirs = ie.ranking_metrics_at_k(model, train, test, K=10, show_progress=False)
        ours = fe.ranking_metrics_at_k(model, train, test, K=10, show_progress=False)
        assert_metrics_close(ours, theirs)


def test_ranking_metrics_k_beyond_items_and_threads(trained):
    """K > n_items scores the n_items real positions (implicit counts its id-0 padding)."""
    model, twin, train, test = trained
    n_items = test.shape[1]
    capped = fe.ranking_metrics_at_k(model, train, test, K=n_items, show_progress=False)
    for m in (model, twin):
        got = fe.ranking_metrics_at_k(m, train, test, K=n_items + 20, show_progress=False)
        assert_metrics_close(got, capped)
    one = fe.ranking_metrics_at_k(twin, train, test, K=10, show_progress=False, num_threads=1)
    two = fe.ranking_metrics_at_k(twin, train, test, K=10, show_progress=False, num_threads=2)
    assert one == two


def test_seed_ndcg_and_map_equal_implicit_definitions(trained):
    _, twin, train, test = trained
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    ids, _ = twin.recommend(users, train[users], N=10)
    seed = fe.per_user_metrics(ids, test[users], K=10)
    imp = fe.ranking_metrics_at_k(twin, train, test, K=10, show_progress=False)
    assert seed["ndcg@10"] == pytest.approx(imp["ndcg"], rel=1e-12)
    assert seed["map@10"] == pytest.approx(imp["map"], rel=1e-12)


def test_auc_nan_when_a_user_holds_every_item():
    test = sp.csr_matrix(np.array([[1, 1, 1], [1, 0, 0]], np.float32))
    model = FixedLists(np.array([[0, 1, 2], [0, 1, 2]]))
    with pytest.warns(RuntimeWarning, match="AUC"):
        got = fe.ranking_metrics_at_k(model, test, test, K=2, show_progress=False)
    assert np.isnan(got["auc"]) and got["precision"] == 1.0


# --------------------------------------------------------------------------- splits


def ratings_matrix(seed=0, shape=(60, 40), density=0.2, signed=False):
    X = sp.random(*shape, density=density, random_state=seed, format="csr", dtype=np.float32)
    rng = np.random.default_rng(seed)
    X.data[:] = rng.integers(1, 9, X.nnz)
    if signed:
        X.data[rng.random(X.nnz) < 0.2] *= -1
        X.data[rng.random(X.nnz) < 0.1] = 0  # stored zeros
    return X


def snapshot(X):
    return X.data.copy(), X.indices.copy(), X.indptr.copy()


def assert_unchanged(X, snap):
    for a, b in zip((X.data, X.indices, X.indptr), snap, strict=True):
        np.testing.assert_array_equal(a, b)


def assert_same_csr(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    for x, y in ((a.indptr, b.indptr), (a.indices, b.indices), (a.data, b.data)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 123])
def test_train_test_split_equals_implicit(seed, signed):
    X = ratings_matrix(seed, signed=signed)
    snap = snapshot(X)
    train, test = fe.train_test_split(X, 0.7, random_state=seed)
    assert_unchanged(X, snap)
    ref_train, ref_test = ie.train_test_split(X, 0.7, random_state=seed)
    assert_same_csr(train, ref_train)
    assert_same_csr(test, ref_test)
    assert isinstance(train, sp.csr_matrix) and isinstance(test, sp.csr_matrix)
    # COO input (implicit's own order), and a Generator
    coo = X.tocoo()
    for got, ref in zip(
        fe.train_test_split(coo, 0.5, np.random.default_rng(seed)),
        ie.train_test_split(coo, 0.5, np.random.default_rng(seed)),
        strict=True,
    ):
        assert_same_csr(got, ref)


def test_train_test_split_disjoint_union_reproducible():
    X = ratings_matrix(3)
    train, test = fe.train_test_split(X, 0.8, random_state=5)
    assert train.multiply(test).nnz == 0
    assert (train + test != X).nnz == 0
    assert 0.7 < train.nnz / X.nnz < 0.9
    again = fe.train_test_split(X, 0.8, random_state=5)
    assert_same_csr(train, again[0])
    assert (fe.train_test_split(X, 0.8, random_state=6)[0] != train).nnz > 0
    rs = fe.train_test_split(X, 0.8, random_state=np.random.RandomState(1))  # implicit crashes
    assert rs[0].nnz + rs[1].nnz == X.nnz


@pytest.mark.parametrize("K", [1, 3])
def test_leave_k_out_split(K):
    X = ratings_matrix(2, shape=(80, 30), density=0.12)
    snap = snapshot(X)
    train, test = fe.leave_k_out_split(X, K=K, random_state=11)
    assert_unchanged(X, snap)
    assert train.shape == test.shape == X.shape and train.dtype == test.dtype == X.dtype
    assert train.multiply(test).nnz == 0
    assert (train + test != X).nnz == 0  # values kept (implicit multiplies some: issue #639)
    counts = np.diff(X.indptr)
    np.testing.assert_array_equal(np.diff(test.indptr), np.where(counts > K + 1, K, 0))
    assert_same_csr(test, fe.leave_k_out_split(X, K=K, random_state=11)[1])
    assert (fe.leave_k_out_split(X, K=K, random_state=12)[1] != test).nnz > 0


def test_leave_k_out_train_only_users_match_implicit():
    X = ratings_matrix(5, shape=(120, 40), density=0.15)
    for seed in (0, 1, 2):
        _, test = fe.leave_k_out_split(X, K=2, train_only_size=0.3, random_state=seed)
        _, ref = ie.leave_k_out_split(X, K=2, train_only_size=0.3, random_state=seed)
        np.testing.assert_array_equal(np.diff(test.indptr) > 0, np.diff(ref.indptr) > 0)
        assert (np.diff(test.indptr) > 0).sum() < (np.diff(X.indptr) > 3).sum()


def test_leave_k_out_is_uniform_within_a_user():
    X = sp.csr_matrix(np.ones((1, 5), np.float32))
    picks = np.zeros(5)
    for seed in range(400):
        picks += fe.leave_k_out_split(X, K=1, random_state=seed)[1].toarray()[0]
    assert picks.min() > 50  # each of the 5 entries about 80 times


def test_split_errors():
    X = ratings_matrix(0)
    with pytest.raises(ValueError, match="K must be >= 1"):
        fe.leave_k_out_split(X, K=0)
    with pytest.raises(ValueError, match="train_only_size"):
        fe.leave_k_out_split(X, train_only_size=1.0)
    with pytest.raises(ValueError, match="train_percentage"):
        fe.train_test_split(X, 1.5)
    with pytest.raises(TypeError, match="scipy.sparse"):
        fe.train_test_split([[1, 0]])


# --------------------------------------------------------------------------- metric errors


def test_metric_input_errors(trained):
    model, _, train, test = trained
    with pytest.raises(ValueError, match="K must be >= 1"):
        fe.ranking_metrics_at_k(model, train, test, K=0)
    with pytest.raises(ValueError, match="shape"):
        fe.ranking_metrics_at_k(model, train[:100], test, K=5)
    with pytest.raises(ValueError, match="no user to evaluate"):
        fe.ranking_metrics_at_k(model, train, sp.csr_matrix(test.shape), K=5)
    with pytest.raises(TypeError, match="recommend"):
        fe.ranking_metrics_at_k(object(), train, test)
    recs = np.zeros((200, 10), np.int64)
    with pytest.raises(ValueError, match="K must be >= 1"):
        fe.per_user_metrics(recs, test, K=0)
    with pytest.raises(ValueError, match="rows but truth has"):
        fe.per_user_metrics(recs[:50], test)
    with pytest.raises(ValueError, match="2-D"):
        fe.per_user_metrics(recs[0], test)
    with pytest.raises(ValueError, match="columns"):
        fe.per_user_metrics(recs + 300, test)
    with pytest.raises(TypeError, match="integer"):
        fe.per_user_metrics(recs.astype(float), test)


# --------------------------------------------------------------------------- baselines


@pytest.fixture(scope="module")
def small():
    return ratings_matrix(9, shape=(50, 30), density=0.25)


@pytest.mark.parametrize("make", [PopularityRecommender, lambda: RandomRecommender(0)])
def test_baseline_output_contract(small, make):
    model = make().fit(small)
    ids, scores = model.recommend(3, small[3], N=5)
    assert ids.shape == scores.shape == (5,)
    assert ids.dtype == np.int32 and scores.dtype == np.float32
    users = np.array([0, 3, 7])
    ids, scores = model.recommend(users, small[users], N=30)
    assert ids.shape == scores.shape == (3, 30)
    for row, (i, s) in enumerate(zip(ids, scores, strict=True)):
        liked = set(small[users[row]].indices)
        assert sorted(i) == list(range(30))
        assert np.all(np.diff(s) <= 0)
        tail = i[len(i) - len(liked) :]
        assert set(tail) == liked and np.all(s[len(i) - len(liked) :] == LOWEST)
    # not filtered: no -finfo.max; filter_items and items=
    ids, scores = model.recommend(users, None, N=30, filter_already_liked_items=False)
    assert np.all(scores > LOWEST)
    ids, _ = model.recommend(users, small[users], N=5, filter_items=[1, 2, 3])
    assert not np.isin(ids, [1, 2, 3]).any()
    subset = np.array([20, 4, 9, 15])
    ids, _ = model.recommend(3, None, N=10, items=subset, filter_already_liked_items=False)
    assert sorted(ids) == sorted(subset)
    with pytest.raises(ValueError, match="Can't set both"):
        model.recommend(3, None, items=subset, filter_items=[1], filter_already_liked_items=False)
    with pytest.raises(ValueError, match="1 row for every user"):
        model.recommend(users, small, N=5)
    with pytest.raises(IndexError, match="out of range"):
        model.recommend(50, None, filter_already_liked_items=False)
    new_user = sp.csr_matrix((1, 30), dtype=np.float32)
    ids, _ = model.recommend(80, new_user, N=5, recalculate_user=True)
    assert ids.shape == (5,)


def test_popularity_order(small):
    model = PopularityRecommender().fit(small)
    counts = np.diff(small.tocsc().indptr)
    np.testing.assert_array_equal(model.item_popularity, counts)
    ids, scores = model.recommend(np.arange(50), None, N=10, filter_already_liked_items=False)
    assert (ids == ids[0]).all()
    np.testing.assert_array_equal(scores[0], counts[ids[0]])
    assert counts[np.setdiff1d(np.arange(30), ids[0])].max() <= scores[0].min()
    # filtered: the most popular items the user has not seen
    ids, scores = model.recommend(5, small[5], N=4)
    unseen = np.setdiff1d(np.arange(30), small[5].indices)
    assert set(ids) <= set(unseen)
    assert counts[np.setdiff1d(unseen, ids)].max() <= scores.min()
    # same serving path as ALS: an ALS model with the same factors gives the same output
    als = AlternatingLeastSquares(factors=1)
    als.user_factors, als.item_factors = model.user_factors, model.item_factors
    for a, b in zip(
        model.recommend(np.arange(50), small, N=8),
        als.recommend(np.arange(50), small, N=8),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    summed = PopularityRecommender(popularity="sum").fit(small)
    np.testing.assert_allclose(summed.item_popularity, np.asarray(small.sum(axis=0)).ravel())


def test_random_reproducible(small):
    users = np.arange(50)
    a = RandomRecommender(random_state=42).fit(small).recommend(users, small, N=10)
    b = RandomRecommender(random_state=42).fit(small).recommend(users, small, N=10)
    c = RandomRecommender(random_state=43).fit(small).recommend(users, small, N=10)
    np.testing.assert_array_equal(a[0], b[0])
    assert (a[0] != c[0]).any()
    model = RandomRecommender(random_state=42).fit(small)
    np.testing.assert_array_equal(model.recommend(users, small, N=10)[0], a[0])
    np.testing.assert_array_equal(model.recommend(users, small, N=10)[0], a[0])
    # rankings differ across users
    assert len({tuple(r) for r in a[0]}) > 40


def test_random_first_item_is_uniform():
    X = sp.csr_matrix((2000, 6), dtype=np.float32)
    ids, _ = (
        RandomRecommender(random_state=0)
        .fit(X)
        .recommend(np.arange(2000), None, N=1, filter_already_liked_items=False)
    )
    freq = np.bincount(ids[:, 0], minlength=6) / 2000
    assert np.abs(freq - 1 / 6).max() < 0.05


def test_als_beats_baselines_on_planted_data():
    X, _, _ = planted_low_rank(300, 400, rank=4, density=0.1, seed=1)
    train, test = fe.train_test_split(X, 0.8, random_state=0)
    als = AlternatingLeastSquares(factors=8, iterations=10, regularization=0.1, random_state=0)
    als.fit(train, show_progress=False)
    scores = {
        name: fe.ranking_metrics_at_k(m, train, test, K=10, show_progress=False)
        for name, m in (
            ("als", als),
            ("popularity", PopularityRecommender().fit(train)),
            ("random", RandomRecommender(0).fit(train)),
        )
    }
    assert scores["als"]["precision"] > 1.2 * scores["popularity"]["precision"]
    assert scores["als"]["ndcg"] > scores["popularity"]["ndcg"] > scores["random"]["ndcg"]
    assert scores["random"]["auc"] == pytest.approx(0.5, abs=0.03)


def test_baseline_errors(small):
    with pytest.raises(ValueError, match="popularity"):
        PopularityRecommender(popularity="mean")
    with pytest.raises(ValueError, match="not fitted"):
        PopularityRecommender().recommend(0, small[0])
    with pytest.raises(ValueError, match="factors"):
        RandomRecommender(factors=0)
