"""Popularity and random recommenders, served by the same top-k kernel as ALS.

Each baseline is a factor model in disguise (``model.FactorModel``), so ``recommend`` goes
through the same code as ``AlternatingLeastSquares.recommend``: same output
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

from ._validation import batch_shape, check_ids, check_num_threads, check_positive_int, to_csr
from .factorization import rng as random_generator
from .model import FactorModel

__all__ = ["PopularityRecommender", "RandomRecommender"]

DTYPE = np.float32


class _FactorBaseline(FactorModel):
    """A baseline's factors for any user id: it ignores a user's history when scoring, so
    ``recalculate_user`` (and ``recommend(..., recalculate_user=True)``) only lifts the
    requirement that the id was seen in ``fit``."""

    def _new_user_factors(self, userids):
        raise NotImplementedError

    def recalculate_user(self, userid, user_items):
        """Factors for ``userid`` (any id >= 0; ``user_items`` is not read)."""
        self._require_fitted()
        scalar, _ = batch_shape(userid, "userid", "users")
        ids = np.atleast_1d(check_ids(userid, np.iinfo(np.int64).max, "userid", "users"))
        out = self._new_user_factors(ids)
        return out[0] if scalar else out

    def _fitted(self, user_factors, item_factors):
        self.user_factors, self.item_factors = user_factors, item_factors
        self._user_norms = self._item_norms = None
        return self


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
        return self._fitted(np.ones((n_users, 1), dtype=DTYPE), pop.astype(DTYPE).reshape(-1, 1))

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
        rng = random_generator(self.random_state)
        self._seed = int(rng.integers(2**63))
        return self._fitted(
            _gaussian((self._seed, 0), (n_users, self.factors)),
            _gaussian((self._seed, 1), (n_items, self.factors)),
        )

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
