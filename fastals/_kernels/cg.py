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
from .gram import gram_blocks
from .linalg import axpy, dot, symv
from .rows import row_loss, unit_sums, weighted_pass


@jit()
def cg_solve(run, Y, system, x, b, cg_steps, scratch):
    """Run ``cg_steps`` CG iterations on one row's system from the warm start ``x`` (in place).

    The system is A x = b + sum_run max(c, 0) y_i with

        A = s G + lambda I + sum_run (|c| - offset) y_i y_i^T,

    ``system`` = (G, s, lambda, offset), ``run`` = (indices, data, start, end) the row's
    entries that enter A. implicit's objective: (A0, 1, 0, 1) with A0 = Y^T Y + lambda I and
    ``b`` the sum of y_i over the unit run; iALS's: (G, s_u, lambda_u, 0) with ``b`` = 0.
    ``scratch`` = (r, p, Ap), vectors of length k. A is never formed: a product costs a k x k
    mat-vec plus one dot and one axpy per entry of the run. As implicit 0.7.3: stop when
    r.r < 1e-20, before the first step and after each.
    """
    indices, data, start, end = run
    G, s, lam, offset = system
    r, p, Ap = scratch
    one = x.dtype.type(1)
    # r = b - A x: the shared part, then the run's part with its right-hand side fused
    symv(G, x, r, -s)
    axpy(-lam, x, r)
    for j in range(r.shape[0]):
        r[j] += b[j]
    weighted_pass(indices, data, start, end, Y, x, r, -one, True, offset)
    p[:] = r
    rs_old = dot(r, r)
    if rs_old < 1e-20:
        return
    for _ in range(cg_steps):
        symv(G, p, Ap, s)
        axpy(lam, p, Ap)
        weighted_pass(indices, data, start, end, Y, p, Ap, one, False, offset)
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
def cg_sweep(u0, u1, rows, block_rows, X, Y, A0, cg_steps, loss_out):
    """Update the rows u0..u1-1 of ``X`` (n_rows, k) in place by CG against ``Y`` (n_cols, k);
    ``_threads.parallel_for`` runs ranges of rows in parallel.

    ``rows`` = (indptr, unit run, weighted run) of the side (``solvers.SweepMatrix``): indptr
    says which rows are empty (they become 0). The range first sums each row's c == 1
    entries (``rows.unit_sums``, Y walked in blocks of ``block_rows`` rows), then solves its
    rows: one parallel step per half-sweep, not two. ``A0`` = Y^T Y + lambda I (k, k). When
    ``loss_out`` has n_rows entries it receives each row's loss term (``rows.row_loss``) at
    the new x_u. Each row is owned by one range and its sums depend on its own entries only,
    so results do not depend on the thread count.
    """
    n_rows, k = X.shape
    indptr, (u_indices, u_start, u_end), (w_indices, w_data, w_start, w_end) = rows
    with_loss = loss_out.shape[0] == n_rows
    unit_b = np.empty((u1 - u0, k), X.dtype)
    unit_sums(0, u1 - u0, u_indices, u_start[u0:u1], u_end[u0:u1], Y, block_rows, unit_b)
    # scratch shared by the rows: an allocation per row costs more than a small row's solve
    scratch = (np.empty(k, X.dtype), np.empty(k, X.dtype), np.empty(k, X.dtype))
    system = (A0, X.dtype.type(1), X.dtype.type(0), X.dtype.type(1))
    for u in range(u0, u1):
        if indptr[u] == indptr[u + 1]:
            X[u, :] = 0.0
            if with_loss:
                loss_out[u] = 0.0
            continue
        b_unit = unit_b[u - u0]
        x = X[u]
        run = (w_indices, w_data, w_start[u], w_end[u])
        cg_solve(run, Y, system, x, b_unit, cg_steps, scratch)
        if with_loss:
            n_unit = np.float64(u_end[u] - u_start[u])
            loss_out[u] = row_loss(
                w_indices, w_data, w_start[u], w_end[u], n_unit, Y, A0, x, b_unit, scratch[0]
            )


@jit()
def cg_gram_blocks(b0, b1, size, sweep, partial):
    """``cg_sweep`` on the rows of Gram blocks b0..b1-1 (block b: rows b * size..), then each
    block's Gram matrix of its new rows into ``partial[b]`` (``gram.gram_blocks``), for
    ``solvers.gram``'s blocks: the next half-sweep's Y^T Y comes without a parallel step of
    its own. ``sweep`` = cg_sweep's arguments after (u0, u1). A row's result does not depend
    on the range it is solved in, so this is cg_sweep's answer, and the blocks are gram's.
    """
    rows, block_rows, X, Y, A0, cg_steps, loss_out = sweep
    u1 = min(X.shape[0], b1 * size)
    cg_sweep(b0 * size, u1, rows, block_rows, X, Y, A0, cg_steps, loss_out)
    gram_blocks(b0, b1, X, size, partial)
