"""Partial selection of the top k, exactly as implicit 0.7.3 selects (``implicit/cpu/select.h``).

A min-heap of (score, id) pairs is fed candidates in id order; a new candidate enters only
when its score is strictly above the heap's minimum pair, which is evicted; the survivors are
emitted in descending (score, id) order. So among tied scores the survivors are decided by the
scan, and they come out highest id first. ``heap_push``, ``offer_range`` and ``heap_sort`` let
a caller feed a row's heap in pieces (the all-pairs path does); ``select_row`` is the one-pass
form.

Most candidates of a long row fall below the heap's minimum, and that minimum only rises, so
``offer_range`` compares blocks of 64 candidates with it at once, into a bit mask of the
possible entrants (``simd.mask_above``: one vector comparison), and visits the set bits in
order: the same heap operations in the same order, without a scalar pass over the block.
"""

import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from ._jit import EXACT_DIVISION, jit
from .simd import WIDTH, mask_above, mask_above_loops

SCAN_BLOCK = WIDTH  # candidates tested at once: one bit each in a uint64 mask
ONE = np.uint64(1)


@jit(fastmath=EXACT_DIVISION)
def _less(s_a, i_a, s_b, i_b):
    return s_a < s_b or (s_a == s_b and i_a < i_b)


# Heaps are rows of (n, k) arrays, addressed as (array, row): a view per heap operation would
# cost two atomic reference-count updates, contended between threads.
@jit(fastmath=EXACT_DIVISION)
def _swap(heap_s, heap_i, r, a, b):
    heap_s[r, a], heap_s[r, b] = heap_s[r, b], heap_s[r, a]
    heap_i[r, a], heap_i[r, b] = heap_i[r, b], heap_i[r, a]


@jit(fastmath=EXACT_DIVISION)
def _sift_down(heap_s, heap_i, r, size, s, i):
    """Put (s, i) at the root of heap ``r`` and sift it down to its place.

    The smaller child moves up into the hole, chosen without a branch: which child is
    smaller is a coin toss for random scores, and a mispredicted branch per level cost more
    than the whole comparison (this halved the time of a push).
    """
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        right = min(child + 1, size - 1)  # = child when there is no right child
        cs, ci = heap_s[r, child], heap_i[r, child]
        rs, ri = heap_s[r, right], heap_i[r, right]
        take = (rs < cs) | ((rs == cs) & (ri < ci))  # _less(right, left)
        child += np.int64(take)
        cs = rs if take else cs
        ci = ri if take else ci
        if not ((cs < s) | ((cs == s) & (ci < i))):  # not _less(child, (s, i))
            break
        heap_s[r, pos] = cs
        heap_i[r, pos] = ci
        pos = child
    heap_s[r, pos] = s
    heap_i[r, pos] = i


@jit(fastmath=EXACT_DIVISION)
def _sift_up(heap_s, heap_i, r, pos):
    while pos > 0:
        parent = (pos - 1) // 2
        if not _less(heap_s[r, pos], heap_i[r, pos], heap_s[r, parent], heap_i[r, parent]):
            return
        _swap(heap_s, heap_i, r, pos, parent)
        pos = parent


@jit(fastmath=EXACT_DIVISION)
def heap_push(heap_s, heap_i, r, size, k, s, i):
    """Offer candidate ``i`` with score ``s`` to heap ``r`` holding ``size`` of at most ``k``.

    Returns the new size. Candidates must be offered in increasing id order. Callers test
    ``size < k or s > heap_s[r, 0]`` first (``offer_range`` does): most candidates fail it,
    and a call per candidate (LLVM does not inline this one) would cost more than the test.
    """
    if size < k:
        heap_s[r, size] = s
        heap_i[r, size] = i
        _sift_up(heap_s, heap_i, r, size)
        return size + 1
    if s > heap_s[r, 0]:
        _sift_down(heap_s, heap_i, r, size, s, i)  # evicts the minimum pair
    return size


@jit(fastmath=EXACT_DIVISION)
def heap_sort(heap_s, heap_i, r, size):
    """Pop the minimum into the last free slot until done: descending (score, id) order."""
    for end in range(size - 1, 0, -1):
        s, i = heap_s[r, end], heap_i[r, end]
        heap_s[r, end], heap_i[r, end] = heap_s[r, 0], heap_i[r, 0]
        _sift_down(heap_s, heap_i, r, end, s, i)


@jit(fastmath=EXACT_DIVISION)
def pop_lowest(mask):
    """(position of the lowest set bit of ``mask``, ``mask`` without it); mask != 0."""
    return np.int64(trailing_zeros(mask)), mask & (mask - ONE)


@jit(fastmath=EXACT_DIVISION)
def offer_range(scores, lo, hi, k, heap_s, heap_i, r, size):
    """Offer candidates lo..hi-1 with scores ``scores[lo:hi]`` to heap ``r``, in order.

    Returns the heap's new size.
    """
    if k == 0:
        return 0
    j = lo
    while j < hi and size < k:
        size = heap_push(heap_s, heap_i, r, size, k, scores[j], j)
        j += 1
    for j0 in range(j, hi, SCAN_BLOCK):
        j1 = min(hi, j0 + SCAN_BLOCK)
        if j1 - j0 == SCAN_BLOCK:
            bits = mask_above(scores, j0, heap_s[r, 0])
        else:
            bits = mask_above_loops(scores, j0, j1, heap_s[r, 0])
        while bits:
            t, bits = pop_lowest(bits)
            t += j0
            if scores[t] > heap_s[r, 0]:  # the minimum may have risen since the mask
                heap_push(heap_s, heap_i, r, size, k, scores[t], t)
    return size


@jit(fastmath=EXACT_DIVISION)
def select_row(scores, k, out_ids, out_scores, r):
    """Write the top ``k`` of ``scores`` (n,) into row ``r`` of ``out_ids``/``out_scores``."""
    size = offer_range(scores, 0, scores.shape[0], k, out_scores, out_ids, r, 0)
    heap_sort(out_scores, out_ids, r, size)
