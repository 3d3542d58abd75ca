"""Block and element-wise coordinate descent on the iALS objective (``ials`` module).

Both keep a cache of the predictions x_u . y_i on the stored pairs, one float per stored
entry in the users' CSR order: ``slots[idx]`` is where the entry ``idx`` of a side's CSR
keeps its prediction (the identity on the users' side, the transpose's permutation on the
items' side), so both sides read and update one cache.

For a block B of dimensions, row u's objective restricted to x_B (the rest fixed) has

    gradient g = s G[B, :] x + lambda x_B + sum_i w_i (p_i - 1) y_iB
    Hessian  H = s G[B, B] + lambda I + sum_i w_i y_iB y_iB^T

(p_i the cached prediction), and the exact block step is x_B -= H^{-1} g, after which each
p_i drops by (H^{-1} g) . y_iB. Blocks of all k dimensions give the exact solve (iALS); one
dimension gives coordinate descent (iCD / eALS). Rendle et al. 2021 (iALS++), He et al. 2016.
"""

import numpy as np

from ._jit import jit
from .linalg import cholesky_solve
from .simd import add_outer_products, outer_scratch


@jit()
def predictions(u0, u1, rows, slots, X, Y, pred):
    """pred[slots[idx]] = X[u] . Y[indices[idx]] for the stored entries of rows u0..u1-1."""
    indptr, indices, _ = rows
    k = X.shape[1]
    for u in range(u0, u1):
        for idx in range(indptr[u], indptr[u + 1]):
            i = indices[idx]
            s = X.dtype.type(0)
            for j in range(k):
                s += X[u, j] * Y[i, j]
            pred[slots[idx]] = s


@jit()
def block_step(u0, u1, rows, slots, X, YB, system, b0, pred, status):
    """One exact step on the dimensions b0..b1-1 of rows u0..u1-1 of ``X``, in place, where
    ``YB`` (n_cols, b1 - b0) holds those columns of Y, contiguous (so the rank-1 updates
    vectorise: indexing Y at a column offset measured 4x slower).

    ``rows`` = (indptr, indices, data), ``system`` = (G, gram_scale, reg) as in
    ``ials.ials_cholesky_sweep``; ``pred`` the prediction cache (updated). ``status`` gets 0
    or the failed pivot (1-based) where the block's Hessian is not positive definite (the
    row is then left unchanged).
    """
    indptr, indices, data = rows
    G, gram_scale, reg = system
    k = X.shape[1]
    size = YB.shape[1]
    one = X.dtype.type(1)
    zero = X.dtype.type(0)
    H = np.empty((size, size), X.dtype)
    g = np.empty(size, X.dtype)
    outer = outer_scratch(size, X)
    for u in range(u0, u1):
        status[u] = 0
        s, lam = gram_scale[u], reg[u]
        for a in range(size):
            acc = X.dtype.type(0)
            for j in range(k):
                acc += G[b0 + a, j] * X[u, j]
            g[a] = s * acc + lam * X[u, b0 + a]
            for m in range(a + 1):
                H[a, m] = s * G[b0 + a, b0 + m]
            H[a, a] += lam
        for idx in range(indptr[u], indptr[u + 1]):
            i = indices[idx]
            we = data[idx] * (pred[slots[idx]] - one)
            for a in range(size):
                g[a] += we * YB[i, a]
        add_outer_products(indices, data, indptr[u], indptr[u + 1], YB, H, zero, outer)
        info = cholesky_solve(H, g)  # g becomes the step
        if info != 0:
            status[u] = info
            continue
        for a in range(size):
            X[u, b0 + a] -= g[a]
        for idx in range(indptr[u], indptr[u + 1]):
            i = indices[idx]
            d = X.dtype.type(0)
            for a in range(size):
                d += g[a] * YB[i, a]
            pred[slots[idx]] -= d


@jit()
def cd_sweep(u0, u1, rows, slots, X, Y, system, pred):
    """Element-wise coordinate descent (eALS order): for each row u0..u1-1, every dimension
    f in turn takes its exact step x_f -= g_f / H_ff, in place; ``pred`` is updated.

    The row's entries' factors are read dimension by dimension (a column of the gathered
    rows of Y per step), as in He et al.'s element-wise update. H_ff >= lambda_u + s G_ff > 0
    unless both are 0 (then the dimension is left unchanged).
    """
    indptr, indices, data = rows
    G, gram_scale, reg = system
    k = X.shape[1]
    zero = X.dtype.type(0)
    one = X.dtype.type(1)
    for u in range(u0, u1):
        s, lam = gram_scale[u], reg[u]
        start, end = indptr[u], indptr[u + 1]
        for f in range(k):
            acc = zero
            for j in range(k):
                acc += G[f, j] * X[u, j]
            g = s * acc + lam * X[u, f]
            h = s * G[f, f] + lam
            for idx in range(start, end):
                y = Y[indices[idx], f]
                wy = data[idx] * y
                g += wy * (pred[slots[idx]] - one)
                h += wy * y
            if not h > zero:
                continue
            step = g / h
            X[u, f] -= step
            for idx in range(start, end):
                pred[slots[idx]] -= step * Y[indices[idx], f]
