"""Conjugate-gradient half-sweep of implicit ALS (Takacs, Pilaszy & Tikk 2011).

For row u with stored confidences c_ui (after alpha), preference p_ui = [c_ui > 0] and
C_ui = |c_ui| (C = 1 where nothing is stored), the normal equations of Hu et al. (2008),
eq. (4), are

    A_u x_u = b_u,  A_u = A0 + sum_i (C_ui - 1) y_i y_i^T,  b_u = sum_{c_ui > 0} c_ui y_i,

with A0 = Y^T Y + lambda I shared by all rows. CG never forms A_u: A_u p costs one dot
and one axpy per stored entry, and entries with C_ui == 1 (most of the seed's data) add
exactly nothing to A_u, so they are skipped in every product (an exact saving).
"""

import numpy as np
from numba import prange

from ._jit import jit
from .linalg import axpy, dot, symv


@jit()
def cg_row(indices, data, start, end, Y, A0, x, cg_steps, r, p, Ap):
    """Run ``cg_steps`` CG iterations on row u's system from the warm start ``x`` (in place).

    ``indices[start:end]``/``data[start:end]`` is the row; ``r``, ``p``, ``Ap`` are scratch
    vectors of length k. Mirrors implicit 0.7.3: residual guard 1e-20 before and inside
    the loop.
    """
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    # r = b - A_u x = -A0 x + sum_i [max(c,0) - (C-1) y_i.x] y_i
    symv(A0, x, r, -one)
    for idx in range(start, end):
        y = Y[indices[idx]]
        c = data[idx]
        t = c if c > zero else zero
        C = abs(c)
        if C != one:
            t -= (C - one) * dot(y, x)
        if t != zero:
            axpy(t, y, r)
    p[:] = r
    rs_old = dot(r, r)
    if rs_old < 1e-20:
        return
    for _ in range(cg_steps):
        # Ap = A0 p + sum_i (C-1) (y_i.p) y_i
        symv(A0, p, Ap, one)
        for idx in range(start, end):
            C = abs(data[idx])
            if C != one:
                y = Y[indices[idx]]
                axpy((C - one) * dot(y, p), y, Ap)
        a = rs_old / dot(p, Ap)
        axpy(a, p, x)
        axpy(-a, Ap, r)
        rs_new = dot(r, r)
        if rs_new < 1e-20:
            break
        beta = rs_new / rs_old
        for j in range(x.shape[0]):
            p[j] = r[j] + beta * p[j]
        rs_old = rs_new


@jit(parallel=True)
def cg_sweep(indptr, indices, data, X, Y, A0, cg_steps):
    """Update every row of ``X`` (n_rows, k) in place by CG against ``Y`` (n_cols, k).

    ``indptr/indices/data`` is the n_rows x n_cols CSR of confidences, data in X's dtype;
    ``A0`` = Y^T Y + lambda I (k, k). Empty rows become 0. Each row is owned by one
    iteration, so the result does not depend on the number of threads.
    """
    n_rows, k = X.shape
    for u in prange(n_rows):
        start, end = indptr[u], indptr[u + 1]
        if start == end:
            X[u, :] = 0.0
            continue
        r = np.empty(k, X.dtype)
        p = np.empty(k, X.dtype)
        Ap = np.empty(k, X.dtype)
        cg_row(indices, data, start, end, Y, A0, X[u], cg_steps, r, p, Ap)
