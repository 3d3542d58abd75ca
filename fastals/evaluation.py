"""Ranking metrics and train/test splits: implicit 0.7.3's definitions and the seed's.

- ``ranking_metrics_at_k``: the numbers of ``implicit.evaluation.ranking_metrics_at_k`` for
  the same model (precision, map, ndcg, auc), for any object with implicit's ``recommend``.
- ``per_user_metrics``: the seed notebook's per-user precision/recall/ndcg/map at K, averaged
  over users with at least one relevant item, from a batch of recommendation lists.
- ``train_test_split``: implicit's split, same output for the same seed.
- ``leave_k_out_split``: implicit's protocol, but reproducible from ``random_state`` and
  without implicit's corrupted test values.

Both metric functions run one Numba kernel (``_kernels.metrics.user_metrics``) over all
lists; membership is a binary search in the sorted truth row.

Differences from implicit 0.7.3, all deliberate:

- ``ranking_metrics_at_k`` with K > n_items: implicit pads each list with item 0 (its
  ``recommend``) and counts every padded 0 as a hit when item 0 is relevant (precision above 1
  is possible), or reads past the end of the list when the model returns fewer than K ids.
  fastals scores only the first ``n_items`` positions (a list of distinct items has no more)
  and treats missing positions as empty, so K > n_items gives the numbers of K = n_items.
- implicit raises ZeroDivisionError when no user has a test item, and when a user's test row
  holds every item (AUC has no negatives). fastals raises ValueError for the first and returns
  ``auc = nan`` with a RuntimeWarning for the second (the other metrics are well defined).
- K < 1: implicit fails with IndexError; fastals raises ValueError. Mismatched train/test
  shapes: implicit does not check; fastals raises ValueError.
- ``random_state`` given as a ``np.random.RandomState``: implicit's ``check_random_state``
  crashes (it calls ``rand_int``); fastals seeds a Generator from ``randint(2**31)``.
- ``leave_k_out_split``: implicit draws its shuffle from the global ``np.random`` state, so its
  ``random_state`` does not fix the split (benfred/implicit PR #654), and its test matrix
  holds a multiple of the true value for some users whenever a user id below them is not
  eligible (benfred/implicit issue #639), so ``train + test != ratings``. fastals draws
  everything from ``random_state``, keeps each held-out value as it is, and picks the same
  train-only users as implicit for the same integer seed.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from ._kernels import metrics as _m
from ._threads import parallel_for, thread_scope
from ._validation import check_num_threads, check_positive_int

BATCH_SIZE = 1000  # users per recommend call, as implicit's ranking_metrics_at_k

__all__ = [
    "leave_k_out_split",
    "per_user_metrics",
    "ranking_metrics_at_k",
    "train_test_split",
]


# --------------------------------------------------------------------------- metrics


def ranking_metrics_at_k(
    model,
    train_user_items,
    test_user_items,
    K: int = 10,
    show_progress: bool = True,
    num_threads: int = 0,
) -> dict[str, float]:
    """Precision, MAP, NDCG and AUC at K, exactly as ``implicit.evaluation`` computes them.

    Parameters
    ----------
    model : object with implicit's ``recommend``
        A fastals or implicit model, a ``fastals.baselines`` recommender, or anything whose
        ``recommend(userids, user_items, N=K)`` returns (ids (n, N), scores) with the
        user's training items filtered (implicit's default ``filter_already_liked_items``).
    train_user_items : sparse matrix (n_users, n_items)
        What the model was trained on; its rows are passed to ``recommend`` for filtering.
    test_user_items : sparse matrix (n_users, n_items)
        Held-out items: every stored entry is relevant (zeros and negatives too, as implicit).
    K : int
        Length of each recommendation list.
    show_progress : bool
        A tqdm bar over the evaluated users.
    num_threads : int
        Numba threads for the metric kernel (0: all cores); results do not depend on it.
        (implicit's ``num_threads`` is unused by its batched implementation.)

    Returns
    -------
    dict with float ``precision`` (sum_u hits_u / sum_u min(K, |T_u|)), ``map``, ``ndcg``
    and ``auc`` (means over users with at least one test item).

    Users are recommended in batches of 1000 with ``model.recommend(batch,
    train_user_items[batch], N=K)``, the same call implicit makes.
    """
    K = check_positive_int("K", K)
    num_threads = check_num_threads(num_threads)
    if not callable(getattr(model, "recommend", None)):
        raise TypeError(f"model must have a recommend method, got {type(model).__name__}")
    train = _as_csr_matrix(train_user_items, "train_user_items")
    test = _canonical(_as_csr_matrix(test_user_items, "test_user_items"))
    if train.shape != test.shape:
        raise ValueError(
            f"train_user_items has shape {train.shape} but test_user_items has shape "
            f"{test.shape}: both must be users x items of the same size"
        )
    n_items = test.shape[1]
    users = np.flatnonzero(np.diff(test.indptr) > 0).astype(np.int32)
    if users.size == 0:
        raise ValueError("test_user_items has no stored entries: there is no user to evaluate")

    width = min(K, n_items)  # a list of distinct items has at most n_items real positions
    ids = np.full((users.size, K), -1, dtype=np.int64)
    with tqdm(total=users.size, disable=not show_progress) as progress:
        for start in range(0, users.size, BATCH_SIZE):
            batch = users[start : start + BATCH_SIZE]
            recs, _ = model.recommend(batch, train[batch], N=K)
            recs = np.asarray(recs)
            if recs.ndim != 2 or recs.shape[0] != batch.size:
                raise ValueError(
                    f"model.recommend returned ids of shape {recs.shape} for {batch.size} users"
                )
            w = min(width, recs.shape[1])
            ids[start : start + batch.size, :w] = recs[:, :w]
            progress.update(batch.size)

    stats = _user_stats(ids, users.astype(np.int64), test, num_threads)
    auc = stats[:, _m.AUC]
    if np.isnan(auc).any():
        warnings.warn(
            f"{int(np.isnan(auc).sum())} users hold every item in test_user_items: AUC has no "
            "negative item for them and is NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    return {
        "precision": float(stats[:, _m.HITS].sum() / stats[:, _m.CAPPED].sum()),
        "map": float(stats[:, _m.MAP].mean()),
        "ndcg": float(stats[:, _m.NDCG].mean()),
        "auc": float(auc.mean()),
    }


def per_user_metrics(
    recommended_ids,
    truth,
    K: int = 10,
    per_user: bool = False,
    num_threads: int = 0,
) -> dict:
    """The seed's precision, recall, NDCG and MAP at K, per user or averaged.

    Parameters
    ----------
    recommended_ids : array (n_users, L) of int
        Row b is user b's list, best first. Only the first K columns count; fewer than K
        columns, or ids < 0, are empty slots (never a hit). Ids must be < truth's width.
    truth : sparse matrix (n_users, n_items)
        Row b holds user b's relevant items (every stored entry counts; call
        ``eliminate_zeros()`` first if stored zeros mean "not relevant").
    K : int
        List length of the metrics (precision divides by K even for shorter lists).
    per_user : bool
        False: the means over users with at least one relevant item. True: per-user arrays.
    num_threads : int
        Numba threads (0: all cores); results do not depend on it.

    Returns
    -------
    per_user=False: dict ``{"precision@K", "recall@K", "ndcg@K", "map@K"}`` of floats, with K
    written out (``"precision@10"``).
    per_user=True: the same keys holding float64 arrays (n_users,), NaN for users without
    relevant items, plus ``"hits"`` and ``"n_truth"`` (int64 arrays (n_users,)).

    Definitions (step 5 of the KuaiRec notebook this project started from), with rank
    r = 0..K-1 and T the truth row:
    precision = hits / K; recall = hits / |T|; ndcg = sum_hits 1/log2(r+2) divided by
    sum_{j < min(|T|, K)} 1/log2(j+2); map = sum_hits (hits so far)/(r+1) divided by
    min(|T|, K). ndcg and map are implicit's definitions too.
    """
    K = check_positive_int("K", K)
    num_threads = check_num_threads(num_threads)
    recs = np.asarray(recommended_ids)
    if recs.ndim != 2:
        raise ValueError(
            f"recommended_ids must be 2-D (n_users, list length), got shape {recs.shape}"
        )
    if recs.dtype.kind not in "iu":
        raise TypeError(f"recommended_ids must hold integer ids, got dtype {recs.dtype}")
    truth = _canonical(_as_csr_matrix(truth, "truth"))
    n_users, n_items = truth.shape
    if recs.shape[0] != n_users:
        raise ValueError(
            f"recommended_ids has {recs.shape[0]} rows but truth has {n_users}: row b of "
            "both must be the same user"
        )
    ids = np.full((n_users, K), -1, dtype=np.int64)
    w = min(K, recs.shape[1])
    ids[:, :w] = recs[:, :w]
    if ids.size and ids.max() >= n_items:
        raise ValueError(
            f"recommended_ids holds item id {int(ids.max())} but truth has only {n_items} "
            "columns: recommendations and truth must share one item index"
        )
    stats = _user_stats(ids, np.arange(n_users, dtype=np.int64), truth, num_threads)
    columns = {
        f"precision@{K}": _m.PRECISION,
        f"recall@{K}": _m.RECALL,
        f"ndcg@{K}": _m.NDCG,
        f"map@{K}": _m.MAP,
    }
    if per_user:
        out = {name: stats[:, c].copy() for name, c in columns.items()}
        out["hits"] = stats[:, _m.HITS].astype(np.int64)
        out["n_truth"] = stats[:, _m.N_TRUTH].astype(np.int64)
        return out
    evaluated = stats[:, _m.N_TRUTH] > 0
    if not evaluated.any():
        raise ValueError("truth has no stored entries: there is no user to evaluate")
    return {name: float(stats[evaluated, c].mean()) for name, c in columns.items()}


def _user_stats(ids, rows, truth, num_threads):
    """Run the kernel: (len(ids), N_STATS) float64 statistics, see ``_kernels.metrics``."""
    k = ids.shape[1]
    gains = 1.0 / np.log2(np.arange(2, k + 2))  # implicit's cg, computed by NumPy as there
    ideal = np.cumsum(gains)
    out = np.empty((ids.shape[0], _m.N_STATS), dtype=np.float64)
    with thread_scope(num_threads, limit_blas=False):
        parallel_for(
            _m.user_metrics,
            ids.shape[0],
            np.ascontiguousarray(ids, dtype=np.int64),
            rows,
            truth.indptr,
            truth.indices,
            truth.shape[1],
            gains,
            ideal,
            out,
        )
    return out


def _as_csr_matrix(matrix, name):
    if isinstance(matrix, sp.csr_matrix):
        return matrix
    if sp.issparse(matrix) or isinstance(matrix, np.ndarray):
        if matrix.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {matrix.shape}")
        return sp.csr_matrix(matrix)
    raise TypeError(
        f"{name} must be a scipy.sparse matrix (users x items), got {type(matrix).__name__}"
    )


def _canonical(matrix):
    """Sorted, duplicate-free rows (summed; stored zeros kept), without touching the input."""
    if not matrix.has_canonical_format:
        matrix = matrix.copy()
        matrix.sum_duplicates()
    return matrix


# --------------------------------------------------------------------------- splits


def train_test_split(ratings, train_percentage: float = 0.8, random_state=None):
    """Randomly assign each stored entry to train (probability ``train_percentage``) or test.

    implicit 0.7.3's split, same output for the same ``random_state`` (int, None or
    Generator): entries are taken in ``ratings.tocoo()`` order and entry j goes to train when
    the j-th draw of ``np.random.default_rng(random_state).random`` is < train_percentage.
    As in implicit, nothing guarantees a user keeps a train (or test) entry, and test entries
    with a value <= 0 are dropped (stored zeros, negatives), so ``train + test`` equals the
    input only when all its values are positive. Duplicate stored entries are summed.

    Returns
    -------
    (train, test) : csr_matrix, csr_matrix of the input's shape and dtype. The input is not
    modified.
    """
    if isinstance(train_percentage, bool) or not isinstance(train_percentage, numbers.Real):
        raise TypeError(f"train_percentage must be a number, got {train_percentage!r}")
    if not 0.0 <= train_percentage <= 1.0:
        raise ValueError(f"train_percentage must be in [0, 1], got {train_percentage}")
    coo = _as_sparse(ratings).tocoo()
    rng = _rng(random_state)
    in_train = rng.random(len(coo.data)) < train_percentage
    train = _from_entries(coo, in_train)
    test = _from_entries(coo, ~in_train)
    test.data[test.data < 0] = 0
    test.eliminate_zeros()
    return train, test


def leave_k_out_split(ratings, K: int = 1, train_only_size: float = 0.0, random_state=None):
    """Hold out K random entries of every eligible user: implicit's protocol, reproducibly.

    A user is eligible when their row has more than K + 1 stored entries. With
    ``train_only_size`` > 0, a random ``max(1, int(n * train_only_size))`` of the n users with
    any entry stay in train only (the same users implicit picks for the same integer seed).
    Each remaining eligible user gets K of their entries, drawn uniformly without
    replacement, moved to test; everything else is train.

    Unlike implicit 0.7.3, every draw comes from ``random_state`` (int, None or Generator),
    so the same seed gives the same split, and held-out values are not multiplied
    (``train + test`` equals the input exactly). The input is canonicalised first (duplicate
    entries summed).

    Returns
    -------
    (train, test) : csr_matrix, csr_matrix of the input's shape and dtype. The input is not
    modified.
    """
    K = check_positive_int("K", K)
    if isinstance(train_only_size, bool) or not isinstance(train_only_size, numbers.Real):
        raise TypeError(f"train_only_size must be a number, got {train_only_size!r}")
    if not 0.0 <= train_only_size < 1.0:
        raise ValueError(
            f"train_only_size must be in the range 0.0 <= x < 1.0, got {train_only_size}"
        )
    matrix = _as_sparse(ratings)
    csr = _canonical(sp.csr_matrix(matrix))  # a new object: the input is never touched
    rng = _rng(random_state)

    counts = np.diff(csr.indptr)
    users = np.flatnonzero(counts > 0)
    eligible = counts > K + 1
    if train_only_size > 0.0:
        # implicit computes this product in C float (its ``frac`` is a float32)
        size = max(1, int(np.float32(len(users)) * np.float32(train_only_size)))
        eligible[users[rng.choice(len(users), size=size, replace=False)]] = False

    row_of_entry = np.repeat(np.arange(csr.shape[0]), counts)
    candidates = np.flatnonzero(eligible[row_of_entry])  # entry positions, grouped by user
    noise = rng.random(candidates.size)
    order = candidates[np.lexsort((noise, row_of_entry[candidates]))]  # shuffled per user
    group_end = np.cumsum(counts[eligible])  # end of each eligible user's group in ``order``
    picks = (group_end[:, None] - np.arange(1, K + 1)[None, :]).ravel()
    in_test = np.zeros(csr.nnz, dtype=bool)
    in_test[order[picks]] = True

    coo = csr.tocoo()
    return _from_entries(coo, ~in_test), _from_entries(coo, in_test)


def _as_sparse(ratings):
    if sp.issparse(ratings):
        if ratings.ndim != 2:
            raise ValueError(f"ratings must be 2-D, got shape {ratings.shape}")
        return ratings
    if isinstance(ratings, np.ndarray):
        if ratings.ndim != 2:
            raise ValueError(f"ratings must be 2-D, got shape {ratings.shape}")
        return sp.coo_matrix(ratings)
    raise TypeError(
        f"ratings must be a scipy.sparse matrix (users x items), got {type(ratings).__name__}"
    )


def _from_entries(coo, keep):
    out = sp.csr_matrix(
        (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=coo.shape, dtype=coo.dtype
    )
    out.sum_duplicates()
    return out


def _rng(random_state):
    """A Generator as implicit's ``check_random_state`` makes it (its RandomState branch
    crashes in 0.7.3; here it seeds from ``randint(2**31)``)."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    return np.random.default_rng(random_state)
