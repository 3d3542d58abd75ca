"""The strong-generalisation protocol of Liang et al. 2018 (VAE-CF), as Rendle et al. 2022 use it.

1. Keep ratings above a threshold (> 3.5 for MovieLens) and users with at least 5 of them.
2. Shuffle the users with a seed; hold out ``n_heldout`` validation and ``n_heldout`` test
   users; the rest train. Items are those the training users have.
3. Split each held-out user's items with the seed: int(0.2 n) of them (users with >= 5
   items) become the test items, the rest the fold-in items.
4. Train on the training users; fold each held-out user in from the fold-in items against
   the fixed item factors; rank all items but the fold-in ones.
5. Recall@K = hits in the top K / min(K, |test items|); NDCG@K = DCG / ideal DCG, the ideal
   placing min(K, |test items|) hits first. Averaged over the held-out users.

``movielens_ratings`` reads MovieLens' ``ratings.csv`` (ML-20M's format, also ML-latest's).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import recommend

SEED = 98765  # the seed of Liang et al.'s generate_data.py


@dataclass
class HeldOut:
    """Held-out users: ``fold_in`` and ``test`` (n_users x n_items CSR, binary)."""

    fold_in: sp.csr_matrix
    test: sp.csr_matrix


@dataclass
class Split:
    """``train`` (n_train_users x n_items CSR, binary), the held-out users, and the original
    ids of the columns (``items``)."""

    train: sp.csr_matrix
    validation: HeldOut
    test: HeldOut
    items: np.ndarray


def movielens_ratings(path, min_rating=3.5, min_user_count=5):
    """(user, item) pairs of MovieLens ``ratings.csv`` (userId,movieId,rating,...) with rating
    > ``min_rating``, of users with at least ``min_user_count`` of them."""
    path = Path(path)
    if path.is_dir():
        path = path / "ratings.csv"
    frame = pd.read_csv(path, usecols=["userId", "movieId", "rating"])
    frame = frame[frame["rating"] > min_rating]
    counts = frame.groupby("userId")["movieId"].transform("size")
    frame = frame[counts >= min_user_count]
    return frame["userId"].to_numpy(), frame["movieId"].to_numpy()


def strong_generalization_split(users, items, n_heldout, seed=SEED, test_fraction=0.2):
    """The split of steps 2-3 (module docstring) of the (user, item) pairs ``users, items``."""
    users, items = np.asarray(users), np.asarray(items)
    unique_users = np.unique(users)
    if 2 * n_heldout >= len(unique_users):
        raise ValueError(
            f"n_heldout={n_heldout} leaves no training users: there are {len(unique_users)} "
            "users and 2 * n_heldout are held out"
        )
    rng = np.random.RandomState(seed)  # Liang et al. shuffle with a RandomState
    order = unique_users[rng.permutation(len(unique_users))]
    n_train = len(order) - 2 * n_heldout
    groups = (order[:n_train], order[n_train : n_train + n_heldout], order[n_train + n_heldout :])
    in_train = np.isin(users, groups[0])
    item_ids = np.unique(items[in_train])
    train = _matrix(users[in_train], items[in_train], groups[0], item_ids)
    held = []
    for group in groups[1:]:
        keep = np.isin(users, group) & np.isin(items, item_ids)
        full = _matrix(users[keep], items[keep], group, item_ids)
        held.append(_split_rows(full, rng, test_fraction))
    return Split(train, held[0], held[1], item_ids)


def _matrix(users, items, user_ids, item_ids):
    rows = np.searchsorted(np.sort(user_ids), users)
    cols = np.searchsorted(item_ids, items)
    M = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(user_ids), len(item_ids))
    )
    M.sum_duplicates()
    M.data[:] = 1
    return M


def _split_rows(M, rng, test_fraction):
    """Per row: int(test_fraction n) random items to the test part (rows with >= 5 items)."""
    is_test = np.zeros(M.nnz, bool)
    for u in range(M.shape[0]):
        lo, hi = M.indptr[u], M.indptr[u + 1]
        n = hi - lo
        if n >= 5:
            is_test[lo + rng.choice(n, size=int(test_fraction * n), replace=False)] = True
    fold_in, test = M.copy(), M.copy()
    fold_in.data = np.where(is_test, 0, 1).astype(np.float32)
    test.data = np.where(is_test, 1, 0).astype(np.float32)
    fold_in.eliminate_zeros()
    test.eliminate_zeros()
    return HeldOut(fold_in, test)


def recall_ndcg(ranked, test, ks=(20, 50), ndcg_k=100):
    """{"recall@K": ..., "ndcg@100": ...} averaged over the users with test items.

    ``ranked`` (n_users, >= max K) holds each user's item ids best first; ``test`` the
    users' test items (CSR)."""
    hits = np.zeros(ranked.shape, bool)
    for u in range(ranked.shape[0]):
        hits[u] = np.isin(ranked[u], test.indices[test.indptr[u] : test.indptr[u + 1]])
    n_test = np.diff(test.indptr)
    users = n_test > 0
    out = {}
    for k in ks:
        out[f"recall@{k}"] = float(np.mean(hits[users, :k].sum(1) / np.minimum(k, n_test[users])))
    discount = 1.0 / np.log2(np.arange(2, ndcg_k + 2))
    dcg = (hits[users, :ndcg_k] * discount).sum(1)
    ideal = np.array([discount[: min(n, ndcg_k)].sum() for n in n_test[users]])
    out[f"ndcg@{ndcg_k}"] = float(np.mean(dcg / ideal))
    return out


def evaluate(model, held_out, ks=(20, 50), ndcg_k=100):
    """Fold the held-out users in (``model.recalculate_user``: the exact solve under the
    model's objective, against its fixed item factors), rank every item but the fold-in
    ones, and score against the test items (``recall_ndcg``)."""
    n = held_out.fold_in.shape[0]
    X = np.atleast_2d(model.recalculate_user(np.arange(n), held_out.fold_in))
    depth = min(max(max(ks), ndcg_k), model.item_factors.shape[0])
    ranked, _ = recommend.top_k(
        X, model.item_factors, depth, liked=held_out.fold_in, num_threads=model.num_threads
    )
    return recall_ndcg(ranked, held_out.test, ks, ndcg_k)
