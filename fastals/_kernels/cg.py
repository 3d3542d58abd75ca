"""Conjugate-gradient half-sweep of implicit ALS (Takacs, Pilaszy & Tikk 2011).

For row u with stored confidences c_ui (after alpha), preference p_ui = [c_ui > 0] and
C_ui = |c_ui| (C = 1 where nothing is stored), the normal equations of Hu et al. (2008),
eq. (4), are

    A_u x_u = b_u,  A_u = A0 + sum_i (C_ui - 1) y_i y_i^T,  b_u = sum_{c_ui > 0} c_ui y_i,

with A0 = Y^T Y + lambda I shared by all rows. CG never forms A_u: A_u p costs a k x k
mat-vec plus one dot and one axpy per entry with C_ui != 1; entries with C_ui == 1 add
exactly nothing to A_u and only enter b_u, once per sweep (each row comes as a unit run
and a weighted run: see ``rows``).
"""

import numpy as np

from ._jit import jit
from .linalg import axpy, dot, symv
from .rows import row_loss, weighted_pass


@jit()
def cg_row(indices, data, start, w_end, Y, A0, x, b_unit, cg_steps, r, p, Ap):
    """Run ``cg_steps`` CG iterations on row u's system from the warm start ``x`` (in place).

    ``indices/data[start:w_end]`` is the weighted run; ``b_unit`` the sum of y_i over the
    unit run (the rest of b_u is added in the residual pass); ``r``, ``p``, ``Ap`` are
    scratch vectors of length k. As implicit 0.7.3: stop when r.r < 1e-20, before the first
    step and after each.
    """
    one = x.dtype.type(1)
    # r = b - A_u x = b_unit - A0 x + sum_weighted [max(c, 0) - (|c| - 1) y.x] y
    symv(A0, x, r, -one)
    for j in range(r.shape[0]):
        r[j] += b_unit[j]
    weighted_pass(indices, data, start, w_end, Y, x, r, -one, True, one)
    p[:] = r
    rs_old = dot(r, r)
    if rs_old < 1e-20:
        return
    for _ in range(cg_steps):
        # Ap = A0 p + sum_weighted (|c| - 1) (y.p) y
        symv(A0, p, Ap, one)
        weighted_pass(indices, data, start, w_end, Y, p, Ap, one, False, one)
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


@jit()
def cg_sweep(u0, u1, indptr, unit_b, unit_counts, weighted_run, X, Y, A0, cg_steps, loss_out):
    """Update the rows u0..u1-1 of ``X`` (n_rows, k) in place by CG against ``Y`` (n_cols, k);
    ``_threads.parallel_for`` runs ranges of rows in parallel.

    ``indptr`` says which rows are empty (they become 0); ``unit_b`` (n_rows, k) and
    ``unit_counts`` (n_rows,) are each row's sum of y_i over its c == 1 entries and their
    number (``rows.unit_sums``); ``weighted_run`` is the (indices, data, start, end) tuple of
    the |c| != 1 entries (``rows`` module), data in X's dtype. ``A0`` = Y^T Y + lambda I
    (k, k). When ``loss_out`` has n_rows entries it receives each row's loss term
    (``rows.row_loss``) at the new x_u. Each row is owned by one range, so results do not
    depend on the thread count.
    """
    n_rows, k = X.shape
    w_indices, w_data, w_start, w_end = weighted_run
    with_loss = loss_out.shape[0] == n_rows
    r = np.empty(k, X.dtype)  # scratch shared by the rows: an allocation per row cost
    p = np.empty(k, X.dtype)  # ~15% of a Last.fm half-sweep
    Ap = np.empty(k, X.dtype)
    for u in range(u0, u1):
        if indptr[u] == indptr[u + 1]:
            X[u, :] = 0.0
            if with_loss:
                loss_out[u] = 0.0
            continue
        b_unit = unit_b[u]
        x = X[u]
        cg_row(w_indices, w_data, w_start[u], w_end[u], Y, A0, x, b_unit, cg_steps, r, p, Ap)
        if with_loss:
            loss_out[u] = row_loss(
                w_indices, w_data, w_start[u], w_end[u], unit_counts[u], Y, A0, x, b_unit, r
            )
