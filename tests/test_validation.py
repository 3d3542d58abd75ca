"""Bad input gets a clear error, conversions warn, and the caller's data is never changed."""

import numpy as np
import pytest
import scipy.sparse as sp

from fastals import AlternatingLeastSquares, ParameterWarning


def matrix(seed=0):
    rng = np.random.default_rng(seed)
    m = sp.random(20, 30, density=0.3, format="csr", rng=rng, dtype=np.float64)
    m.data = np.round(m.data * 5) + 1
    return m


def model(**kwargs):
    return AlternatingLeastSquares(factors=4, iterations=2, random_state=0, **kwargs)


def fitted(m, **kwargs):
    mod = model(**kwargs)
    mod.fit(m, show_progress=False)
    return mod


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"factors": 0}, ValueError, "factors must be >= 1"),
        ({"factors": -3}, ValueError, "factors must be >= 1"),
        ({"factors": 2.5}, TypeError, "factors must be an integer"),
        ({"factors": True}, TypeError, "factors must be an integer"),
        ({"iterations": -1}, ValueError, "iterations must be >= 0"),
        ({"iterations": 1.5}, TypeError, "iterations must be an integer"),
        ({"random_state": -1}, ValueError, "random_state must be >= 0"),
        ({"random_state": "seed"}, TypeError, "random_state must be"),
        ({"random_state": 0.5}, TypeError, "random_state must be"),
        ({"cg_steps": 0}, ValueError, "cg_steps must be >= 1"),
        ({"regularization": -0.1}, ValueError, "regularization must be >= 0"),
        ({"regularization": float("nan")}, ValueError, "regularization must be finite"),
        ({"alpha": float("inf")}, ValueError, "alpha must be finite"),
        ({"dtype": np.float16}, ValueError, "float16 is not supported"),
        ({"dtype": np.int32}, ValueError, "int32 is not supported"),
        ({"num_threads": -1}, ValueError, "num_threads"),
        ({"use_gpu": True}, ValueError, "no GPU build"),
    ],
)
def test_bad_parameters(kwargs, error, message):
    params = dict(factors=4, iterations=2)
    params.update(kwargs)
    with pytest.raises(error, match=message):
        AlternatingLeastSquares(**params)


def test_parameters_are_checked_again_at_fit():
    mod = model()
    mod.iterations = -1
    with pytest.raises(ValueError, match="iterations must be >= 0"):
        mod.fit(matrix(), show_progress=False)


@pytest.mark.parametrize("bad, n", [(np.nan, 1), (np.inf, 1), (-np.inf, 2)])
def test_non_finite_values_say_how_many_and_where(bad, n):
    m = matrix()
    m.data[5 : 5 + n] = bad
    row = int(np.searchsorted(m.indptr, 5, side="right") - 1)
    col = int(m.indices[5])
    with pytest.raises(ValueError, match=rf"\(row {row}, column {col}\)") as info:
        model().fit(m, show_progress=False)
    kind = "NaN" if np.isnan(bad) else "infinite"
    assert f"{n} {kind}" in str(info.value)


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (np.ones(5), ValueError, "must be 2-D"),
        (np.ones((2, 3, 4)), ValueError, "must be 2-D"),
        (sp.csr_matrix((0, 5)), ValueError, "is empty"),
        (sp.csr_matrix((5, 0)), ValueError, "is empty"),
        ("user_items.csv", TypeError, "must be a scipy.sparse matrix"),
        (None, TypeError, "must be a scipy.sparse matrix"),
        (sp.csr_matrix(np.ones((3, 3), dtype=complex)), TypeError, "real numbers"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "real numbers"),
    ],
)
def test_bad_matrices(bad, error, message):
    with pytest.raises(error, match=message):
        model().fit(bad, show_progress=False)


@pytest.mark.parametrize("convert", [sp.coo_matrix, sp.csc_matrix, sp.lil_matrix, sp.csr_array])
def test_other_formats_warn_and_give_the_same_factors(convert):
    m = matrix()
    with pytest.warns(ParameterWarning, match="expects CSR"):
        other = fitted(convert(m))
    assert np.array_equal(other.user_factors, fitted(m).user_factors)


def test_dense_array_warns_and_works():
    m = matrix()
    with pytest.warns(ParameterWarning):
        dense = fitted(m.toarray())
    assert np.array_equal(dense.item_factors, fitted(m).item_factors)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.float32, np.float64])
def test_integer_and_other_float_data_are_converted(dtype):
    m = matrix()
    converted = m.astype(dtype)
    assert np.array_equal(fitted(converted).user_factors, fitted(m).user_factors)


def test_bool_data_is_converted():
    m = matrix()
    ones = m.copy()
    ones.data[:] = 1
    assert np.array_equal(fitted(m.astype(bool)).user_factors, fitted(ones).user_factors)


def test_input_is_never_modified():
    m = matrix()
    # unsorted indices and a duplicate entry: the canonical copy must not touch m
    m.indices[:2] = m.indices[:2][::-1].copy()
    m.has_sorted_indices = False
    dup = sp.csr_matrix(
        (np.r_[m.data, 2.0], np.r_[m.indices, m.indices[0]], np.r_[m.indptr[:-1], m.nnz + 1]),
        shape=m.shape,
    )
    for mat in (m, dup):
        before = (mat.data.copy(), mat.indices.copy(), mat.indptr.copy())
        fitted(mat, alpha=40.0)
        assert np.array_equal(mat.data, before[0])
        assert np.array_equal(mat.indices, before[1])
        assert np.array_equal(mat.indptr, before[2])


def test_duplicates_are_summed():
    m = matrix()
    dup = sp.csr_matrix(
        (
            np.r_[m.data[:1] - 0.5, 0.5, m.data[1:]],
            np.r_[m.indices[:1], m.indices[:1], m.indices[1:]],
            np.r_[0, m.indptr[1:] + 1],
        ),
        shape=m.shape,
    )
    assert not dup.has_canonical_format
    assert np.array_equal(fitted(dup).user_factors, fitted(m).user_factors)


def test_alpha_overflow_is_reported():
    m = matrix()
    with pytest.raises(ValueError, match="overflows float32"):
        fitted(m, alpha=1e38)
