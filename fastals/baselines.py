"""Popularity and random recommenders, served by the same top-k kernel as ALS.

Each baseline is a factor model in disguise, so ``recommend`` goes through
``fastals.recommend.top_k`` exactly like ``AlternatingLeastSquares.recommend``: same output
contract (int32 ids, float32 scores, 1-D for a scalar user and 2-D for an array, filtered
items at ``-finfo(float32).max`` in the tail, ``items=`` subsets, implicit's tie order), and
the same path through ``fastals.evaluation`` (or ``implicit.evaluation``).

- ``PopularityRecommender``: one factor; every user's factor is 1 and item i's factor is its
  training popularity, so the score of item i is its popularity for every user.
- ``RandomRecommender``: ``factors`` Gaussian factors per user and per item, drawn once at
  ``fit`` from ``random_state``. For a fixed user the scores x_u . y_i are i.i.d. over items
  (the y_i are i.i.d. and independent of x_u), so each user's ranking is a uniformly random
  permutation, and the same seed gives the same recommendations on every call. Two users'
  rankings are correlated by the cosine of their factors (about 1/sqrt(factors) in size).
"""

from __future__ import annotations

import numpy as np

from . import recommend as serving
from ._validation import (
    NotFittedError,
    batch_shape,
    check_ids,
    check_num_threads,
    check_positive_int,
    check_rows,
    to_csr,
)

__all__ = ["PopularityRecommender", "RandomRecommender"]

DTYPE = np.float32


class _FactorBaseline:
    """Shared serving for the baselines: ``recommend`` over ``user_factors``/``item_factors``."""

    user_factors: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    num_threads: int = 0

    def _require_fitted(self):
        if self.user_factors is None or self.item_factors is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit() first")
        return len(self.user_factors), len(self.item_factors)

    def _new_user_factors(self, userids):
        """Factors for ``recalculate_user=True`` (ids may exceed the fitted users)."""
        raise NotImplementedError

    def recommend(
        self,
        userid,
        user_items,
        N=10,
        filter_already_liked_items=True,
        filter_items=None,
        recalculate_user=False,
        items=None,
    ):
        """Top-N items for a user id (1-D results) or an array of ids (2-D results).

        implicit's signature and contract (see ``AlternatingLeastSquares.recommend``):
        ``user_items`` holds one row per requested user (CSR), needed when filtering liked
        items or with ``recalculate_user``. The baselines ignore a user's history when
        scoring, so ``recalculate_user=True`` only lifts the requirement that ``userid`` was
        seen in ``fit``. Returns (ids int32, scores float32); N is capped at the number of
        candidate items.
        """
        n_users, n_items = self._require_fitted()
        scalar, count = batch_shape(userid, "userid", "users")
        rows = None
        if filter_already_liked_items or recalculate_user:
            rows = check_rows(user_items, count, n_items, "user_items", "users", "items", n_users)
        if recalculate_user:
            ids = np.atleast_1d(check_ids(userid, np.iinfo(np.int64).max, "userid", "users"))
            queries = self._new_user_factors(ids)
        else:
            queries = self.user_factors[
                np.atleast_1d(check_ids(userid, n_users, "userid", "users"))
            ]
        return serving.rank_items(
            queries,
            self.item_factors,
            rows,
            N,
            filter_already_liked_items,
            filter_items,
            items,
            self.num_threads,
            scalar,
        )


class PopularityRecommender(_FactorBaseline):
    """Recommends the most popular training items, the same list for every user.

    Parameters
    ----------
    popularity : "count" or "sum"
        "count" (default): the number of users with a positive stored value for the item
        (stored zeros and negatives are not interactions, as in implicit's ALS). "sum": the
        sum of the item's stored values (e.g. summed confidences).
    num_threads : int
        Numba threads for ``recommend`` (0: all cores).

    Attributes
    ----------
    item_popularity : ndarray (n_items,), float64
    user_factors : ndarray (n_users, 1), float32, all ones
    item_factors : ndarray (n_items, 1), float32, the popularity
    """

    def __init__(self, popularity: str = "count", num_threads: int = 0):
        if popularity not in ("count", "sum"):
            raise ValueError(f'popularity must be "count" or "sum", got {popularity!r}')
        self.popularity = popularity
        self.num_threads = check_num_threads(num_threads)
        self.item_popularity = None

    def fit(self, user_items, show_progress: bool = True):
        """Count item popularity in ``user_items`` (users x items, CSR). Returns self."""
        matrix = to_csr(user_items, "user_items")
        n_users, n_items = matrix.shape
        if self.popularity == "count":
            positive = matrix.data > 0
            pop = np.bincount(matrix.indices[positive], minlength=n_items).astype(np.float64)
        else:
            pop = np.bincount(matrix.indices, weights=matrix.data, minlength=n_items)
        self.item_popularity = pop
        self.user_factors = np.ones((n_users, 1), dtype=DTYPE)
        self.item_factors = pop.astype(DTYPE).reshape(-1, 1)
        return self

    def _new_user_factors(self, userids):
        return np.ones((len(userids), 1), dtype=DTYPE)


class RandomRecommender(_FactorBaseline):
    """Recommends a uniformly random ranking per user, reproducible from ``random_state``.

    Parameters
    ----------
    random_state : int, None, np.random.Generator or np.random.RandomState
        Seed of the factors drawn at ``fit``: the same seed gives the same recommendations.
    factors : int
        Dimension of the random factors; higher means less correlated rankings across users
        (each user's own ranking is uniform for any value).
    num_threads : int
        Numba threads for ``recommend`` (0: all cores).
    """

    def __init__(self, random_state=None, factors: int = 64, num_threads: int = 0):
        self.random_state = random_state
        self.factors = check_positive_int("factors", factors)
        self.num_threads = check_num_threads(num_threads)
        self._seed = None

    def fit(self, user_items, show_progress: bool = True):
        """Draw user and item factors for the shape of ``user_items``. Returns self."""
        n_users, n_items = to_csr(user_items, "user_items").shape
        rng = _rng(self.random_state)
        self._seed = int(rng.integers(2**63))
        self.user_factors = _gaussian((self._seed, 0), (n_users, self.factors))
        self.item_factors = _gaussian((self._seed, 1), (n_items, self.factors))
        return self

    def _new_user_factors(self, userids):
        n_users = len(self.user_factors)
        out = np.empty((len(userids), self.factors), dtype=DTYPE)
        for j, u in enumerate(userids):
            u = int(u)
            out[j] = (
                self.user_factors[u]
                if u < n_users
                else _gaussian((self._seed, 2, u), (self.factors,))
            )
        return out


def _gaussian(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(DTYPE)


def _rng(random_state):
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    return np.random.default_rng(random_state)
