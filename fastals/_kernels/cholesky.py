"""Exact half-sweep: build each row's normal equations and solve them by Cholesky.

A_u = A0 + sum_i (C_ui - 1) y_i y_i^T and b_u = sum_{c_ui > 0} c_ui y_i (Hu et al. 2008,
eq. 4); entries with C_ui == 1 add nothing to A_u and are skipped there. Cost per row:
k^2 per stored entry with C != 1, plus k^3/3 for the factorisation.
"""

import numpy as np
from numba import prange

from ._jit import jit
from .linalg import axpy, cholesky_solve


@jit()
def normal_equations_row(indices, data, start, end, Y, A0, A, b):
    """Fill ``A`` (lower triangle) and ``b`` with row u's normal equations."""
    k = b.shape[0]
    zero = b.dtype.type(0)
    one = b.dtype.type(1)
    A[:, :] = A0
    b[:] = zero
    for idx in range(start, end):
        y = Y[indices[idx]]
        c = data[idx]
        if c > zero:
            axpy(c, y, b)
        C = abs(c)
        if C != one:
            w = C - one
            for a in range(k):
                wa = w * y[a]
                Aa = A[a]
                for m in range(a + 1):
                    Aa[m] += wa * y[m]


@jit(parallel=True)
def cholesky_sweep(indptr, indices, data, X, Y, A0, status):
    """Overwrite every row of ``X`` with the exact solution of its normal equations.

    ``status`` (n_rows,) int32 receives 0, or the failed pivot (1-based) where A_u is not
    positive definite; that row of X is left unchanged. Empty rows become 0.
    """
    n_rows, k = X.shape
    for u in prange(n_rows):
        start, end = indptr[u], indptr[u + 1]
        status[u] = 0
        if start == end:
            X[u, :] = 0.0
            continue
        A = np.empty((k, k), X.dtype)
        b = np.empty(k, X.dtype)
        normal_equations_row(indices, data, start, end, Y, A0, A, b)
        info = cholesky_solve(A, b)
        if info == 0:
            X[u, :] = b
        else:
            status[u] = info
