"""Gram matrix Y^T Y, the part of every row's system that all rows share."""

import numpy as np
from numba import prange

from ._jit import jit

MAX_BLOCKS = 64  # fixed, so the summation order never depends on the thread count


@jit()
def _add_rows(Y, r, G):
    """G += sum over the four rows y of Y[r:r + 4] of y y^T (the full k x k square).

    Each row of G is loaded and stored once per four rows of Y (four multiply-adds per
    loaded value of G); 2-D indexing, no views (a view costs reference counting).
    """
    k = Y.shape[1]
    r0, r1, r2, r3 = r, r + 1, r + 2, r + 3
    for a in range(k):
        c0, c1, c2, c3 = Y[r0, a], Y[r1, a], Y[r2, a], Y[r3, a]
        for b in range(k):
            G[a, b] += c0 * Y[r0, b] + c1 * Y[r1, b] + c2 * Y[r2, b] + c3 * Y[r3, b]


@jit()
def _add_row(Y, r, G):
    """G += y y^T for y = Y[r]."""
    k = Y.shape[1]
    for a in range(k):
        c = Y[r, a]
        for b in range(k):
            G[a, b] += c * Y[r, b]


@jit(parallel=True)
def gram(Y):
    """Return Y^T Y, shape (k, k), in Y's dtype, for ``Y`` of shape (n, k).

    Rows are cut into at most MAX_BLOCKS blocks; each block's partial Gram is computed in
    parallel, four rows at a time, and the partials are summed in block order. The full
    square is accumulated (aligned, vectorised rows beat the triangle's half of the work);
    the result is made exactly symmetric from its upper triangle.
    """
    n, k = Y.shape
    n_blocks = max(1, min(MAX_BLOCKS, (n + 255) // 256))
    size = (n + n_blocks - 1) // n_blocks
    partial = np.zeros((n_blocks, k, k), Y.dtype)
    for blk in prange(n_blocks):
        G = partial[blk]
        end = min(n, (blk + 1) * size)
        row = blk * size
        while row + 4 <= end:
            _add_rows(Y, row, G)
            row += 4
        for last in range(row, end):
            _add_row(Y, last, G)
    out = np.zeros((k, k), Y.dtype)
    for blk in range(n_blocks):
        out += partial[blk]
    for a in range(k):
        for b in range(a):
            out[a, b] = out[b, a]
    return out
