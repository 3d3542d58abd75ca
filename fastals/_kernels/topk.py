"""Top-k over factor scores: scoring, filtering and partial selection, parallel over queries.

Selection reproduces implicit 0.7.3 exactly (``implicit/cpu/select.h``): a min-heap of
(score, id) pairs, scanned in id order, where a new item enters only when its score is
strictly above the heap's minimum pair, which is evicted; the survivors are emitted in
descending (score, id) order. So among tied scores the survivors are decided by the
scan, and they come out highest id first.
"""

import numpy as np
from numba import prange

from ._jit import jit
from .linalg import dot

QUERY_BLOCK = 4  # queries scored together, sharing each chunk of candidate factors
ITEM_CHUNK = 512  # candidates per chunk: a row chunk of Y^T stays in L1 across the block


@jit()
def _less(s_a, i_a, s_b, i_b):
    return s_a < s_b or (s_a == s_b and i_a < i_b)


@jit()
def _sift_down(heap_s, heap_i, pos, size):
    while True:
        child = 2 * pos + 1
        if child >= size:
            return
        if child + 1 < size and _less(
            heap_s[child + 1], heap_i[child + 1], heap_s[child], heap_i[child]
        ):
            child += 1
        if not _less(heap_s[child], heap_i[child], heap_s[pos], heap_i[pos]):
            return
        heap_s[pos], heap_s[child] = heap_s[child], heap_s[pos]
        heap_i[pos], heap_i[child] = heap_i[child], heap_i[pos]
        pos = child


@jit()
def _sift_up(heap_s, heap_i, pos):
    while pos > 0:
        parent = (pos - 1) // 2
        if not _less(heap_s[pos], heap_i[pos], heap_s[parent], heap_i[parent]):
            return
        heap_s[pos], heap_s[parent] = heap_s[parent], heap_s[pos]
        heap_i[pos], heap_i[parent] = heap_i[parent], heap_i[pos]
        pos = parent


@jit()
def select_row(scores, k, out_ids, out_scores):
    """Write the top ``k`` of ``scores`` (n,) into ``out_ids``/``out_scores`` (k <= n)."""
    size = 0
    for i in range(scores.shape[0]):
        s = scores[i]
        if size < k:
            out_scores[size] = s
            out_ids[size] = i
            _sift_up(out_scores, out_ids, size)
            size += 1
        elif s > out_scores[0]:
            out_scores[0] = s
            out_ids[0] = i
            _sift_down(out_scores, out_ids, 0, size)
    # heap sort: pop the minimum into the last free slot -> descending order
    for end in range(size - 1, 0, -1):
        out_scores[0], out_scores[end] = out_scores[end], out_scores[0]
        out_ids[0], out_ids[end] = out_ids[end], out_ids[0]
        _sift_down(out_scores, out_ids, 0, end)


@jit()
def _score_block(Q, YT, q0, q1, scores):
    """scores[q - q0, :] = YT^T Q[q] for the queries q0..q1-1, chunk by chunk.

    Inner loops run over slices from 0 so that LLVM vectorises them (an offset range makes
    Numba keep negative-index wraparound checks, which blocks vectorisation).
    """
    k, n = YT.shape
    for c0 in range(0, n, ITEM_CHUNK):
        c1 = min(n, c0 + ITEM_CHUNK)
        for q in range(q0, q1):
            scores[q - q0, c0:c1] = 0
        for f in range(k):
            row = YT[f, c0:c1]  # reused from L1 by every query of the block
            for q in range(q0, q1):
                s = scores[q - q0, c0:c1]
                qf = Q[q, f]
                for i in range(c1 - c0):
                    s[i] += qf * row[i]


@jit()
def _score_block_dots(Q, Y, q0, q1, scores):
    """scores[q - q0, c] = Q[q] . Y[c]: for few queries, no transposed copy of Y needed."""
    for q in range(q0, q1):
        s = scores[q - q0]
        for c in range(Y.shape[0]):
            s[c] = dot(Q[q], Y[c])


@jit(parallel=True)
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
            _score_block(Q, YT, q0, q1, scores)
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
            select_row(s, k, out_ids[q], out_scores[q])
