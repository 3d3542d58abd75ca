"""Gram matrix Y^T Y, the part of every row's system that all rows share."""

import numpy as np
from numba import prange

from ._jit import jit

MAX_BLOCKS = 64  # fixed, so the summation order never depends on the thread count


@jit(parallel=True)
def gram(Y):
    """Return Y^T Y, shape (k, k), in Y's dtype, for ``Y`` of shape (n, k).

    Rows are cut into at most MAX_BLOCKS blocks; each block's partial Gram (upper
    triangle) is computed in parallel and the partials are summed in block order.
    """
    n, k = Y.shape
    n_blocks = max(1, min(MAX_BLOCKS, (n + 255) // 256))
    size = (n + n_blocks - 1) // n_blocks
    partial = np.zeros((n_blocks, k, k), Y.dtype)
    for blk in prange(n_blocks):
        G = partial[blk]
        for row in range(blk * size, min(n, (blk + 1) * size)):
            y = Y[row]
            for a in range(k):
                ya = y[a]
                Ga = G[a, a:]
                ys = y[a:]
                for b in range(k - a):  # from 0: see topk._score_block
                    Ga[b] += ya * ys[b]
    out = np.zeros((k, k), Y.dtype)
    for blk in range(n_blocks):
        out += partial[blk]
    for a in range(k):
        for b in range(a):
            out[a, b] = out[b, a]
    return out
