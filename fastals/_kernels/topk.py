"""Top-k over factor scores: scoring, filtering and partial selection, parallel over queries.

Selection is implicit 0.7.3's (see ``select.py``), so results, ties included, are implicit's.
"""

import numpy as np
from numba import prange

from ._jit import EXACT_DIVISION, jit
from .linalg import dot
from .select import select_row

QUERY_BLOCK = 8  # queries scored together, sharing each chunk of candidate factors
ITEM_CHUNK = 1024  # candidates per chunk: the block's score rows stay in L1/L2


@jit(fastmath=EXACT_DIVISION)
def _madd_4x4(Q, q, f, r0, r1, r2, r3, s0, s1, s2, s3, add):
    """s_j += Q[q + j, f:f + 4] . [r0; r1; r2; r3] for the four queries j = 0..3.

    The register tile of the scoring loop: each candidate's four factor values are loaded
    once and used by 16 multiply-adds, so the loop is bound by FMA throughput rather than by
    loading and storing the score rows (one load and one store per multiply-add otherwise).
    ``add`` False: s_j = ... instead (the first factors; no zeroing pass over the scores).
    """
    zero = s0.dtype.type(0)
    a0, a1, a2, a3 = Q[q, f], Q[q, f + 1], Q[q, f + 2], Q[q, f + 3]
    b0, b1, b2, b3 = Q[q + 1, f], Q[q + 1, f + 1], Q[q + 1, f + 2], Q[q + 1, f + 3]
    c0, c1, c2, c3 = Q[q + 2, f], Q[q + 2, f + 1], Q[q + 2, f + 2], Q[q + 2, f + 3]
    d0, d1, d2, d3 = Q[q + 3, f], Q[q + 3, f + 1], Q[q + 3, f + 2], Q[q + 3, f + 3]
    for i in range(s0.shape[0]):
        x0, x1, x2, x3 = r0[i], r1[i], r2[i], r3[i]
        s0[i] = (s0[i] if add else zero) + a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3
        s1[i] = (s1[i] if add else zero) + b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3
        s2[i] = (s2[i] if add else zero) + c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3
        s3[i] = (s3[i] if add else zero) + d0 * x0 + d1 * x1 + d2 * x2 + d3 * x3


@jit(fastmath=EXACT_DIVISION)
def _score_block(Q, YT, q0, q1, c_lo, c_hi, chunk, scores):
    """scores[q - q0, c] = Q[q] . YT[:, c] for the queries q0..q1-1 and columns c_lo..c_hi-1.

    Columns go ``chunk`` at a time, so that the block's score rows stay in cache while every
    factor of the chunk is added in. Factors go four at a time through ``_madd_4x4``
    (queries four at a time), the leftover factors and queries one at a time. Inner loops
    run over slices from 0 so that LLVM vectorises them (an offset range keeps Numba's
    negative-index wraparound checks).
    """
    k = YT.shape[0]
    zero = scores.dtype.type(0)
    for c0 in range(c_lo, c_hi, chunk):
        c1 = min(c_hi, c0 + chunk)
        if k < 4:
            for q in range(q0, q1):
                scores[q - q0, c0:c1] = 0
        f = 0
        while f + 4 <= k:
            add = f > 0  # the first four factors write the scores
            r0, r1 = YT[f, c0:c1], YT[f + 1, c0:c1]
            r2, r3 = YT[f + 2, c0:c1], YT[f + 3, c0:c1]
            q = q0
            while q + 4 <= q1:
                j = q - q0
                s0, s1 = scores[j, c0:c1], scores[j + 1, c0:c1]
                s2, s3 = scores[j + 2, c0:c1], scores[j + 3, c0:c1]
                _madd_4x4(Q, q, f, r0, r1, r2, r3, s0, s1, s2, s3, add)
                q += 4
            for q_left in range(q, q1):
                s0 = scores[q_left - q0, c0:c1]
                a0, a1, a2 = Q[q_left, f], Q[q_left, f + 1], Q[q_left, f + 2]
                a3 = Q[q_left, f + 3]
                for i in range(c1 - c0):
                    part = a0 * r0[i] + a1 * r1[i] + a2 * r2[i] + a3 * r3[i]
                    s0[i] = (s0[i] if add else zero) + part
            f += 4
        for f_left in range(f, k):
            row = YT[f_left, c0:c1]
            for q in range(q0, q1):
                s0 = scores[q - q0, c0:c1]
                qf = Q[q, f_left]
                for i in range(c1 - c0):
                    s0[i] += qf * row[i]


@jit(fastmath=EXACT_DIVISION)
def _score_block_dots(Q, Y, q0, q1, scores):
    """scores[q - q0, c] = Q[q] . Y[c]: for few queries, no transposed copy of Y needed."""
    for q in range(q0, q1):
        s = scores[q - q0]
        for c in range(Y.shape[0]):
            s[c] = dot(Q[q], Y[c])


@jit(parallel=True, fastmath=EXACT_DIVISION)
def topk(
    Q, Y, YT, k, norms, liked_indptr, liked_indices, item_pos, filter_pos, out_ids, out_scores
):
    """Top ``k`` candidates for each query row of ``Q`` (n_q, f) against ``Y`` (n_c, f).

    ``YT`` is Y transposed and C-contiguous (f, n_c), or empty (f, 0) to score by dot
    products on ``Y`` (cheaper for a handful of queries). score = q . y (divided by
    ``norms[c]`` when ``norms`` is non-empty). Filtered
    candidates get -finfo.max: the query's row of the ``liked_*`` CSR (global item ids,
    mapped to candidate positions through ``item_pos``, -1 = not a candidate; disabled when
    ``liked_indptr`` is empty) and every position in ``filter_pos``. Writes candidate
    positions (int32) and scores into ``out_ids``/``out_scores`` (n_q, k).
    """
    n_q = Q.shape[0]
    n_c = Y.shape[0]
    transposed = YT.shape[1] == n_c
    lowest = -np.finfo(out_scores.dtype).max
    use_liked = liked_indptr.shape[0] > 0
    n_blocks = (n_q + QUERY_BLOCK - 1) // QUERY_BLOCK
    for blk in prange(n_blocks):
        q0 = blk * QUERY_BLOCK
        q1 = min(n_q, q0 + QUERY_BLOCK)
        scores = np.empty((q1 - q0, n_c), out_scores.dtype)
        if transposed:
            _score_block(Q, YT, q0, q1, 0, n_c, ITEM_CHUNK, scores)
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
