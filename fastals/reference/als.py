"""Readable NumPy implicit ALS: the textbook version of every kernel (teaching + test oracle).

Notation (Hu, Koren & Volinsky 2008, "Collaborative Filtering for Implicit Feedback
Datasets"): X (n_users, k) user factors x_u, Y (n_items, k) item factors y_i, and for each
cell a preference p_ui and a confidence C_ui. fastals follows implicit's convention for a
stored value c (alpha already applied):

    c > 0  -> p = 1, C = c
    c < 0  -> p = 0, C = |c|       (a confident "dislike")
    c == 0 -> C = 0                (a stored zero leaves the loss)
    absent -> p = 0, C = 1

The objective (paper eq. 3, lambda constant):

    L(X, Y) = sum_{u,i} C_ui (p_ui - x_u . y_i)^2 + lambda (|X|_F^2 + |Y|_F^2)

With Y fixed, each x_u solves the normal equations (paper eq. 4)

    (Y^T C^u Y + lambda I) x_u = Y^T C^u p(u),

and Y^T C^u Y = Y^T Y + sum_{stored i} (C_ui - 1) y_i y_i^T: the dense Gram Y^T Y is shared
by all users and only the stored cells change it (paper section 4). The fast kernels in
``fastals._kernels`` compute exactly this; here every step is spelled out, one row at a time.
Nothing here is fast: use it on small matrices.
"""

import numpy as np
import scipy.sparse as sp

RESIDUAL_GUARD = 1e-20  # implicit's CG stops when r.r falls below this


def confidence_and_preference(values):
    """Map stored values c to (C, p): C = |c|, p = [c > 0]."""
    values = np.asarray(values)
    return np.abs(values), (values > 0).astype(values.dtype)


def normal_equations(Y, regularization, cols, values):
    """Return (A_u, b_u) for one row with stored ``cols``/``values`` (paper eq. 4).

    A_u = Y^T Y + lambda I + sum_i (C_ui - 1) y_i y_i^T and b_u = sum_i C_ui p_ui y_i.
    """
    k = Y.shape[1]
    A = Y.T @ Y + regularization * np.eye(k, dtype=Y.dtype)
    b = np.zeros(k, dtype=Y.dtype)
    C, p = confidence_and_preference(values)
    for i, c_ui, p_ui in zip(cols, C, p, strict=True):
        y = Y[i]
        A += (c_ui - 1) * np.outer(y, y)
        b += c_ui * p_ui * y
    return A, b


def solve_exact(A, b):
    """x = A^{-1} b (what the Cholesky kernel computes)."""
    return np.linalg.solve(A, b)


def solve_low_rank(Y, regularization, cols, values):
    """x_u by the Woodbury identity (what ``_kernels/woodbury.py`` computes), or None.

    A_u = A0 + W^T D W with A0 = Y^T Y + lambda I, W the rows y_i of the stored cells with
    C_ui != 1 and D = diag(C_ui - 1). Then

        A_u^{-1} b = x0 - Z (D^{-1} + W Z)^{-1} W x0,  x0 = A0^{-1} b,  Z = A0^{-1} W^T,

    an m x m solve instead of a k x k one. None when some C_ui - 1 is negative (the m x m
    matrix is then not positive definite; the kernel falls back to the factorisation).
    """
    k = Y.shape[1]
    A0 = Y.T @ Y + regularization * np.eye(k, dtype=Y.dtype)
    _, b = normal_equations(Y, regularization, cols, values)
    C, _ = confidence_and_preference(values)
    if np.any(C < 1):
        return None
    weighted = C != 1
    W = Y[np.asarray(cols)[weighted]]  # (m, k)
    x0 = np.linalg.solve(A0, b)
    if W.shape[0] == 0:
        return x0
    Z = np.linalg.solve(A0, W.T)  # (k, m)
    S = np.diag(1.0 / (C[weighted] - 1)) + W @ Z
    return x0 - Z @ np.linalg.solve(S, W @ x0)


def conjugate_gradient(A_times, b, x0, steps):
    """``steps`` iterations of CG on A x = b from the warm start ``x0`` (Takacs et al. 2011).

    ``A_times(p)`` returns A p: CG needs A only through products, so A is never formed
    (``product``). Each step moves x along a search direction p that is A-conjugate to the
    previous ones; the residual r = b - A x shrinks, and after k steps (exact arithmetic) x
    solves the system. ALS needs only a few steps per sweep because x0 is last sweep's answer.
    """
    x = x0.copy()
    r = b - A_times(x)  # residual
    p = r.copy()  # first search direction: steepest descent
    rs_old = r @ r
    if rs_old < RESIDUAL_GUARD:
        return x
    for _ in range(steps):
        Ap = A_times(p)
        step = rs_old / (p @ Ap)  # exact line search along p
        x = x + step * p
        r = r - step * Ap
        rs_new = r @ r
        if rs_new < RESIDUAL_GUARD:
            break
        p = r + (rs_new / rs_old) * p  # keep the next direction A-conjugate
        rs_old = rs_new
    return x


def product(A0, Y_stored, weights):
    """The function p -> A_u p = A0 p + sum_i weights_i (y_i . p) y_i, without forming A_u.

    A0 (k, k) is shared by all rows, ``Y_stored`` holds the rows y_i of the row's stored
    cells and ``weights`` their weights in A_u (C_ui - 1 here; w_ui in iALS). Cost: k^2 for
    A0 p plus 2k per stored cell, instead of k^2 per stored cell to build A_u.
    """
    return lambda p: A0 @ p + Y_stored.T @ (weights * (Y_stored @ p))


def half_sweep(Cui, X, Y, regularization, use_cg=True, cg_steps=3):
    """Solve every row of X against fixed Y; returns the new X (a copy).

    ``Cui`` is the n_rows x n_cols CSR of stored values; empty rows get x_u = 0. CG uses the
    matrix-free product (``product``); Cholesky builds A_u (``normal_equations``).
    """
    Cui = sp.csr_matrix(Cui)
    X_new = np.array(X, copy=True)
    k = Y.shape[1]
    A0 = Y.T @ Y + regularization * np.eye(k, dtype=Y.dtype)
    for u in range(Cui.shape[0]):
        lo, hi = Cui.indptr[u], Cui.indptr[u + 1]
        if lo == hi:
            X_new[u] = 0
            continue
        cols, values = Cui.indices[lo:hi], Cui.data[lo:hi]
        if use_cg:
            C, p = confidence_and_preference(values)
            b = Y[cols].T @ (C * p)
            A_times = product(A0, Y[cols], C - 1)
            X_new[u] = conjugate_gradient(A_times, b, X_new[u], cg_steps)
        else:
            A, b = normal_equations(Y, regularization, cols, values)
            X_new[u] = solve_exact(A, b)
    return X_new


def loss(Cui, X, Y, regularization):
    """The objective over the dense grid, divided by the total confidence sum_{u,i} C_ui.

    This is implicit's normalisation, without its bug of adding |c| for negative cells.
    """
    dense = np.asarray(sp.csr_matrix(Cui).toarray(), dtype=np.float64)
    stored = sp.csr_matrix(Cui).copy()
    stored.data = np.ones_like(stored.data)
    is_stored = stored.toarray() > 0
    C = np.where(is_stored, np.abs(dense), 1.0)
    p = np.where(is_stored & (dense > 0), 1.0, 0.0)
    X64, Y64 = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    err = C * (p - X64 @ Y64.T) ** 2
    reg = regularization * ((X64**2).sum() + (Y64**2).sum())
    return (err.sum() + reg) / C.sum() if C.sum() else float("nan")


def fit(
    Cui,
    factors,
    regularization,
    iterations,
    use_cg=True,
    cg_steps=3,
    random_state=None,
    dtype=np.float32,
):
    """Full ALS from implicit's initialisation: users, then items, ``iterations`` times."""
    Cui = sp.csr_matrix(Cui)
    rng = np.random.default_rng(random_state)
    X = rng.random((Cui.shape[0], factors), dtype=dtype) * 0.01
    Y = rng.random((Cui.shape[1], factors), dtype=dtype) * 0.01
    Ciu = Cui.T.tocsr()
    for _ in range(iterations):
        X = half_sweep(Cui, X, Y, regularization, use_cg, cg_steps)
        Y = half_sweep(Ciu, Y, X, regularization, use_cg, cg_steps)
    return X, Y
