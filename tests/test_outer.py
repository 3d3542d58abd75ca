"""A row's weighted outer products by register tiles (``_kernels/simd/outer.py``)."""

import numba
import numpy as np
import pytest

from fastals._kernels.simd import add_outer_products, outer_scratch
from fastals._kernels.simd.outer import CHUNK_FLOATS, COLS, MIN_ENTRIES, outer_products_loops

MOST = 64  # entries in a chunk at most (k <= 64)


@numba.njit
def _add(indices, data, start, end, Y, A, offset):
    add_outer_products(indices, data, start, end, Y, A, offset, outer_scratch(A.shape[0], A))


@numba.njit
def _loops(indices, data, start, end, Y, A, offset):
    outer_products_loops(indices, data, start, end, Y, A, offset)


@numba.njit
def _scratch_shapes(k, like):
    W, G, P = outer_scratch(k, like)
    return W.shape, G.shape, P.shape


def _problem(k, n, dtype, seed=0):
    rng = np.random.default_rng(seed + 31 * k + n)
    Y = rng.standard_normal((60, k)).astype(dtype)
    indices = rng.integers(0, 60, n + 5).astype(np.int32)
    data = rng.uniform(-3, 5, n + 5).astype(dtype)
    A = rng.standard_normal((k, k)).astype(dtype)
    return Y, indices, data, A


def _expected(Y, indices, data, start, end, A, offset):
    rows = Y[indices[start:end]].astype(np.float64)
    w = np.abs(data[start:end].astype(np.float64)) - offset
    return np.tril(A.astype(np.float64) + (rows.T * w) @ rows)


# k: multiples of COLS (tiles on the matrix), others (a padded copy), below COLS;
# n: below MIN_ENTRIES (loops), one chunk, several chunks with a partial last one
@pytest.mark.parametrize("k", [3, 16, 50, 64, 100])
@pytest.mark.parametrize("n", [1, MIN_ENTRIES, MOST, 2 * MOST + 7])
@pytest.mark.parametrize("offset", [0.0, 1.0])
def test_lower_triangle_against_numpy(k, n, offset):
    Y, indices, data, A = _problem(k, n, np.float32)
    got = A.copy()
    _add(indices, data, 2, 2 + n, Y, got, np.float32(offset))
    want = _expected(Y, indices, data, 2, 2 + n, A, offset)
    scale = np.abs(want).max()
    np.testing.assert_allclose(np.tril(got), want, rtol=0, atol=2e-6 * scale * np.sqrt(n))


@pytest.mark.parametrize("k", [16, 50, 64])
def test_tiles_agree_with_the_loops(k):
    """Both add A's value and one product per entry in order: equal up to rounding (LLVM
    compiles the loops' four-entry sums to the same chain of FMAs where measured)."""
    Y, indices, data, A = _problem(k, 3 * MOST, np.float32)
    tiles, loops = A.copy(), A.copy()
    _add(indices, data, 0, 3 * MOST, Y, tiles, np.float32(1))
    _loops(indices, data, 0, 3 * MOST, Y, loops, np.float32(1))
    np.testing.assert_allclose(np.tril(tiles), np.tril(loops), rtol=1e-5, atol=1e-3)


def test_float64_runs_the_loops_exactly():
    Y, indices, data, A = _problem(50, 40, np.float64)
    got, loops = A.copy(), A.copy()
    _add(indices, data, 0, 40, Y, got, 1.0)
    _loops(indices, data, 0, 40, Y, loops, 1.0)
    np.testing.assert_array_equal(got, loops)


def test_scratch_is_padded_to_whole_tiles():
    """The same shapes whatever the switch says (only the dispatch reads it)."""
    f32 = np.zeros((1, 1), np.float32)
    assert _scratch_shapes(64, f32) == ((MOST, 64),) * 2 + ((0, 0),)
    padded = -(-50 // COLS) * COLS
    assert _scratch_shapes(50, f32) == ((MOST, padded),) * 2 + ((padded, padded),)
    assert _scratch_shapes(256, f32)[0] == (CHUNK_FLOATS // 256, 256)  # chunks of ~16 KiB
    assert _scratch_shapes(4096, f32)[0] == (8, 4096)


def test_rows_of_a_cholesky_sweep_match_numpy_solves():
    """Through the whole row solve (tiles on float32 where the switch is on)."""
    import scipy.sparse as sp

    from fastals import solvers

    rng = np.random.default_rng(3)
    dense = rng.uniform(0, 1, (30, 200)) < 0.4
    C = sp.csr_matrix(dense * rng.uniform(0.5, 4, dense.shape)).astype(np.float32)
    Y = (rng.standard_normal((200, 48)) * 0.3).astype(np.float32)
    X = np.zeros((30, 48), np.float32)
    solvers.half_sweep(solvers.SweepMatrix(C), X, Y, 0.1, solver="cholesky")
    Y64 = Y.astype(np.float64)
    for u in (0, 7, 29):
        row = C.getrow(u)
        c = row.toarray().ravel().astype(np.float64)
        A = Y64.T @ Y64 + 0.1 * np.eye(48) + (Y64.T * np.where(c > 0, c - 1, 0)) @ Y64
        b = Y64.T @ c
        np.testing.assert_allclose(X[u], np.linalg.solve(A, b), rtol=2e-3, atol=2e-4)
