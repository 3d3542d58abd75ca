"""Conjugate-gradient half-sweep of implicit ALS (Takacs, Pilaszy & Tikk 2011).

For row u with stored confidences c_ui (after alpha), preference p_ui = [c_ui > 0] and
C_ui = |c_ui| (C = 1 where nothing is stored), the normal equations of Hu et al. (2008),
eq. (4), are

    A_u x_u = b_u,  A_u = A0 + sum_i (C_ui - 1) y_i y_i^T,  b_u = sum_{c_ui > 0} c_ui y_i,

with A0 = Y^T Y + lambda I shared by all rows. CG never forms A_u: A_u p costs a k x k
mat-vec plus one dot and one axpy per entry with C_ui != 1; entries with C_ui == 1 add
exactly nothing to A_u and only enter b_u, once per sweep (rows come reordered by
``layout.partition_rows``).
"""

import numpy as np
from numba import prange

from ._jit import jit
from .linalg import axpy, dot, symv
from .rows import add_weighted_projection, rhs, row_loss


@jit()
def cg_row(indices, data, start, w_end, Y, A0, x, b, cg_steps, r, p, Ap):
    """Run ``cg_steps`` CG iterations on A_u x = b from the warm start ``x`` (in place).

    ``r``, ``p``, ``Ap`` are scratch vectors of length k. As implicit 0.7.3: stop when
    r.r < 1e-20, before the first step and after each.
    """
    one = x.dtype.type(1)
    # r = b - A_u x
    symv(A0, x, r, -one)
    for j in range(r.shape[0]):
        r[j] += b[j]
    add_weighted_projection(indices, data, start, w_end, Y, x, r, -one)
    p[:] = r
    rs_old = dot(r, r)
    if rs_old < 1e-20:
        return
    for _ in range(cg_steps):
        symv(A0, p, Ap, one)
        add_weighted_projection(indices, data, start, w_end, Y, p, Ap, one)
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
def cg_sweep(indptr, w_end, p_end, indices, data, X, Y, A0, cg_steps, loss_out):
    """Update every row of ``X`` (n_rows, k) in place by CG against ``Y`` (n_cols, k).

    The matrix is the reordered CSR of ``layout.partition_rows``, data in X's dtype;
    ``A0`` = Y^T Y + lambda I (k, k). Empty rows become 0. When ``loss_out`` has n_rows
    entries it receives each row's loss term (``rows.row_loss``) at the new x_u.
    Each row is owned by one iteration, so results do not depend on the thread count.
    """
    n_rows, k = X.shape
    with_loss = loss_out.shape[0] == n_rows
    for u in prange(n_rows):
        start, end = indptr[u], indptr[u + 1]
        if start == end:
            X[u, :] = 0.0
            if with_loss:
                loss_out[u] = 0.0
            continue
        b = np.empty(k, X.dtype)
        r = np.empty(k, X.dtype)
        p = np.empty(k, X.dtype)
        Ap = np.empty(k, X.dtype)
        c_pos = rhs(indices, data, start, w_end[u], p_end[u], Y, b)
        cg_row(indices, data, start, w_end[u], Y, A0, X[u], b, cg_steps, r, p, Ap)
        if with_loss:
            loss_out[u] = row_loss(indices, data, start, w_end[u], Y, A0, X[u], b, c_pos, r)
