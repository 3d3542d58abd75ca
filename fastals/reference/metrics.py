"""Readable ranking metrics: what ``fastals.evaluation`` and ``_kernels/metrics`` compute.

For one user with a recommended list ``rec`` (ids, -1 for an empty slot) and a set of
relevant test items T, over the first K slots:

- hits: how many of the list's items are in T; precision@K = hits / K; recall@K = hits / |T|;
- ndcg@K = sum over hits at rank r (0-based) of 1 / log2(r + 2), divided by the same sum for
  min(K, |T|) hits at the top;
- map@K = mean over the hits of the precision at their rank, divided by min(K, |T|);
- auc@K (implicit's): the fraction of (relevant, irrelevant) pairs ranked in the right order
  when the list is followed by the unlisted relevant items, then the rest.

Users without test items are left out (None).
"""

import math


def user_statistics(recs, truth_rows, K, n_items):
    """Per user: dict(hits, capped, precision, recall, ndcg, map, auc), or None."""
    out = []
    for rec, truth in zip(recs, truth_rows, strict=True):
        truth = set(truth)
        hits = misses = 0
        ap = dcg = auc = 0.0
        for i, item in enumerate(list(rec)[:K]):
            if item < 0:
                continue
            if item in truth:
                hits += 1
                ap += hits / (i + 1)
                dcg += 1 / math.log2(i + 2)
            else:
                misses += 1
                auc += hits
        n_pos = len(truth)
        if n_pos == 0:
            out.append(None)
            continue
        capped = min(K, n_pos)
        idcg = sum(1 / math.log2(j + 2) for j in range(capped))
        n_neg = n_items - n_pos
        auc_u = (
            (auc + (hits + n_pos) / 2 * (n_neg - misses)) / (n_pos * n_neg) if n_neg else math.nan
        )
        out.append(
            dict(
                hits=hits,
                capped=capped,
                precision=hits / K,
                recall=hits / n_pos,
                ndcg=dcg / idcg,
                map=ap / capped,
                auc=auc_u,
            )
        )
    return out
