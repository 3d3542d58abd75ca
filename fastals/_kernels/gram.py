"""Gram matrix Y^T Y, the part of every row's system that all rows share."""

import numpy as np

from ._jit import jit


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


@jit()
def gram_blocks(b0, b1, Y, size, partial):
    """partial[blk] = sum of y y^T over the rows blk * size.. (blk + 1) * size - 1 of ``Y``
    (n, k), for the blocks b0..b1-1: the full square, four rows at a time (aligned,
    vectorised rows beat the triangle's half of the work). ``_threads.parallel_for`` runs
    the blocks in parallel; ``sum_blocks`` adds them up."""
    n = Y.shape[0]
    for blk in range(b0, b1):
        G = partial[blk]
        G[:, :] = 0
        end = min(n, (blk + 1) * size)
        row = blk * size
        while row + 4 <= end:
            _add_rows(Y, row, G)
            row += 4
        for last in range(row, end):
            _add_row(Y, last, G)


@jit()
def sum_blocks(partial):
    """The sum of the (n_blocks, k, k) partial Gram matrices in block order, made exactly
    symmetric from its upper triangle."""
    k = partial.shape[1]
    out = np.zeros((k, k), partial.dtype)
    for blk in range(partial.shape[0]):
        out += partial[blk]
    for a in range(k):
        for b in range(a):
            out[a, b] = out[b, a]
    return out
