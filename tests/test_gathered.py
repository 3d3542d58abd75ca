"""The CG weighted pass with its 512-bit gathered-rows IR (``_kernels/simd/gathered.py``)."""

import numba
import numpy as np
import pytest

from fastals._kernels.rows import weighted_pass
from fastals._kernels.simd import gathered, switch
from fastals._kernels.simd.gathered import axpy8, dots8, span


@numba.njit
def _span(Y, v, out):
    return span(Y, v, out)


@numba.njit
def _dots(Y, indices, idx, v):
    return dots8(Y, indices, idx, v)


@numba.njit
def _axpy(Y, indices, idx, t, out):
    axpy8(Y, indices, idx, t, out)


def _problem(k, dtype, n_entries=29, seed=0):
    rng = np.random.default_rng(seed + k)
    Y = rng.standard_normal((50, k)).astype(dtype)
    indices = rng.integers(0, 50, n_entries).astype(np.int32)
    data = rng.uniform(-3, 5, n_entries).astype(dtype)
    data[::7] = 1.0  # c == 1 adds nothing to A_u, its c to b_u
    v = rng.standard_normal(k).astype(dtype)
    return Y, indices, data, v


def test_span_is_whole_chunks_of_contiguous_float32_only():
    expected = (lambda k: k // 16 * 16) if switch.WIDE else (lambda k: 0)
    for k in (1, 15, 16, 50, 128):
        v = np.zeros(k, np.float32)
        assert _span(np.zeros((3, k), np.float32), v, v) == expected(k)
    v64 = np.zeros(128)
    assert _span(np.zeros((3, 128)), v64, v64) == 0
    strided = np.zeros(256, np.float32)[::2]  # the IR reads vectors as contiguous: none here
    assert _span(np.zeros((3, 128), np.float32), strided, np.zeros(128, np.float32)) == 0


@pytest.mark.skipif(not switch.WIDE, reason="the IR needs AVX-512 (the loops are tested below)")
def test_dots8_and_axpy8_against_numpy():
    Y, indices, _, v = _problem(48, np.float32)
    rows = Y[indices[3:11]].astype(np.float64)
    got = np.array(_dots(Y, indices, 3, v), np.float64)
    np.testing.assert_allclose(got, rows @ v.astype(np.float64), rtol=1e-5, atol=1e-5)
    t = tuple(np.float32(x) for x in np.linspace(-2, 2, gathered.ENTRIES))
    out = np.ones(48, np.float32)
    _axpy(Y, indices, 3, t, out)
    np.testing.assert_allclose(out, 1 + np.asarray(t, np.float64) @ rows, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [3, 16, 20, 64, 128])
@pytest.mark.parametrize("with_rhs", [False, True])
def test_weighted_pass_against_numpy(dtype, k, with_rhs):
    """8-entry blocks (IR for the first 16-factor chunks, loops for the rest), then 4, 1."""
    Y, indices, data, v = _problem(k, dtype)
    start, end = 2, len(indices)  # 27 entries: three blocks of 8, none of 4, three single
    out = np.linspace(0, 1, k).astype(dtype)
    expected = out.astype(np.float64).copy()
    sign = -1.0 if with_rhs else 1.0
    for idx in range(start, end):
        y, c = Y[indices[idx]].astype(np.float64), float(data[idx])
        t = sign * (abs(c) - 1) * (y @ v.astype(np.float64)) + (max(c, 0) if with_rhs else 0)
        expected += t * y
    weighted_pass(indices, data, start, end, Y, v, out, dtype(sign), with_rhs, dtype(1))
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol * k)
