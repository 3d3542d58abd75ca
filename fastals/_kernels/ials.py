"""Exact and CG half-sweeps of iALS (Rendle, Krichene, Zhang & Koren 2022, eqs. 2-5).

With the other side's factors Y fixed, row u's part of the objective is the quadratic

    sum_{i in I_u} w_ui (x . y_i - 1)^2 + s_u x^T G x + lambda_u |x|^2

whose minimiser solves

    A_u x = b_u,  A_u = s_u G + lambda_u I + sum_{i in I_u} w_ui y_i y_i^T,  b_u = sum w_ui y_i.

G (k, k) is shared: Y^T Y with the unobserved weight in ``s_u`` (``s_u = alpha0`` for every
row), or eALS's sum_i c_i y_i y_i^T with s_u = 1 on the user side and X^T X with s_i = c_i on
the item side. ``lambda_u`` is lambda (|I_u| + alpha0 |I|)^nu. Unlike implicit's objective,
every stored entry enters A_u (with weight w, not C - 1), so there is no unit run.

Arguments travel bundled: ``rows`` = (indptr, indices, data) of the side's CSR (data = w in
X's dtype), ``system`` = (G, gram_scale, reg) with ``gram_scale`` and ``reg`` of shape
(n_rows,) in X's dtype.
"""

import numpy as np

from ._jit import jit
from .cg import cg_solve
from .linalg import cholesky_solve
from .simd import add_outer_products, outer_scratch
from .woodbury import low_rank_scratch, low_rank_solve


@jit()
def ials_cg_sweep(u0, u1, rows, X, Y, system, cg_steps):
    """CG on the rows u0..u1-1 of ``X`` (n_rows, k) against ``Y`` (n_cols, k), in place;
    empty rows become 0 (their exact solution). ``_threads.parallel_for`` runs ranges."""
    indptr, indices, data = rows
    G, gram_scale, reg = system
    k = X.shape[1]
    zero = X.dtype.type(0)
    scratch = (np.empty(k, X.dtype), np.empty(k, X.dtype), np.empty(k, X.dtype))
    no_b = np.zeros(k, X.dtype)  # b_u comes whole from the run (w y_i, offset 0)
    for u in range(u0, u1):
        if indptr[u] == indptr[u + 1]:
            X[u, :] = 0.0
            continue
        run = (indices, data, indptr[u], indptr[u + 1])
        cg_solve(run, Y, (G, gram_scale[u], reg[u], zero), X[u], no_b, cg_steps, scratch)


@jit()
def ials_cholesky_sweep(u0, u1, rows, X, Y, system, low_rank, status):
    """Overwrite the rows u0..u1-1 of ``X`` with the exact solution of their iALS systems.

    ``status`` (n_rows,) int32 receives 0 or the failed pivot (1-based) where A_u is not
    positive definite (that row of X is then left unchanged). Cost per row: k^2 per stored
    entry plus k^3/3. ``low_rank`` = (Z, max_rank): where Z (n_cols, k) float64 holds
    A0^{-1} y_i for a shared A0 = s G + lambda I (every row's s and lambda equal; empty Z:
    never), rows of at most ``max_rank`` entries take the Woodbury solve
    (``woodbury.low_rank_solve`` with D = diag(w)), in float64.
    """
    indptr, indices, data = rows
    G, gram_scale, reg = system
    Z, max_rank = low_rank
    k = X.shape[1]
    zero = X.dtype.type(0)
    A = np.empty((k, k), X.dtype)
    b = np.empty(k, X.dtype)
    outer = outer_scratch(k, X)
    woodbury = Z.shape[0] > 0
    x = np.empty(k, np.float64)
    scratch = low_rank_scratch(k, max_rank if woodbury else 0)
    starts, ends = indptr[:-1], indptr[1:]
    no_unit = (indices, starts, starts)
    weighted = (indices, data, starts, ends)
    for u in range(u0, u1):
        status[u] = 0
        start, end = indptr[u], indptr[u + 1]
        if (
            woodbury
            and start < end
            and low_rank_solve(no_unit, weighted, u, Y, Z, max_rank, scratch, x, 0.0)
        ):
            for j in range(k):
                X[u, j] = x[j]
            continue
        s, lam = gram_scale[u], reg[u]
        for a in range(k):
            for m in range(a + 1):  # the lower triangle is all the factorisation reads
                A[a, m] = s * G[a, m]
            A[a, a] += lam
        b[:] = 0
        for idx in range(start, end):
            w = data[idx]
            i = indices[idx]
            for j in range(k):
                b[j] += w * Y[i, j]
        add_outer_products(indices, data, start, end, Y, A, zero, outer)
        info = cholesky_solve(A, b)
        if info != 0:
            status[u] = info
            continue
        X[u, :] = b
