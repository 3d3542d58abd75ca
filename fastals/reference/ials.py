"""Readable iALS (Rendle, Krichene, Zhang & Koren 2022) and its four solvers, in NumPy.

The objective, for weights w_ui > 0 on the stored pairs S (1 for binary data):

    L(X, Y) = sum_{(u,i) in S} w_ui (x_u . y_i - 1)^2           observed pairs pulled to 1
            + sum_u sum_{i in all items} c_i (x_u . y_i)^2     every pair pulled to 0
            + lambda (sum_u nu_u |x_u|^2 + sum_i nu_i |y_i|^2)

with c_i = alpha0 for every item (or eALS's popularity weights), nu_u = (|I_u| + sum_i c_i)^nu
and nu_i = (|U_i| + c_i |U|)^nu. With Y fixed, x_u's part is a quadratic whose minimiser
solves the normal equations

    A_u x_u = b_u,  A_u = Y^T diag(c) Y + lambda nu_u I + sum_{i in I_u} w_ui y_i y_i^T,
                    b_u = sum_{i in I_u} w_ui y_i.

The all-pairs Gram Y^T diag(c) Y is shared by every user; items are the same with X in
place of Y (and c_i X^T X as item i's shared part). Four ways to minimise over x_u:

- ``cholesky``: solve A_u x = b exactly.
- ``cg``: a few conjugate-gradient steps from the previous x_u (A_u never formed).
- ``ials++``: exact steps on one block of dimensions at a time (Rendle et al. 2021).
- ``cd``: exact steps on one dimension at a time (eALS, He et al. 2016).

The coordinate methods keep the predictions x_u . y_i of the stored pairs and update them
after each step, so a step costs what its block needs, not a pass over all dimensions.
"""

import numpy as np
import scipy.sparse as sp

from .als import conjugate_gradient, product


def item_weights(W, unobserved_weight, popularity_exp=None):
    """c_i: alpha0 for every item, or alpha0 f_i^e / mean_j f_j^e (f_i: item i's count)."""
    n_items = W.shape[1]
    if popularity_exp is None:
        return np.full(n_items, float(unobserved_weight))
    f = np.bincount(sp.csr_matrix(W).indices, minlength=n_items).astype(np.float64)
    powered = f**popularity_exp
    return unobserved_weight * powered / (powered.mean() or 1.0)


def regularization_weights(W, c, regularization, regularization_exp):
    """(lambda nu_u for every user, lambda nu_i for every item)."""
    W = sp.csr_matrix(W)
    n_users = W.shape[0]
    user_counts = np.diff(W.indptr)
    item_counts = np.bincount(W.indices, minlength=W.shape[1])
    reg_u = regularization * (user_counts + c.sum()) ** regularization_exp
    reg_i = regularization * (item_counts + c * n_users) ** regularization_exp
    return reg_u, reg_i


def loss(W, X, Y, c, regularization, regularization_exp):
    """L(X, Y) over the dense grid of scores (float64)."""
    W = sp.csr_matrix(W)
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    scores = X @ Y.T
    stored = W.toarray() != 0
    w = W.toarray()
    observed = (w * (scores - 1) ** 2)[stored].sum()
    all_pairs = (c[None, :] * scores**2).sum()
    reg_u, reg_i = regularization_weights(W, c, regularization, regularization_exp)
    return observed + all_pairs + reg_u @ (X**2).sum(1) + reg_i @ (Y**2).sum(1)


def sides(W, c):
    """For each side: (its rows as a CSR, the shared Gram weights of the other side, and each
    row's scale of that Gram), i.e. A_u's shared part is scale_u * F^T diag(weights) F."""
    W = sp.csr_matrix(W)
    n_users, n_items = W.shape
    users = (W, c, np.ones(n_users))
    items = (W.T.tocsr(), np.ones(n_users), c)
    return users, items


def normal_equations(F, gram_weights, scale, reg, cols, w):
    """(A, b) of one row: A = scale F^T diag(gram_weights) F + reg I + sum w_i f_i f_i^T."""
    k = F.shape[1]
    A = scale * gram(F, gram_weights) + reg * np.eye(k)
    A += (F[cols].T * w) @ F[cols]
    b = F[cols].T @ w
    return A, b


def exact_half_sweep(rows, X, F, gram_weights, scales, regs, solver="cholesky", cg_steps=3):
    """Every row of X against fixed F (a copy): Cholesky, or ``cg_steps`` of CG from X."""
    X = np.array(X, copy=True)
    k = X.shape[1]
    for u in range(rows.shape[0]):
        lo, hi = rows.indptr[u], rows.indptr[u + 1]
        if lo == hi:
            X[u] = 0  # b = 0: the exact solution
            continue
        cols, w = rows.indices[lo:hi], rows.data[lo:hi]
        if solver == "cholesky":
            A, b = normal_equations(F, gram_weights, scales[u], regs[u], cols, w)
            X[u] = np.linalg.solve(A, b)
        else:
            shared = scales[u] * gram(F, gram_weights) + regs[u] * np.eye(k)
            X[u] = conjugate_gradient(product(shared, F[cols], w), F[cols].T @ w, X[u], cg_steps)
    return X


def gram(F, gram_weights):
    """F^T diag(gram_weights) F."""
    return (F.T * gram_weights) @ F


def block_step(rows, X, F, G, scales, regs, dims, pred):
    """One exact step on the dimensions ``dims`` of every row of X (in place), against F
    with the shared Gram ``G`` = F^T diag(weights) F (``gram``).

    ``pred[u]`` holds the predictions x_u . f_i of row u's stored cells, updated in place.
    With the gradient g and Hessian H of row u's objective restricted to x_B,

        g = scale G[B, :] x + reg x_B + sum_i w_i (pred_i - 1) f_iB
        H = scale G[B, B]   + reg I   + sum_i w_i f_iB f_iB^T,   G = F^T diag(weights) F,

    the step is x_B -= H^{-1} g (Newton's step on a quadratic: the exact minimiser).
    """
    for u in range(rows.shape[0]):
        lo, hi = rows.indptr[u], rows.indptr[u + 1]
        cols, w = rows.indices[lo:hi], rows.data[lo:hi]
        FB = F[cols][:, dims]
        g = scales[u] * G[dims] @ X[u] + regs[u] * X[u, dims] + FB.T @ (w * (pred[u] - 1))
        H = scales[u] * G[np.ix_(dims, dims)] + regs[u] * np.eye(len(dims)) + (FB.T * w) @ FB
        delta = np.linalg.solve(H, g)
        X[u, dims] -= delta
        pred[u] -= FB @ delta


def predictions(rows, X, F):
    """Per row, the predictions x_u . f_i of its stored cells."""
    return [X[u] @ F[rows.indices[rows.indptr[u] : rows.indptr[u + 1]]].T for u in range(len(X))]


def fit(
    W,
    factors,
    regularization,
    regularization_exp,
    unobserved_weight,
    iterations,
    solver="cholesky",
    block_size=None,
    cg_steps=3,
    init_stddev=0.1,
    random_state=None,
    popularity_exp=None,
    dtype=np.float64,
    block_order="sides",
):
    """iALS from fastals' initialisation (normal(0, init_stddev / sqrt(k)), users then
    items); returns (X, Y) in float64 (computed in float64 from ``dtype``'s initial draw)."""
    W = sp.csr_matrix(W, dtype=np.float64)
    W.eliminate_zeros()
    rng = np.random.default_rng(random_state)
    scale = init_stddev / np.sqrt(factors)
    X = (rng.standard_normal((W.shape[0], factors)) * scale).astype(dtype).astype(np.float64)
    Y = (rng.standard_normal((W.shape[1], factors)) * scale).astype(dtype).astype(np.float64)
    c = item_weights(W, unobserved_weight, popularity_exp)
    reg_u, reg_i = regularization_weights(W, c, regularization, regularization_exp)
    (Wu, gu, scale_u), (Wi, gi, scale_i) = sides(W, c)
    for _ in range(iterations):
        if solver in ("cholesky", "cg"):
            X = exact_half_sweep(Wu, X, Y, gu, scale_u, reg_u, solver, cg_steps)
            Y = exact_half_sweep(Wi, Y, X, gi, scale_i, reg_i, solver, cg_steps)
        elif solver == "ials++":
            size = block_size or min(64, factors)
            blocks = [np.arange(b, min(b + size, factors)) for b in range(0, factors, size)]
            # (the kernel keeps one cache of predictions that both sides update)
            if block_order == "sides":  # every block of the users, then of the items
                for dims in blocks:
                    block_step(Wu, X, Y, gram(Y, gu), scale_u, reg_u, dims, predictions(Wu, X, Y))
                for dims in blocks:
                    block_step(Wi, Y, X, gram(X, gi), scale_i, reg_i, dims, predictions(Wi, Y, X))
            else:  # interleaved: per block, users then items
                for dims in blocks:
                    block_step(Wu, X, Y, gram(Y, gu), scale_u, reg_u, dims, predictions(Wu, X, Y))
                    block_step(Wi, Y, X, gram(X, gi), scale_i, reg_i, dims, predictions(Wi, Y, X))
        else:  # cd: every dimension of a row in turn, users then items
            for rows, A, B, gw, sc, rg in ((Wu, X, Y, gu, scale_u, reg_u),
                                           (Wi, Y, X, gi, scale_i, reg_i)):  # fmt: skip
                G = gram(B, gw)
                for u in range(rows.shape[0]):
                    row, x = rows[u], A[u : u + 1]  # x: a view, updated in place
                    pred = predictions(row, x, B)
                    for f in range(factors):
                        block_step(row, x, B, G, sc[u : u + 1], rg[u : u + 1], [f], pred)
    return X, Y
