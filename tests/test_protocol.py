"""The strong-generalisation protocol: the split's invariants, the metrics' definitions, and an
end-to-end run on MovieLens (ml-latest-small, skipped when absent)."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from data_dir import DATA_DIR

from fastals import iALS, protocol

ML_SMALL = DATA_DIR / "ml-latest-small"


def pairs(n_users=60, n_items=40, seed=0):
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        chosen = rng.choice(n_items, size=rng.integers(3, 20), replace=False)
        users += [u * 10] * len(chosen)  # ids need not be 0..n-1
        items += list(chosen * 3)
    return np.array(users), np.array(items)


def test_split_invariants():
    users, items = pairs()
    split = protocol.strong_generalization_split(users, items, n_heldout=10, seed=1)
    assert split.train.shape[0] == 40
    for held in (split.validation, split.test):
        assert held.fold_in.shape == held.test.shape == (10, len(split.items))
        both = held.fold_in.multiply(held.test)
        assert both.nnz == 0  # fold-in and test items are disjoint
        n_all = np.diff((held.fold_in + held.test).indptr)
        n_test = np.diff(held.test.indptr)
        expected = np.where(n_all >= 5, (0.2 * n_all).astype(int), 0)
        np.testing.assert_array_equal(n_test, expected)
    # training columns are exactly the items the training users have
    assert np.all(np.diff(split.train.tocsc().indptr) > 0)
    again = protocol.strong_generalization_split(users, items, n_heldout=10, seed=1)
    assert (again.test.test != split.test.test).nnz == 0  # the seed fixes the split
    with pytest.raises(ValueError, match="no training users"):
        protocol.strong_generalization_split(users, items, n_heldout=30)


def test_recall_and_ndcg_definitions():
    ranked = np.array([[5, 1, 2, 3], [0, 1, 2, 3]])
    test = sp.csr_matrix(np.array([[0, 1, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0]]))
    got = protocol.recall_ndcg(ranked, test, ks=(1, 2), ndcg_k=4)
    # user 0: hits at ranks 2 and 4; user 1 has no test items and is left out
    assert got["recall@1"] == 0.0
    assert got["recall@2"] == pytest.approx(1 / 2)  # 1 hit / min(2, 2)
    dcg = 1 / np.log2(3) + 1 / np.log2(5)
    ideal = 1 + 1 / np.log2(3)
    assert got["ndcg@4"] == pytest.approx(dcg / ideal)


def test_movielens_filter(tmp_path):
    frame = pd.DataFrame(
        {
            "userId": [1] * 6 + [2] * 6,
            "movieId": list(range(6)) * 2,
            "rating": [4, 4, 4, 4, 4, 3.5] + [5, 5, 5, 5, 1, 1],
            "timestamp": 0,
        }
    )
    frame.to_csv(tmp_path / "ratings.csv", index=False)
    users, items = protocol.movielens_ratings(tmp_path)
    # user 1 keeps 5 ratings > 3.5; user 2 has only 4 and is dropped
    np.testing.assert_array_equal(users, [1] * 5)
    np.testing.assert_array_equal(items, range(5))


@pytest.mark.skipif(not ML_SMALL.exists(), reason="ml-latest-small not in the data folder")
def test_movielens_end_to_end():
    users, items = protocol.movielens_ratings(ML_SMALL)
    split = protocol.strong_generalization_split(users, items, n_heldout=50)
    model = iALS(factors=32, iterations=6, random_state=0, solver="cg")
    model.fit(split.train, show_progress=False)
    metrics = protocol.evaluate(model, split.validation)
    popular = np.asarray(split.train.sum(0)).ravel()
    ranked = np.argsort(-popular, kind="stable")[None, :].repeat(50, 0)
    for u in range(50):  # popularity, the fold-in items removed as the model's ranking does
        seen = split.validation.fold_in[u].indices
        ranked[u] = np.concatenate([ranked[u][~np.isin(ranked[u], seen)], seen])
    baseline = protocol.recall_ndcg(ranked[:, :100], split.validation.test)
    assert metrics["ndcg@100"] > baseline["ndcg@100"] > 0
