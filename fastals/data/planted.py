"""The planted model behind fastals' generators: which items a user holds, and their taste.

Exposure: item i has a power-law popularity weight ``w_i ~ popularity_rank_i ** -exponent``
(ids shuffled); user u holds item i with probability ``min(1, c_u * w_i)`` (Poisson
sampling), ``c_u`` set by :func:`inclusion_scale` so that u's expected row length is its
target. Which items a user holds does not depend on taste.

Taste: user factors ``x_u ~ N(0, I_rank)``, item factors ``y_i ~ N(0, I_rank) / sqrt(rank)``
and biases ``b_u, b_i ~ N(0, bias_sd**2)``; the taste of (u, i) is ``x_u . y_i + b_u + b_i``.
Each generator adds its own noise and reading: :func:`fastals.data.kuairec_like` marks the
top share of noisy tastes as positives; :func:`fastals.kuairec.write_kuairec_folder` turns
them into watch ratios.

Everything is drawn from the generator's ``np.random.Generator``, in chunks of rows whose size
is part of the random stream.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def row_chunks(n_rows: int, n_cols: int, cells: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` row ranges of about ``cells`` dense cells each."""
    step = max(1, cells // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield start, min(start + step, n_rows)


def bernoulli(prob: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of the cells of ``prob`` (2-D, float32) drawn as 1."""
    draws = rng.random(prob.shape, dtype=np.float32)
    return np.flatnonzero(draws < prob)


def popularity_weights(n_items: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """``rank ** -exponent`` for ranks 1..n_items, shuffled: float64 of shape (n_items,), max 1."""
    ranks = np.arange(1, n_items + 1, dtype=np.float64)
    return rng.permutation(ranks**-exponent)


def inclusion_scale(targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-user ``c`` with ``sum_i min(1, c * weights_i) == targets`` (vectorised bisection).

    ``targets`` (float64, one per user) must lie in (0, number of positive weights]; zero
    weights never count. Returns float64 of the shape of ``targets``: the upper end of the
    bracket, to float64 precision (64 geometric halvings of a bracket at most ~1e19 wide).
    """
    w = np.sort(weights[weights > 0])[::-1]
    tail = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])  # tail[j] = sum(w[j:])
    neg_w = -w  # ascending, for searchsorted

    def expected(c: np.ndarray) -> np.ndarray:
        n_capped = np.searchsorted(neg_w, -1.0 / c, side="right")
        return n_capped + c * tail[n_capped]

    lo = targets / tail[0]  # expected(c) <= c * sum(w)
    hi = np.full(targets.shape, 1.0 / w[-1])  # every item held
    for _ in range(64):
        mid = np.sqrt(lo * hi)
        below = expected(mid) < targets
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return hi


def exposure(scale: np.ndarray, weights32: np.ndarray) -> np.ndarray:
    """Dense float32 probabilities ``min(1, c_u * w_i)``, shape (len(scale), len(weights32))."""
    return np.minimum(scale[:, None].astype(np.float32) * weights32[None, :], np.float32(1.0))


class Taste:
    """Planted factors and biases (see the module docstring), float32.

    ``draw_dtype`` is the dtype of the normal draws, cast to float32 after scaling (float32
    draws are a different stream from float64 ones: each generator keeps its own).
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        rng: np.random.Generator,
        *,
        rank: int,
        bias_sd: float,
        draw_dtype: type[np.floating],
    ):
        dt = np.dtype(draw_dtype).type

        def normal(shape):
            return rng.standard_normal(shape, dtype=dt)

        self.user_f = normal((n_users, rank)).astype(np.float32)
        self.item_f = (normal((n_items, rank)) / dt(np.sqrt(rank))).astype(np.float32)
        self.user_b = (dt(bias_sd) * normal(n_users)).astype(np.float32)
        self.item_b = (dt(bias_sd) * normal(n_items)).astype(np.float32)

    def block(self, start: int, stop: int) -> np.ndarray:
        """Tastes of users ``start:stop`` for every item: float32, shape (stop - start, n_items)."""
        dense = self.user_f[start:stop] @ self.item_f.T
        dense += self.user_b[start:stop, None]
        dense += self.item_b[None, :]
        return dense

    def pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Tastes of the (users[k], items[k]) pairs: float64, shape (len(users),)."""
        t = np.einsum("ij,ij->i", self.user_f[users], self.item_f[items], dtype=np.float64)
        t += self.user_b[users] + self.item_b[items]
        return t
