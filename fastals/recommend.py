"""Top-k serving over trained factors: recommend and similar_items/users, implicit's contract.

Python validates and prepares; one call of ``_kernels.topk.topk`` scores, filters and selects
for every query in parallel (candidate factors scored in chunks, per-query memory O(n_items)).
"""

import numpy as np

from ._all_pairs import all_pairs
from ._kernels.simd import panels
from ._kernels.topk import query_block, topk
from ._threads import parallel_for, thread_scope

TRANSPOSE_MIN_QUERIES = 32  # below this, score by dot products instead of copying Y^T
NO_ROWS = np.empty(0, np.int64)


def top_k(
    queries, candidates, N, *, norms=None, liked=None, item_pos=None, filter_pos=None, num_threads=0
):
    """Top ``N`` candidate positions and scores for each row of ``queries`` (2-D).

    ``candidates`` (n_c, f); ``norms`` (n_c,) divides the scores (cosine); ``liked`` a CSR
    with one row per query whose column ids map to candidate positions via ``item_pos``
    (n_ids,) int64 (-1: not a candidate; None: identity); ``filter_pos`` positions filtered
    for every query. Returns (ids int32 (n_q, N), scores (n_q, N) in the candidates' dtype).
    """
    dtype = candidates.dtype
    Q = np.ascontiguousarray(queries, dtype=dtype)
    Y = np.ascontiguousarray(candidates)
    n_q, n_c = Q.shape[0], Y.shape[0]
    if n_q >= TRANSPOSE_MIN_QUERIES:
        Q, YT = _padded(Q), np.ascontiguousarray(_padded(Y).T)
    else:
        YT = np.empty((Y.shape[1], 0), dtype)
    YP = panels(YT)
    if liked is None:
        liked_indptr, liked_indices = NO_ROWS, NO_ROWS
    else:
        liked_indptr, liked_indices = liked.indptr, liked.indices
        if item_pos is None:
            item_pos = np.arange(n_c, dtype=np.int64)
    if item_pos is None:
        item_pos = NO_ROWS
    filter_pos = NO_ROWS if filter_pos is None else np.asarray(filter_pos, dtype=np.int64)
    norms, ids, scores = _kernel_arrays(norms, n_q, N, dtype)
    block = query_block(n_c, scores.itemsize)
    with thread_scope(num_threads, limit_blas=False, work=n_q * n_c * Q.shape[1]):
        parallel_for(
            topk, -(-n_q // block), block, Q, (Y, YT, YP, norms), N,
            (liked_indptr, liked_indices, item_pos, filter_pos), (ids, scores),
        )  # fmt: skip
    return ids, scores


def top_k_pairs(factors, N, *, norms=None, num_threads=0):
    """``top_k(factors, factors, N, norms=norms)`` from half the work: every row's top ``N``.

    The all-items case of ``similar_items``: the score matrix is symmetric, so each dot product
    is computed once and offered to both rows' heaps; results, ties included, are ``top_k``'s.
    """
    Y = _padded(np.ascontiguousarray(factors))
    n = Y.shape[0]
    norms, ids, scores = _kernel_arrays(norms, n, N, Y.dtype)
    if norms.size and not np.all(norms > 0):
        raise ValueError("norms must be positive (the model stores 1e-10 for zero vectors)")
    if N == 0:
        return ids, scores
    YT = np.ascontiguousarray(Y.T)
    with thread_scope(num_threads, limit_blas=False, work=n * n * Y.shape[1] // 2):
        all_pairs(Y, YT, panels(YT), N, norms, ids, scores)
    return ids, scores


def _padded(factors):
    """``factors`` with zero columns appended up to a multiple of four.

    The scoring kernel's register tile takes four factors at a time; a leftover factor
    would cost a pass over the score block for one multiply-add per score. Zeros add
    nothing to a dot product.
    """
    extra = -factors.shape[1] % 4
    if extra == 0:
        return factors
    return np.concatenate([factors, np.zeros((factors.shape[0], extra), factors.dtype)], 1)


def _kernel_arrays(norms, n_q, N, dtype):
    """``norms`` as the top-k kernels take them (empty: none) and their (n_q, N) outputs."""
    norms = np.empty(0, dtype) if norms is None else np.ascontiguousarray(norms, dtype=dtype)
    return norms, np.empty((n_q, N), dtype=np.int32), np.empty((n_q, N), dtype=dtype)


def subset_positions(subset, count, name, what):
    """``subset`` ids sorted (as implicit sorts them) and a map id -> position (-1: absent)."""
    subset = np.array(subset)
    if subset.ndim != 1 or subset.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of ids")
    if subset.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer ids, got dtype {subset.dtype}")
    subset.sort()
    if subset[0] < 0 or subset[-1] >= count:
        raise IndexError(
            f"Some ids in the {name} parameter are not in the model: valid ids are 0..{count - 1}"
            f" ({count} {what}), got {subset[0]}..{subset[-1]}"
        )
    if np.any(subset[1:] == subset[:-1]):
        raise ValueError(f"{name} contains duplicate ids")
    pos = np.full(count, -1, dtype=np.int64)
    pos[subset] = np.arange(subset.size)
    return subset, pos


def filter_positions(filter_ids, count, name, what):
    """Checked ``filter_items``/``filter_users`` ids as an int64 array (None -> None)."""
    if filter_ids is None:
        return None
    arr = np.asarray(filter_ids)
    if arr.size == 0:
        return None
    arr = arr.ravel()
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer ids, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= count:
        bad = int(arr[(arr < 0) | (arr >= count)][0])
        raise IndexError(f"{name} id {bad} is out of range: the model has {count} {what}")
    return arr.astype(np.int64)


def nonempty(ids):
    """True for a filter list that filters something (implicit's ``if filter_items:``)."""
    return ids is not None and np.size(ids) > 0


def check_n(N, n_candidates):
    """N as an int, capped at the number of candidates; ValueError unless an integer >= 0."""
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 0:
        raise ValueError(f"N must be an integer >= 0, got {N!r}")
    return min(int(N), n_candidates)
