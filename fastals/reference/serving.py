"""Readable top-k: what ``fastals.recommend`` and its kernels compute, with implicit's tie rule.

implicit selects the N best scores with a min-heap of (score, position) pairs: a candidate
enters when the heap is not full or when its score is strictly greater than the heap's
smallest. Among equal scores the earlier position therefore stays, and the final order is by
(score, position) descending. Filtered candidates (liked items, ``filter_items``) score
-finfo(dtype).max and so sink to the end of the list.
"""

import heapq

import numpy as np


def top_k(scores, N):
    """implicit's selection of the N best entries of ``scores``: (positions, scores)."""
    heap = []
    for i, value in enumerate(scores.tolist()):
        if len(heap) < N:
            heapq.heappush(heap, (value, i))
        elif value > heap[0][0]:
            heapq.heapreplace(heap, (value, i))
    heap.sort(reverse=True)
    positions = np.array([i for _, i in heap], dtype=np.int64)
    return positions, scores[positions]


def masked_scores(x, Y, dtype, excluded):
    """x . y_i for every row of Y, rounded once to ``dtype`` (exact for integer factors),
    the ``excluded`` positions set to -finfo(dtype).max."""
    scores = (np.asarray(Y, np.float64) @ np.asarray(x, np.float64)).astype(dtype)
    scores[list(excluded)] = -np.finfo(dtype).max
    return scores


def recommend(x, Y, dtype, N, excluded=(), items=None):
    """(ids, scores) ``recommend`` returns for one user with factor ``x`` against item
    factors ``Y``: N capped at the candidates; ``excluded`` item ids filtered; ``items``
    restricts the candidates (ids then come from the sorted ``items``)."""
    if items is None:
        return top_k(masked_scores(x, Y, dtype, excluded), min(N, len(Y)))
    items = np.sort(np.asarray(items))
    excluded = set(excluded)
    excluded_positions = [p for p, item in enumerate(items) if item in excluded]
    positions, scores = top_k(masked_scores(x, Y[items], dtype, excluded_positions),
                              min(N, len(items)))  # fmt: skip
    return items[positions], scores
