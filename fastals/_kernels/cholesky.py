"""Exact half-sweep: build each row's normal equations and solve them by Cholesky.

A_u = A0 + sum_i (C_ui - 1) y_i y_i^T and b_u = sum_{c_ui > 0} c_ui y_i (Hu et al. 2008,
eq. 4). Each row comes as a unit run and a weighted run (``rows``), so only the entries with
C_ui != 1 are visited to build A_u. Cost per row: k^2 per such entry, plus k^3/3 for the
factorisation.
"""

import numpy as np

from ._jit import jit
from .linalg import cholesky_solve
from .rows import rhs, row_loss, unit_sum
from .simd import add_outer_products, outer_scratch
from .woodbury import low_rank_scratch, low_rank_solve


@jit()
def _solve_row(u, rows, X, Y, A0, low_rank, scratch, out):
    """One row of ``cholesky_sweep``; ``scratch`` = (A, x, woodbury scratch, outer scratch)."""
    k = X.shape[1]
    indptr, unit_run, weighted_run = rows
    u_indices, u_start, u_end = unit_run
    w_indices, w_data, w_start, w_end = weighted_run
    Z, max_rank = low_rank
    status = out[0]  # not unpacked: with the inlined overload below, Numba 0.68 then
    loss_out = out[1]  # dropped the writes to an unpacked status (the tests caught it)
    with_loss = loss_out.shape[0] == X.shape[0]
    A, x, low_rank_scratch, outer = scratch
    status[u] = 0
    if indptr[u] == indptr[u + 1]:
        X[u, :] = 0.0
        if with_loss:
            loss_out[u] = 0.0
        return
    if not (
        Z.shape[0] > 0
        and low_rank_solve(unit_run, weighted_run, u, Y, Z, max_rank, low_rank_scratch, x, 1.0)
    ):
        for a in range(k):
            for b in range(a + 1):  # the lower triangle is all the factorisation reads
                A[a, b] = A0[a, b]
        rhs(u_indices, u_start[u], u_end[u], w_indices, w_data, w_start[u], w_end[u], Y, x)
        add_outer_products(w_indices, w_data, w_start[u], w_end[u], Y, A, A.dtype.type(1), outer)
        info = cholesky_solve(A, x)
        if info != 0:
            status[u] = info
            return
    X[u, :] = x
    if with_loss:
        n_unit = unit_sum(u_indices, u_start[u], u_end[u], Y, x)  # x is free again
        loss_out[u] = row_loss(
            w_indices, w_data, w_start[u], w_end[u], n_unit, Y, A0, X[u], x, A[0]
        )


@jit()
def cholesky_sweep(u0, u1, rows, X, Y, A0, low_rank, out):
    """Overwrite the rows u0..u1-1 of ``X`` with the exact solution of their normal equations
    (``_threads.parallel_for`` runs ranges of rows in parallel).

    ``rows`` = (indptr, unit run, weighted run) of the side (``solvers.SweepMatrix``: indptr
    says which rows are empty, they become 0), ``A0`` = Y^T Y + lambda I. ``out`` = (status,
    loss_out): ``status`` (n_rows,) int32 receives 0, or the failed pivot (1-based) where A_u
    is not positive definite (that row of X is left unchanged); when ``loss_out`` has n_rows
    entries it receives each row's loss term (``rows.row_loss``). ``low_rank`` = (Z,
    max_rank): when ``Z`` holds A0^{-1} y_i for every column (float64,
    ``woodbury.solve_columns``; empty to disable), rows with at most ``max_rank`` weighted
    entries, all of weight > 0, are solved by ``woodbury.low_rank_solve`` instead of
    factorising A_u. The range's rows share scratch memory (an allocation per row costs more
    than a small row's solve).
    """
    k = X.shape[1]
    Z, max_rank = low_rank
    scratch = (
        np.empty((k, k), X.dtype),
        np.empty(k, X.dtype),
        low_rank_scratch(k, max_rank if Z.shape[0] > 0 else 0),
        outer_scratch(k, X),
    )
    for u in range(u0, u1):
        _solve_row(u, rows, X, Y, A0, low_rank, scratch, out)
