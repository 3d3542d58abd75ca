"""Gram matrix Y^T Y, the part of every row's system that all rows share."""

import numpy as np

from ._jit import jit
from .simd import add_outer_products, outer_scratch


@jit()
def gram_blocks(b0, b1, Y, size, partial):
    """partial[blk] = sum of y y^T over the rows blk * size.. (blk + 1) * size - 1 of ``Y``
    (n, k), lower triangle (some of the upper may be written too), for the blocks b0..b1-1:
    a block's rows are the entries of ``simd.add_outer_products`` with weight 1 (its register
    tiles: 2-2.5x the four-rows-at-a-time loops on Last.fm's 17,632 x 64). ``_threads.
    parallel_for`` runs the blocks in parallel; ``sum_blocks`` adds them up."""
    n, k = Y.shape
    scratch = outer_scratch(k, Y)
    ones = np.ones(min(n, size), Y.dtype)
    zero = Y.dtype.type(0)
    for blk in range(b0, b1):
        G = partial[blk]
        G[:, :] = 0
        row = blk * size
        end = min(n, row + size)
        rows = np.arange(row, end).astype(np.int64)
        add_outer_products(rows, ones, 0, end - row, Y, G, zero, scratch)


@jit()
def sum_blocks(partial):
    """The sum of the (n_blocks, k, k) partial Gram matrices in block order, made exactly
    symmetric from its lower triangle."""
    k = partial.shape[1]
    out = np.zeros((k, k), partial.dtype)
    for blk in range(partial.shape[0]):
        out += partial[blk]
    for a in range(k):
        for b in range(a):
            out[b, a] = out[a, b]
    return out
