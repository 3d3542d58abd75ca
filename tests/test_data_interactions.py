"""fastals.data.interactions (IdMap, build_matrix) and fastals.data.weighting."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from fastals.data.interactions import (
    IdMap,
    UnknownIdError,
    UnknownIdWarning,
    build_matrix,
    build_matrix_from_arrays,
)
from fastals.data.weighting import (
    bm25_weight,
    count_confidence,
    linear_confidence,
    log_confidence,
    seed_confidence,
    tfidf_weight,
)

# ---------------------------------------------------------------- IdMap


def test_idmap_first_appearance_order():
    ids = IdMap.from_values([30, 10, 30, 20, 10])
    np.testing.assert_array_equal(ids.ids, [30, 10, 20])
    assert len(ids) == 3
    np.testing.assert_array_equal(ids.to_index([20, 30, 30]), [2, 0, 0])
    assert ids.to_index([20]).dtype == np.int32
    np.testing.assert_array_equal(ids.to_raw([2, 0]), [20, 30])
    assert ids.to_index(10) == 1 and isinstance(ids.to_index(10), int)
    assert ids.to_raw(1) == 10 and isinstance(ids.to_raw(1), int)
    assert 20 in ids and 99 not in ids and "20" not in ids


def test_idmap_strings():
    ids = IdMap.from_values(pd.Series(["b", "a", "b", "c"]))
    assert ids.ids.dtype.kind == "U"
    np.testing.assert_array_equal(ids.to_index(["c", "b"]), [2, 0])
    assert ids.to_raw(1) == "a"
    assert ids.to_index(np.array(["a"], dtype=object))[0] == 1
    with pytest.raises(UnknownIdError):
        ids.to_index([1])  # ints are not the string ids


def test_unknown_id_error_names_ids_and_count():
    ids = IdMap(np.arange(5))
    with pytest.raises(UnknownIdError) as err:
        ids.to_index([1, 7, 8, 7, 9, 10, 11, 12, 2])
    assert isinstance(err.value, KeyError)
    assert err.value.count == 6
    np.testing.assert_array_equal(err.value.unknown, [7, 8, 9, 10, 11, 12])
    msg = str(err.value)
    assert msg.startswith("6 unknown id(s): 7, 8, 9, 10, 11") and "(and 1 more)" in msg
    assert not msg.startswith('"')  # readable, not KeyError's quoted repr
    np.testing.assert_array_equal(ids.to_index([1, 7, 2], unknown="mask"), [1, -1, 2])
    with pytest.raises(ValueError, match="unknown must be"):
        ids.to_index([1], unknown="drop")


def test_idmap_to_raw_bounds():
    ids = IdMap([5, 6])
    with pytest.raises(IndexError, match=r"out of range \[0, 2\)"):
        ids.to_raw([0, 2])
    with pytest.raises(IndexError):
        ids.to_raw(-1)
    with pytest.raises(TypeError):
        ids.to_raw([0.5])


def test_idmap_rejects_bad_ids():
    with pytest.raises(ValueError, match="distinct"):
        IdMap([1, 2, 1])
    with pytest.raises(TypeError, match="all integers or all strings"):
        IdMap.from_values(np.array([1, "a"], dtype=object))
    with pytest.raises(ValueError, match="missing"):
        IdMap.from_values([1.0, np.nan])
    with pytest.raises(ValueError, match="missing"):
        IdMap.from_values(pd.Series([1, None], dtype="Int64"))
    with pytest.raises(TypeError, match="non-integral"):
        IdMap.from_values([1.5])
    # whole floats (e.g. ids read from a column with NaN elsewhere) become ints
    assert IdMap.from_values([3.0, 1.0]).ids.dtype.kind == "i"


@pytest.mark.parametrize("raw", [np.array([7, -3, 1_000_000_000_000]), np.array(["u1", "ü2", "x"])])
def test_idmap_save_load_round_trip(tmp_path, raw):
    ids = IdMap(raw)
    ids.save(tmp_path / "ids.npz")
    back = IdMap.load(tmp_path / "ids.npz")
    assert back == ids and back.ids.dtype == ids.ids.dtype
    np.savez(tmp_path / "model.npz", other=np.zeros(2), **ids.to_arrays(prefix="user_"))
    with np.load(tmp_path / "model.npz", allow_pickle=False) as npz:
        assert IdMap.from_arrays(npz, prefix="user_") == ids
    with pytest.raises(KeyError, match="item_ids"):
        IdMap.from_arrays({"user_ids": raw}, prefix="item_")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.integers(-(2**62), 2**62)), max_size=50))
def test_idmap_round_trip_property(values):
    ids = IdMap.from_values(np.array(values, dtype=np.int64))
    idx = ids.to_index(np.array(values, dtype=np.int64))
    np.testing.assert_array_equal(ids.to_raw(idx), values)
    assert len(ids) == len(set(values))


# ---------------------------------------------------------------- build_matrix


def frame():
    return pd.DataFrame(
        {
            "user": [10, 20, 10, 10, 30, 20],
            "item": ["a", "b", "a", "c", "b", "b"],
            "w": [1.0, 2.0, 3.0, 4.0, 5.0, 0.5],
        }
    )


def test_build_matrix_sums_duplicates():
    X, users, items = build_matrix(frame(), "user", "item", "w")
    assert isinstance(X, sp.csr_matrix)
    assert X.dtype == np.float32 and X.indices.dtype == np.int32 and X.indptr.dtype == np.int32
    assert X.has_canonical_format and X.shape == (3, 3)
    np.testing.assert_array_equal(users.ids, [10, 20, 30])
    np.testing.assert_array_equal(items.ids, ["a", "b", "c"])
    expected = np.array([[4.0, 0, 4.0], [0, 2.5, 0], [0, 5.0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(X.toarray(), expected)
    counts, _, _ = build_matrix(frame(), "user", "item")
    np.testing.assert_array_equal(counts.toarray(), [[2, 0, 1], [0, 2, 0], [0, 1, 0]])
    arr, _, _ = build_matrix(frame(), "user", "item", frame()["w"].to_numpy() * 2, dtype=np.float64)
    assert arr.dtype == np.float64
    np.testing.assert_array_equal(arr.toarray(), 2 * expected)


def test_build_matrix_equals_seed_construction():
    rng = np.random.default_rng(0)
    n = 5000
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, 300, n) * 7,
            "video_id": rng.integers(0, 200, n) + 1000,
            "watch_ratio": rng.lognormal(-0.3, 0.7, n),
        }
    )
    # the seed notebook (its matrix transposed to users x items)
    user_ids = df["user_id"].unique().tolist()
    item_ids = df["video_id"].unique().tolist()
    u = df["user_id"].map({x: k for k, x in enumerate(user_ids)})
    i = df["video_id"].map({x: k for k, x in enumerate(item_ids)})
    seed = sp.coo_matrix(
        (1 + 40 * (df["watch_ratio"] >= 2).astype(int), (u, i)),
        shape=(len(user_ids), len(item_ids)),
    ).tocsr()
    X, users, items = build_matrix(df, "user_id", "video_id", seed_confidence(df["watch_ratio"]))
    assert users.ids.tolist() == user_ids and items.ids.tolist() == item_ids
    assert (X != seed).nnz == 0 and X.nnz == seed.nnz


def test_build_matrix_reuses_maps_and_drops_unknown():
    X, users, items = build_matrix(frame(), "user", "item", "w")
    test = pd.DataFrame({"user": [30, 99, 10, 98], "item": ["c", "a", "zz", "b"]})
    with pytest.warns(UnknownIdWarning) as record:
        Y, u2, i2 = build_matrix(test, "user", "item", users=users, items=items)
    warning = record[0].message
    assert (warning.n_rows, warning.n_users, warning.n_items) == (3, 2, 1)
    assert "dropped 3 of 4 rows" in str(warning)
    assert record[0].filename == __file__  # points at the caller
    assert u2 is users and i2 is items and Y.shape == X.shape
    np.testing.assert_array_equal(Y.toarray(), [[0, 0, 0], [0, 0, 0], [0, 0, 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_matrix(test, "user", "item", users=users, items=items, unknown="ignore")
    with pytest.raises(UnknownIdError, match="2 unknown user id"):
        build_matrix(test, "user", "item", users=users, items=items, unknown="raise")
    with pytest.raises(UnknownIdError, match="1 unknown item id.*'zz'"):
        build_matrix(
            test[test.user <= 30], "user", "item", users=users, unknown="raise", items=items
        )
    # only one map given: the other is built fresh
    Z, u3, i3 = build_matrix(frame(), "user", "item", users=IdMap([30, 20, 10, 40]))
    assert Z.shape == (4, 3) and Z[0, 1] == 1 and Z[2, 0] == 2


def test_build_matrix_from_arrays():
    X, users, items = build_matrix_from_arrays(["x", "y", "x"], [5, 5, 5], [1, 2, 3])
    np.testing.assert_array_equal(X.toarray(), [[4], [2]])
    np.testing.assert_array_equal(users.ids, ["x", "y"])
    empty, u, i = build_matrix_from_arrays(np.zeros(0, int), np.zeros(0, int))
    assert empty.shape == (0, 0) and len(u) == 0


def test_build_matrix_errors():
    with pytest.raises(KeyError, match="user_col 'u'"):
        build_matrix(frame(), "u", "item")
    with pytest.raises(KeyError, match="weight column 'x'"):
        build_matrix(frame(), "user", "item", "x")
    with pytest.raises(ValueError, match="weights has 2 rows"):
        build_matrix(frame(), "user", "item", [1, 2])
    bad = frame().assign(w=[1, np.nan, 1, 1, 1, np.inf])
    with pytest.raises(
        ValueError, match=r"weights must be finite; 2 are not, e.g. at rows \[1, 5\]"
    ):
        build_matrix(bad, "user", "item", "w")
    with pytest.raises(ValueError, match="user_ids has 2 rows but item_ids has 1"):
        build_matrix_from_arrays([1, 2], [1])
    with pytest.raises(ValueError, match="missing"):
        build_matrix(frame().assign(user=[1, 2, None, 3, 4, 5]), "user", "item")
    with pytest.raises(ValueError, match="unknown must be"):
        build_matrix(frame(), "user", "item", unknown="skip")
    with pytest.raises(ValueError, match="dtype"):
        build_matrix(frame(), "user", "item", dtype=np.int32)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 4), st.integers(1, 9)), min_size=1, max_size=40
    )
)
def test_build_matrix_property(rows):
    users, items, weights = (np.array(c) for c in zip(*rows, strict=True))
    X, umap, imap = build_matrix_from_arrays(users, items, weights)
    assert X.sum() == weights.sum()
    dense = X.toarray()
    for u, i in set(zip(users, items, strict=True)):
        assert (
            dense[umap.to_index(u), imap.to_index(i)] == weights[(users == u) & (items == i)].sum()
        )


# ---------------------------------------------------------------- weighting


def sample_matrix(dtype=np.float32, seed=0):
    X = sp.random(40, 30, density=0.2, random_state=seed, format="lil", dtype=np.float64)
    X[3, :] = 0  # an empty row
    X = X.tocsr()
    X.data = np.ceil(X.data * 20)
    X.eliminate_zeros()
    return X.astype(dtype)


def test_seed_confidence():
    w = seed_confidence(pd.Series([0.1, 2.0, 1.999, 5.0]))
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w, [1, 41, 1, 41])
    np.testing.assert_array_equal(seed_confidence([1.0, 3.0], threshold=1.0, alpha=2), [3, 3])
    with pytest.raises(ValueError, match="finite"):
        seed_confidence([1.0, np.nan])
    with pytest.raises(ValueError, match="alpha"):
        seed_confidence([1.0], alpha=np.inf)


def test_log_and_linear_confidence_hand_values():
    X = sp.csr_matrix(np.array([[0, 3.0], [1.0, 0]]))
    before = X.copy()
    L = log_confidence(X, alpha=2.0, eps=0.5)
    assert isinstance(L, sp.csr_matrix) and L.dtype == np.float32
    np.testing.assert_allclose(
        L.toarray(), [[0, 1 + 2 * np.log1p(6.0)], [1 + 2 * np.log1p(2.0), 0]], rtol=1e-6
    )
    np.testing.assert_allclose(log_confidence([3.0]), [1 + np.log(4.0)], rtol=1e-6)
    np.testing.assert_array_equal(linear_confidence(X, alpha=40).toarray(), [[0, 121], [41, 0]])
    np.testing.assert_array_equal(linear_confidence(np.array([0.0, 1.0]), alpha=2), [1, 3])
    assert (X != before).nnz == 0  # input untouched
    with pytest.raises(ValueError, match="eps"):
        log_confidence(X, eps=0)
    with pytest.raises(ValueError, match="> -eps"):
        log_confidence(sp.csr_matrix(np.array([[-2.0]])))


def test_count_confidence_is_a_canonical_copy():
    coo = sp.coo_matrix(([1, 2, 3], ([0, 0, 1], [1, 1, 0])), shape=(2, 2))
    C = count_confidence(coo)
    assert isinstance(C, sp.csr_matrix) and C.dtype == np.float32 and C.has_canonical_format
    np.testing.assert_array_equal(C.toarray(), [[0, 3], [3, 0]])
    C.data[:] = 0
    assert coo.sum() == 6
    with pytest.raises(TypeError, match="scipy sparse"):
        count_confidence(np.eye(2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fmt", ["csr", "coo", "csc"])
def test_bm25_and_tfidf_equal_implicit(dtype, fmt):
    nn = pytest.importorskip("implicit.nearest_neighbours")
    X = sample_matrix(dtype).asformat(fmt)
    before = X.copy()
    for ours, theirs, kwargs in (
        (bm25_weight, nn.bm25_weight, {}),
        (bm25_weight, nn.bm25_weight, {"K1": 1.2, "B": 0.75}),
        (tfidf_weight, nn.tfidf_weight, {}),
    ):
        got = ours(X, **kwargs)
        want = theirs(X, **kwargs).tocsr()
        assert isinstance(got, sp.csr_matrix)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.indptr, want.indptr)
        np.testing.assert_array_equal(got.indices, want.indices)
        np.testing.assert_allclose(got.data, want.data, rtol=1e-12, atol=0)
    assert (X != before).nnz == 0


def test_bm25_and_tfidf_hand_values():
    X = sp.csr_matrix(np.array([[1.0, 4.0], [0.0, 2.0], [0.0, 0.0]]))
    n = 3
    idf = np.log(n) - np.log1p(np.array([1, 2]))
    np.testing.assert_allclose(
        tfidf_weight(X).toarray(), [[idf[0], 2 * idf[1]], [0, np.sqrt(2) * idf[1]], [0, 0]]
    )
    K1, B = 10.0, 0.5
    row_sums = np.array([5.0, 2.0, 0.0])
    norm = (1 - B) + B * row_sums / row_sums.mean()

    def w(x, r, c):
        return x * (K1 + 1) / (K1 * norm[r] + x) * idf[c]

    expected = [[w(1, 0, 0), w(4, 0, 1)], [0, w(2, 1, 1)], [0, 0]]
    np.testing.assert_allclose(bm25_weight(X, K1=K1, B=B).toarray(), expected)
