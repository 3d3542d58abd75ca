"""Top-k over factor scores: scoring, filtering and partial selection, parallel over queries.

Selection is implicit 0.7.3's (see ``select.py``), so results, ties included, are implicit's.
"""

import numpy as np

from ._jit import EXACT_DIVISION, jit
from .fma import fma
from .linalg import dot
from .select import select_row
from .simd import score_tiles

QUERY_BLOCK = 8  # queries scored together at least, sharing the candidate factors they load
QUERY_BLOCK_MAX = 64  # at most: each 32-column panel of Y^T then serves 8 register tiles
BLOCK_SCORES_BYTES = 4 << 20  # a block's scores ((queries, n_c)) take at most about this
ITEM_CHUNK = 1024  # candidates per chunk of the loops: the block's score rows stay in L1/L2


@jit(fastmath=EXACT_DIVISION)
def _score_block(Q, YT, YP, q0, q1, c_lo, c_hi, chunk, scores):
    """scores[q - q0, c] = Q[q] . YT[:, c] for the queries q0..q1-1 and columns c_lo..c_hi-1.

    Whole tiles by ``simd.tile.score_tile`` (vector registers, float32; ``YP`` is
    ``simd.panels(YT)``), the edges (or all of it, where the tile does not apply) by
    ``_score_block_loops``: the same products added in the same order by fused
    multiply-adds (``fma`` in the loops), so the same floats either way.
    """
    q_end, c_start, c_end = score_tiles(Q, YP, q0, q1, c_lo, c_hi, scores)
    _score_block_loops(Q, YT, q0, q_end, 0, c_lo, c_start, chunk, scores)
    _score_block_loops(Q, YT, q0, q_end, 0, c_end, c_hi, chunk, scores)
    _score_block_loops(Q, YT, q_end, q1, q_end - q0, c_lo, c_hi, chunk, scores)


@jit(fastmath=EXACT_DIVISION)
def _score_block_loops(Q, YT, q0, q1, j0, c_lo, c_hi, chunk, scores):
    """scores[j0 + q - q0, c] = Q[q] . YT[:, c] (q0 <= q < q1, c_lo <= c < c_hi), as loops.

    Columns go ``chunk`` at a time, so that the block's score rows stay in cache while every
    factor of the chunk is added in. The register tile: four queries times four factors,
    so each candidate's four factor values are loaded once and used by 16 multiply-adds
    (the loop is bound by FMA throughput, not by loading and storing score rows). The
    first four factors write the scores (no zeroing pass); leftover factors and queries go
    one at a time. Everything is indexed on the arrays themselves, unsigned: a view or a
    call taking arrays would update reference counts (atomic) in the inner loops, and a
    signed index keeps Numba's wraparound test.
    """
    k = YT.shape[0]
    for c0 in range(c_lo, c_hi, chunk):
        lo, hi = np.uint64(c0), np.uint64(min(c_hi, c0 + chunk))
        if k < 4:
            for q in range(q0, q1):
                scores[j0 + q - q0, c0 : min(c_hi, c0 + chunk)] = 0
        f = 0
        while f + 4 <= k:
            f0, f1, f2, f3 = np.uint64(f), np.uint64(f + 1), np.uint64(f + 2), np.uint64(f + 3)
            q = q0
            while q + 4 <= q1:
                _tile_4x4(Q, YT, scores, q, np.uint64(j0 + q - q0), f0, f1, f2, f3, lo, hi, f > 0)
                q += 4
            for q_left in range(q, q1):
                j = np.uint64(j0 + q_left - q0)
                a0, a1 = Q[q_left, f0], Q[q_left, f1]
                a2, a3 = Q[q_left, f2], Q[q_left, f3]
                if f > 0:
                    for c in range(lo, hi):
                        scores[j, c] = _madd4(
                            scores[j, c], a0, a1, a2, a3, YT[f0, c], YT[f1, c], YT[f2, c], YT[f3, c]
                        )
                else:
                    for c in range(lo, hi):
                        scores[j, c] = _mul4(
                            a0, a1, a2, a3, YT[f0, c], YT[f1, c], YT[f2, c], YT[f3, c]
                        )
            f += 4
        for f_left in range(f, k):
            fl = np.uint64(f_left)
            for q in range(q0, q1):
                j = np.uint64(j0 + q - q0)
                qf = Q[q, fl]
                for c in range(lo, hi):
                    scores[j, c] = fma(qf, YT[fl, c], scores[j, c])


@jit(fastmath=EXACT_DIVISION, inline="always")
def _tile_4x4(Q, YT, scores, q, j, f0, f1, f2, f3, lo, hi, add):
    """scores[j + t, c] (+)= Q[q + t, f0:f3 + 1] . YT[f0:f3 + 1, c], t = 0..3, c = lo..hi-1."""
    a0, a1, a2, a3 = Q[q, f0], Q[q, f1], Q[q, f2], Q[q, f3]
    b0, b1, b2, b3 = Q[q + 1, f0], Q[q + 1, f1], Q[q + 1, f2], Q[q + 1, f3]
    c0, c1, c2, c3 = Q[q + 2, f0], Q[q + 2, f1], Q[q + 2, f2], Q[q + 2, f3]
    d0, d1, d2, d3 = Q[q + 3, f0], Q[q + 3, f1], Q[q + 3, f2], Q[q + 3, f3]
    j1, j2, j3 = j + np.uint64(1), j + np.uint64(2), j + np.uint64(3)
    if add:
        for c in range(lo, hi):
            x0, x1, x2, x3 = YT[f0, c], YT[f1, c], YT[f2, c], YT[f3, c]
            scores[j, c] = _madd4(scores[j, c], a0, a1, a2, a3, x0, x1, x2, x3)
            scores[j1, c] = _madd4(scores[j1, c], b0, b1, b2, b3, x0, x1, x2, x3)
            scores[j2, c] = _madd4(scores[j2, c], c0, c1, c2, c3, x0, x1, x2, x3)
            scores[j3, c] = _madd4(scores[j3, c], d0, d1, d2, d3, x0, x1, x2, x3)
    else:  # the same sums, written over whatever the scores held
        for c in range(lo, hi):
            x0, x1, x2, x3 = YT[f0, c], YT[f1, c], YT[f2, c], YT[f3, c]
            scores[j, c] = _mul4(a0, a1, a2, a3, x0, x1, x2, x3)
            scores[j1, c] = _mul4(b0, b1, b2, b3, x0, x1, x2, x3)
            scores[j2, c] = _mul4(c0, c1, c2, c3, x0, x1, x2, x3)
            scores[j3, c] = _mul4(d0, d1, d2, d3, x0, x1, x2, x3)


@jit(fastmath=EXACT_DIVISION, inline="always")
def _madd4(s, a0, a1, a2, a3, x0, x1, x2, x3):
    """s + a0 x0 + a1 x1 + a2 x2 + a3 x3, one fused multiply-add at a time, in that order."""
    return fma(a3, x3, fma(a2, x2, fma(a1, x1, fma(a0, x0, s))))


@jit(fastmath=EXACT_DIVISION, inline="always")
def _mul4(a0, a1, a2, a3, x0, x1, x2, x3):
    """a0 x0 + a1 x1 + a2 x2 + a3 x3 as ``_madd4`` from the first product."""
    return fma(a3, x3, fma(a2, x2, fma(a1, x1, a0 * x0)))


@jit(fastmath=EXACT_DIVISION)
def _score_block_dots(Q, Y, q0, q1, scores):
    """scores[q - q0, c] = Q[q] . Y[c]: for few queries, no transposed copy of Y needed."""
    for q in range(q0, q1):
        s = scores[q - q0]
        for c in range(Y.shape[0]):
            s[c] = dot(Q[q], Y[c])


@jit(fastmath=EXACT_DIVISION)
def query_block(n_c, itemsize):
    """Queries scored together: their scores ((block, n_c)) take about BLOCK_SCORES_BYTES,
    between QUERY_BLOCK and QUERY_BLOCK_MAX, a multiple of QUERY_BLOCK."""
    fit = BLOCK_SCORES_BYTES // max(1, n_c * itemsize) // QUERY_BLOCK * QUERY_BLOCK
    return max(QUERY_BLOCK, min(QUERY_BLOCK_MAX, fit))


@jit(fastmath=EXACT_DIVISION)
def topk(blk0, blk1, block, Q, candidates, k, filters, out):
    """Top ``k`` candidates for the query rows of ``Q`` (n_q, f) in blocks blk0..blk1-1 of
    ``block`` rows (``query_block``); ``_threads.parallel_for`` runs ranges of blocks in
    parallel.

    ``candidates`` = (Y, YT, YP, norms): ``Y`` (n_c, f); ``YT`` is Y transposed and
    C-contiguous (f, n_c), or empty (f, 0) to score by dot products on ``Y`` (cheaper for a
    handful of queries); ``YP`` is ``simd.panels(YT)``. score = q . y (divided by
    ``norms[c]`` when ``norms`` is non-empty). ``filters`` = (liked_indptr, liked_indices,
    item_pos, filter_pos): filtered candidates get -finfo.max: the query's row of the
    ``liked_*`` CSR (global item ids, mapped to candidate positions through ``item_pos``, -1 =
    not a candidate; disabled when ``liked_indptr`` is empty) and every position in
    ``filter_pos``. ``out`` = (ids, scores), (n_q, k) each: candidate positions (int32) and
    their scores.
    """
    Y, YT, YP, norms = candidates
    liked_indptr, liked_indices, item_pos, filter_pos = filters
    out_ids, out_scores = out
    n_q = Q.shape[0]
    n_c = Y.shape[0]
    transposed = YT.shape[1] == n_c
    lowest = -np.finfo(out_scores.dtype).max
    use_liked = liked_indptr.shape[0] > 0
    scores = np.empty((block, n_c), out_scores.dtype)
    for blk in range(blk0, blk1):
        q0 = blk * block
        q1 = min(n_q, q0 + block)
        if transposed:
            _score_block(Q, YT, YP, q0, q1, 0, n_c, ITEM_CHUNK, scores)
        else:
            _score_block_dots(Q, Y, q0, q1, scores)
        for q in range(q0, q1):
            s = scores[q - q0]
            if norms.shape[0] > 0:
                for i in range(n_c):
                    s[i] = s[i] / norms[i]
            if use_liked:
                for idx in range(liked_indptr[q], liked_indptr[q + 1]):
                    pos = item_pos[liked_indices[idx]]
                    if pos >= 0:
                        s[pos] = lowest
            for pos in filter_pos:
                s[pos] = lowest
            select_row(s, k, out_ids, out_scores, q)
