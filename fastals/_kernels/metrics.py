"""Per-user ranking statistics of a batch of top-K lists against a ground-truth CSR.

One kernel serves both metric definitions fastals reports:

- implicit 0.7.3's ``ranking_metrics_at_k`` (``implicit/evaluation.pyx``): precision is
  micro-averaged, sum_u hits_u / sum_u min(K, |T_u|) (the two sums are columns here); map,
  ndcg (binary gains, IDCG over min(K, |T_u|)) and the "limited" AUC are per-user means.
- the seed notebook's per-user means (the KuaiRec notebook this project started from, its
  evaluation step): precision = hits / K,
  recall = hits / |T_u|, and the same ndcg and map.

Each user's row of ``out`` is written by the one range of lists that holds it and nothing is
reduced inside the kernel: the Python layer sums the columns, so the results do not depend
on the thread count.
"""

import numpy as np

from ._jit import jit

# columns of the per-user statistics written by ``user_metrics``
HITS = 0  # relevant items in the list
N_TRUTH = 1  # |T_u|: stored entries in the user's truth row
CAPPED = 2  # min(K, |T_u|): implicit's precision denominator, the IDCG length, map's divisor
PRECISION = 3  # hits / K (the seed's definition)
RECALL = 4  # hits / |T_u|
NDCG = 5  # sum over hits of 1/log2(rank + 2), divided by IDCG over min(K, |T_u|)
MAP = 6  # sum over hits of (hits so far) / (rank + 1), divided by min(K, |T_u|)
AUC = 7  # implicit's AUC over the top K, the unranked rest counted as half-ordered
N_STATS = 8


@jit()
def contains(sorted_ids, lo, hi, x):
    """Whether ``x`` is in ``sorted_ids[lo:hi]`` (ascending, unique): binary search."""
    while lo < hi:
        mid = (lo + hi) >> 1
        v = sorted_ids[mid]
        if v == x:
            return True
        if v < x:
            lo = mid + 1
        else:
            hi = mid
    return False


@jit()
def user_metrics(b0, b1, ids, rows, truth_indptr, truth_indices, n_items, gains, ideal, out):
    """Ranking statistics of the recommendation lists b0..b1-1 against their users' truth
    rows (``_threads.parallel_for`` runs ranges of lists in parallel).

    Parameters
    ----------
    ids : ndarray (n, K), int64
        Recommended item ids, best first; an id < 0 is an empty slot (no recommendation):
        it is never a hit and, in the AUC, not a negative item either.
    rows : ndarray (n,), int64
        Row of the truth CSR holding list ``b``'s relevant items.
    truth_indptr, truth_indices : CSR arrays
        Ground truth with sorted, unique column ids per row (canonical CSR).
    n_items : int
        Number of items in the catalogue (the truth's width): the AUC's negatives are the
        n_items - |T_u| items outside the truth row.
    gains : ndarray (K,), float64
        1 / log2(rank + 2), computed once by the caller (with NumPy, as implicit does).
    ideal : ndarray (K,), float64
        Cumulative sum of ``gains``: IDCG for min(K, |T_u|) = j + 1 relevant items.
    out : ndarray (n, N_STATS), float64
        Written in full: the columns above. A user with an empty truth row gets 0 hits and
        NaN metrics; AUC is NaN when the truth row holds every item (no negatives).
    """
    k = ids.shape[1]
    for b in range(b0, b1):
        r = rows[b]
        lo = truth_indptr[r]
        hi = truth_indptr[r + 1]
        n_pos = hi - lo
        hits = 0
        misses = 0
        ap = 0.0
        ndcg = 0.0
        auc = 0.0
        capped = min(k, n_pos)
        idcg = ideal[capped - 1] if capped > 0 else 1.0
        for i in range(k):
            item = ids[b, i]
            if item < 0:
                continue
            if contains(truth_indices, lo, hi, item):
                hits += 1
                ap += hits / (i + 1.0)
                ndcg += gains[i] / idcg  # summed term by term, as implicit does
            else:
                misses += 1
                auc += hits  # positives ranked above this negative
        row = out[b]
        row[HITS] = hits
        row[N_TRUTH] = n_pos
        row[CAPPED] = capped
        if n_pos == 0:
            for c in range(PRECISION, N_STATS):
                row[c] = np.nan
            continue
        row[PRECISION] = hits / k
        row[RECALL] = hits / n_pos
        row[NDCG] = ndcg
        row[MAP] = ap / capped
        n_neg = n_items - n_pos
        if n_neg <= 0:
            row[AUC] = np.nan
        else:
            # negatives below the list: all K-list hits above them, unseen positives at 1/2
            auc += ((hits + n_pos) / 2.0) * (n_neg - misses)
            row[AUC] = auc / (float(n_pos) * n_neg)
