"""All-pairs top-k: each row's top k against every row of Y, from half the dot products.

Y Y^T is symmetric, so each strip of rows is scored only against the columns from the
strip's first row on: a dot product d(i, j) with j past the strip feeds row i's heap (as
column j, score d / norms[j]) and row j's heap (as column i, score d / norms[i]). Strips go in
order, so every row's heap is still offered its columns in increasing id order, the scan
order that decides ties (``select.py``): results are ``topk``'s, ties included.

Selection reads the raw dot products. A candidate enters a full heap only if
``d / norm > floor`` (floor: the heap's minimum), which for norm > 0 implies
``d > floor * norm``. ``_lowered(floor) * norm - TINY`` is below that product whatever the
roundings (the floor moved down by 2^-20 of itself; a product rounds by 2^-24), so blocks of
64 candidates are tested against it with one multiply-add each, as one vector comparison
whose result is the block's bit mask (``simd.masks``), floors lowered once when they change;
only the set bits are divided and tested exactly, so no division runs on the ~99% that
cannot enter.

Most heap pushes happen early, while heaps hold only a few candidates (a row offered its
columns in random order takes about k (1 + ln(n / k)) of them). Skipping a candidate below a
lower bound of the row's final k-th best score never changes the final heap (a candidate
below it could only ever evict others below it). So each column's k-th best score among the
first strip's rows (up to ``PAIRS_STRIP``), found by a vectorised insertion network, bounds
the transposed offers: rows past the strip take about k pushes from it instead of
k (1 + ln(256 / k)).
"""

import numpy as np

from ._jit import EXACT_DIVISION, jit
from .select import SCAN_BLOCK, heap_push, heap_sort, pop_lowest
from .simd import mask_above_fma
from .topk import _score_block

PAIRS_STRIP = 256  # rows per strip at most
MIN_STRIP = 64  # rows per strip at least, however many columns
STRIP_BYTES = 8 << 20  # a strip's scores (rows x n) take at most this above MIN_STRIP rows
PAIRS_CHUNK = 512  # columns per parallel task within a strip
WARMUP_MAX_K = 32  # the network makes k passes per strip row: only for small k
SLACK = np.float32(2.0**-20)  # relative margin of the threshold (a product rounds by 2^-24)
TINY = np.float32(np.finfo(np.float32).tiny)  # absolute margin: products in subnormal range


@jit(fastmath=EXACT_DIVISION)
def _lowered(floor):
    """``floor`` less 2^-20 of its magnitude (NaN stays NaN: no floor)."""
    return floor - abs(floor) * SLACK


@jit(fastmath=EXACT_DIVISION)
def _below(lowered, norm):
    """The test threshold from a floor already ``_lowered`` (the kernels keep floors so)."""
    return lowered * norm - TINY


@jit(fastmath=EXACT_DIVISION)
def _threshold(floor, norm):
    """A dot product d <= this cannot give d / norm > floor (norm > 0; NaN floor: none)."""
    return _below(_lowered(floor), norm)


@jit(fastmath=EXACT_DIVISION, inline="always")
def _could_enter(raw, lo, hi, per_candidate, common):
    """Bit t set when raw[lo + t] is not <= _below(per_candidate[lo + t], common); hi - lo <= 64.

    One side of the product is a lowered floor, the other a norm: a row's own candidates
    pass their norms and the row's lowered floor as ``common``; the transposed offers pass
    the candidate rows' lowered floors and the offering row's norm. A full block is one
    vector comparison (``simd.mask_above_fma``: the product and the subtraction rounded
    once, which keeps the threshold below an entrant's as ``_below`` does).
    """
    if hi - lo == SCAN_BLOCK:
        return mask_above_fma(raw, per_candidate, lo, common, TINY)
    mask = np.uint64(0)
    for t in range(np.uint64(0), np.uint64(hi - lo)):
        c = np.uint64(lo) + t
        mask |= np.uint64(not raw[c] <= _below(per_candidate[c], common)) << t
    return mask


@jit(fastmath=EXACT_DIVISION)
def _offer_row(raw, norms, lo, hi, k, heap_s, heap_i, r, size):
    """``select.offer_range`` for heap ``r`` fed scores raw[c] / norms[c], c = lo..hi-1."""
    c = lo
    while c < hi and size < k:
        size = heap_push(heap_s, heap_i, r, size, k, raw[c] / norms[c], c)
        c += 1
    for c0 in range(c, hi, SCAN_BLOCK):
        bits = _could_enter(raw, c0, min(hi, c0 + SCAN_BLOCK), norms, _lowered(heap_s[r, 0]))
        while bits:
            t, bits = pop_lowest(bits)
            s = raw[c0 + t] / norms[c0 + t]
            if s > heap_s[r, 0]:  # the minimum may have risen since the mask
                heap_push(heap_s, heap_i, r, size, k, s, c0 + t)
    return size


@jit(fastmath=EXACT_DIVISION)
def _kth_best_columns(strip, r0, r1, lo, hi, k, norms, out):
    """out[j] = the k-th largest of strip[i - r0, j] / norms[i] over the strip's rows i.

    For j = lo..hi-1; -inf with fewer than k rows, NaN when a score is NaN (no bound). Each
    row's scores pass down k sorted levels (max stays, min moves on), all columns at once.
    """
    width = np.uint64(hi - lo)
    base = np.uint64(lo)
    top = np.full((k, hi - lo), -np.inf, strip.dtype)
    x = np.empty(hi - lo, strip.dtype)
    nan = np.zeros(hi - lo, np.bool_)
    for i in range(r0, r1):
        row = np.uint64(i - r0)
        norm = norms[i]
        for t in range(width):
            x[t] = strip[row, base + t] / norm
            nan[t] |= x[t] != x[t]
        for level in range(k):
            for t in range(width):
                kept, moved = top[level, t], x[t]
                top[level, t] = max(kept, moved)
                x[t] = min(kept, moved)
    for t in range(width):
        out[base + t] = np.nan if nan[t] else top[k - 1, t]


@jit(fastmath=EXACT_DIVISION)
def _offer_strip_columns(strip, r0, r1, c0, c1, k, norms, tests, heaps):
    """Rows j in max(c0, r1)..c1-1 are offered the strip's rows i = r0..r1-1 as columns.

    score(j, i) = strip[i - r0, j] / norms[i]. ``heaps`` = (ids, scores, sizes, floors): the
    rows' heaps, and ``floors[j]``, row j's lowered heap minimum once its heap is full (NaN
    before: everything may enter). ``tests`` = (lows, bounds): scores below ``bounds[j]`` are
    skipped, ``floors`` itself or a lower bound of row j's final k-th best score (NaN: none);
    ``lows`` is ``bounds`` lowered, for the multiply test. A block's mask names distinct rows
    j, so a push into one row leaves the other bits of the mask exact.
    """
    lows, bounds = tests
    out_ids, out_scores, sizes, floors = heaps
    j_lo = max(c0, r1)
    for i in range(r0, r1):
        raw = strip[i - r0]
        norm = norms[i]
        for lo in range(j_lo, c1, SCAN_BLOCK):
            bits = _could_enter(raw, lo, min(c1, lo + SCAN_BLOCK), lows, norm)
            while bits:
                t, bits = pop_lowest(bits)
                j = lo + t
                s = raw[j] / norm
                if not s < bounds[j]:  # heap_push makes the exact test
                    sizes[j] = heap_push(out_scores, out_ids, j, sizes[j], k, s, i)
                    if sizes[j] == k:
                        floors[j] = _lowered(out_scores[j, 0])


@jit(fastmath=EXACT_DIVISION)
def strip_columns(c_lo, c_hi, r0, r1, first, candidates, k, strip, bounds, heaps):
    """Score rows r0..r1-1 (the strip) against the columns c_lo..c_hi-1 (>= r0) in chunks on
    the PAIRS_CHUNK grid (whole panels for the tile), and offer the strip's rows to the heaps
    of those columns past the strip (the transposed offers). ``candidates`` = (Y, YT, YP,
    norms) as in ``topk``; ``bounds`` = (lows, bounds) and ``heaps`` = (ids, scores, sizes,
    floors) as in ``_offer_strip_columns``. ``first``: the first strip, whose scores also give each
    column's lower bound (``bounds``/``lows``) when k <= WARMUP_MAX_K. A call writes only its
    own columns' heaps: calls on other columns may run at the same time.
    """
    Y, YT, YP, norms = candidates
    lows, column_bounds = bounds
    floors = heaps[3]
    c0 = c_lo
    while c0 < c_hi:
        c1 = min(c_hi, (c0 // PAIRS_CHUNK + 1) * PAIRS_CHUNK)  # chunks on the global grid
        _score_block(Y, YT, YP, r0, r1, c0, c1, PAIRS_CHUNK, strip)
        warm = first and k <= WARMUP_MAX_K and max(c0, r1) < c1
        if warm:
            _kth_best_columns(strip, r0, r1, max(c0, r1), c1, k, norms, column_bounds)
            for j in range(max(c0, r1), c1):
                lows[j] = _lowered(column_bounds[j])
            tests = (lows, column_bounds)
        else:
            tests = (floors, floors)
        _offer_strip_columns(strip, r0, r1, c0, c1, k, norms, tests, heaps)
        c0 = c1


@jit(fastmath=EXACT_DIVISION)
def strip_rows(i0, i1, r0, strip, norms, k, sizes, out_ids, out_scores):
    """Rows r0 + i0..r0 + i1-1 of the strip take its columns from r0 on (columns < r0 came
    with earlier strips), in increasing order; their heaps are then final, and sorted."""
    n = norms.shape[0]
    for i in range(r0 + i0, r0 + i1):
        sizes[i] = _offer_row(strip[i - r0], norms, r0, n, k, out_scores, out_ids, i, sizes[i])
    sort_rows(r0 + i0, r0 + i1, sizes, out_ids, out_scores)


@jit(fastmath=EXACT_DIVISION, inline="never")
def sort_rows(i0, i1, sizes, out_ids, out_scores):
    """Each heap of rows i0..i1-1 sorted, best first (comparisons only: never inlined)."""
    for i in range(i0, i1):
        heap_sort(out_scores, out_ids, i, sizes[i])
