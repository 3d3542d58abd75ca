"""Seeded synthetic implicit-feedback matrices.

Every generator draws from ``np.random.default_rng(seed)`` only, works in
chunks of rows (bounded memory, no per-cell Python loops) and returns a
canonical ``scipy.sparse.csr_matrix`` of shape ``(n_users, n_items)``: float32
data, int32 indices and indptr (int64 when nnz >= 2**31), sorted indices, no
duplicates, no explicit zeros. A given seed gives the same matrix for a given
fastals version (the chunk size is a constant, part of the random stream).

- :func:`kuairec_like` -- KuaiRec-shaped confidences ``1 + alpha * r``.
- :func:`planted_low_rank` -- observations from a planted rank-``rank`` model.
- :func:`checkerboard` -- block-diagonal (interleaved) structure, optional noise.
- :func:`power_law` -- large sparse count matrices (hundreds of millions of entries),
  drawn entry by entry instead of cell by cell.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from fastals.data.planted import (
    Taste,
    bernoulli,
    exposure,
    inclusion_scale,
    popularity_weights,
    row_chunks,
)

__all__ = ["checkerboard", "kuairec_like", "planted_low_rank", "power_law"]

# About this many dense cells (float32) are materialised per chunk of rows.
_CHUNK_CELLS = 1 << 22

# kuairec_like shape assumptions (see its docstring).
_ACTIVITY_SIGMA_LOW = 0.7  # half-normal log-space spread below the median row length
_ACTIVITY_TAIL = 0.3  # exponential log-space tail above it: Pareto, exponent 1 / 0.3
_POPULARITY_EXPONENT = 0.8  # item weight ~ popularity_rank ** -exponent
_TASTE_RANK = 8
_BIAS_SCALE = 0.5  # std of user and item biases in the taste score
_TASTE_NOISE = 0.5  # scale of the logistic noise on the taste score


# ---------------------------------------------------------------- helpers


def _assemble_csr(
    cols: list[np.ndarray],
    counts: list[np.ndarray],
    data: np.ndarray,
    shape: tuple[int, int],
) -> sp.csr_matrix:
    """Canonical CSR from per-chunk column ids (row-major) and row counts."""
    indices = np.concatenate(cols) if cols else np.zeros(0, np.int32)
    nnz = indices.size
    idx_dtype = np.int32 if nnz < 2**31 else np.int64
    indptr = np.zeros(shape[0] + 1, dtype=idx_dtype)
    if counts:
        np.cumsum(np.concatenate(counts), out=indptr[1:])
    matrix = sp.csr_matrix(
        (data.astype(np.float32, copy=False), indices.astype(idx_dtype, copy=False), indptr),
        shape=shape,
        copy=False,
    )
    matrix.has_sorted_indices = True
    matrix.has_canonical_format = True
    return matrix


def _sample_rows(
    prob_rows: Callable[[int, int], np.ndarray],
    n_users: int,
    n_items: int,
    rng: np.random.Generator,
    on_chunk: Callable[[int, int, np.ndarray], None] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Draw each cell of a users x items matrix as 1 with probability ``prob_rows``.

    ``prob_rows(start, stop)`` returns the dense float32 probabilities of those
    rows, shape ``(stop - start, n_items)``. ``on_chunk(start, stop, flat)``, if
    given, sees each chunk's drawn cells as flat indices into that dense block.
    Returns per-chunk int32 column ids and row counts, in row-major (hence
    sorted, duplicate-free) order.
    """
    cols, counts = [], []
    for start, stop in row_chunks(n_users, n_items, _CHUNK_CELLS):
        flat = bernoulli(prob_rows(start, stop), rng)
        cols.append((flat % n_items).astype(np.int32))
        row_starts = np.arange(stop - start + 1, dtype=np.int64) * n_items
        counts.append(np.diff(np.searchsorted(flat, row_starts)))
        if on_chunk is not None:
            on_chunk(start, stop, flat)
    return cols, counts


def _check_shape(n_users: int, n_items: int) -> None:
    if n_users < 1 or n_items < 1:
        raise ValueError(f"need n_users >= 1 and n_items >= 1, got {n_users} x {n_items}")


# ---------------------------------------------------------------- kuairec_like


def _row_lengths(n_users: int, n_items: int, nnz: int, rng: np.random.Generator) -> np.ndarray:
    """Target stored entries per user, float64 of shape (n_users,), summing to nnz.

    Log row length is half-normal below the median and exponential above it
    (a Pareto tail in length), scaled so the lengths clipped to [1, n_items]
    sum to ``nnz``.
    """
    below = rng.random(n_users) < 0.5
    low = -_ACTIVITY_SIGMA_LOW * np.abs(rng.standard_normal(n_users))
    high = _ACTIVITY_TAIL * rng.standard_exponential(n_users)
    log_len = np.where(below, low, high)
    raw = np.exp(log_len)
    lo, hi = 0.0, float(n_items) / raw.min()
    for _ in range(100):  # bisection on the scale: the clipped sum is monotone
        mid = 0.5 * (lo + hi)
        if np.clip(mid * raw, 1.0, n_items).sum() < nnz:
            lo = mid
        else:
            hi = mid
    return np.clip(hi * raw, 1.0, n_items)


def _positive_labels(taste: np.ndarray, positive_rate: float) -> np.ndarray:
    """Boolean r: the top ``positive_rate`` share of the noisy taste scores."""
    n_pos = int(round(positive_rate * taste.size))
    if n_pos == 0:
        return np.zeros(taste.size, dtype=bool)
    if n_pos >= taste.size:
        return np.ones(taste.size, dtype=bool)
    threshold = np.partition(taste, taste.size - n_pos)[taste.size - n_pos]
    return taste >= threshold


def kuairec_like(
    n_users: int = 7176,
    n_items: int = 10728,
    nnz: int = 11_564_987,
    positive_rate: float = 0.06,
    alpha: float = 40,
    seed: int = 0,
) -> sp.csr_matrix:
    """A KuaiRec-shaped confidence matrix, as the seed notebook builds it.

    Each stored entry is ``1 + alpha * r`` with ``r`` in {0, 1} (so 1 or 41 by
    default): every (user, video) pair that was watched is stored, and ``r = 1``
    marks a positive (``watch_ratio >= 2`` in the real data). The defaults are
    the shape of KuaiRec 2.0's ``big_matrix`` after the seed's cleaning: 7,176
    users, 10,728 videos, 11,564,987 stored entries (15% of cells).

    Shape assumptions (the real matrix is not available here):

    - Row lengths: log-length is half-normal (spread 0.7) below the median and
      exponential (scale 0.3, i.e. a Pareto tail of exponent ~3.3) above it,
      scaled so the expected total is ``nnz``. At the default size: min ~100,
      median ~1,600, a heavy tail up to ``n_items``. Realised row
      lengths are Poisson-binomial around their targets, so the total is
      ``nnz`` within a few ``sqrt(nnz)``.
    - Items: power-law popularity ``w_i ~ rank_i ** -0.8`` with shuffled ids;
      user u holds item i with probability ``min(1, c_u * w_i)`` (heavy users
      hold every popular item).
    - Positives: the planted taste (:mod:`fastals.data.planted`) ``b_u + b_i +
      x_u . y_i / sqrt(8)`` (rank 8, standard normal factors, biases with std
      0.5, float32 draws) plus logistic noise (scale 0.5); the top
      ``positive_rate`` share of stored entries are positives, so the rate is
      exact. The real positive rate of KuaiRec at
      ``watch_ratio >= 2`` is not known here: 0.06 is an assumption.

    Parameters
    ----------
    n_users, n_items : int
        Matrix shape.
    nnz : int
        Requested number of stored entries; ``n_users <= nnz <= n_users * n_items``.
    positive_rate : float
        Share of stored entries with ``r = 1``, in [0, 1].
    alpha : float
        Confidence weight of a positive.
    seed : int
        Seed for ``np.random.default_rng``.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_users, n_items)
        float32 data in {1, 1 + alpha}, int32 indices, canonical format.
        Time and memory at the default size: ``benchmarks/RESULTS.md`` (Data tools).
    """
    _check_shape(n_users, n_items)
    if not n_users <= nnz <= n_users * n_items:
        raise ValueError(
            f"nnz={nnz} must be in [n_users, n_users * n_items] for {n_users} x {n_items}"
        )
    if not 0.0 <= positive_rate <= 1.0:
        raise ValueError(f"positive_rate must be in [0, 1], got {positive_rate}")
    rng = np.random.default_rng(seed)
    lengths = _row_lengths(n_users, n_items, nnz, rng)
    weights = popularity_weights(n_items, _POPULARITY_EXPONENT, rng)
    scale = inclusion_scale(lengths, weights)
    w32 = weights.astype(np.float32)
    taste = Taste(
        n_users, n_items, rng, rank=_TASTE_RANK, bias_sd=_BIAS_SCALE, draw_dtype=np.float32
    )

    def prob_rows(start: int, stop: int) -> np.ndarray:
        return exposure(scale[start:stop], w32)

    tastes = []

    def on_chunk(start: int, stop: int, flat: np.ndarray) -> None:
        noise = rng.logistic(scale=_TASTE_NOISE, size=flat.size).astype(np.float32)
        tastes.append(taste.block(start, stop).ravel()[flat] + noise)

    cols, counts = _sample_rows(prob_rows, n_users, n_items, rng, on_chunk)
    positive = _positive_labels(np.concatenate(tastes), positive_rate)
    data = np.where(positive, np.float32(1 + alpha), np.float32(1))
    return _assemble_csr(cols, counts, data, (n_users, n_items))


# ---------------------------------------------------------------- power_law

_ENTRIES_PER_CHUNK = 1 << 24  # about this many draws per chunk of rows
_TOP_UP_ROUNDS = 4  # redraws for the entries lost to repeated draws within a row
_LONG_ROW = 8  # rows of at least n_items / 8 entries are drawn without replacement


def power_law(
    n_users: int,
    n_items: int,
    nnz: int,
    popularity_exponent: float = 0.8,
    seed: int = 0,
) -> sp.csr_matrix:
    """A large sparse matrix of interaction counts, for benchmarks at scale.

    Row lengths as :func:`kuairec_like`'s (half-normal below the median, Pareto tail above,
    scaled to sum to ``nnz``, clipped to [1, n_items]); each row's items are drawn from the
    power-law popularity ``w_i ~ rank_i ** -popularity_exponent`` (shuffled ids) without
    repeats: rows of at least an eighth of the items exactly (weighted sampling without
    replacement), shorter ones with replacement and the repeats redrawn (a few rounds: a
    row may fall a little short of its target). Each stored value is a count
    drawn from Geometric(1/2): half the entries are 1, a quarter 2, and so on (with
    ``alpha=1``, ALS's confidences are the counts: half of them c = 1).

    Unlike the other generators nothing dense is drawn: time and memory grow with ``nnz``
    (about 45 s per 100M entries here), not with ``n_users * n_items``.

    Returns a canonical float32 CSR (int32 indices; int64 indptr when nnz >= 2**31) with
    about ``nnz`` entries.
    """
    _check_shape(n_users, n_items)
    if not n_users <= nnz <= n_users * n_items:
        raise ValueError(
            f"nnz={nnz} must be in [n_users, n_users * n_items] for {n_users} x {n_items}"
        )
    if popularity_exponent < 0:
        raise ValueError(f"popularity_exponent must be >= 0, got {popularity_exponent}")
    rng = np.random.default_rng(seed)
    targets = _row_lengths(n_users, n_items, nnz, rng)
    lengths = np.floor(targets).astype(np.int64)
    lengths += rng.random(n_users) < targets - lengths  # unbiased rounding
    lengths = np.minimum(lengths, n_items)
    cdf = np.cumsum(popularity_weights(n_items, popularity_exponent, rng))
    cdf /= cdf[-1]
    cols, counts = [], []
    start = 0
    cumulative = np.cumsum(lengths)
    while start < n_users:
        taken = cumulative[start - 1] if start else 0
        stop = int(np.searchsorted(cumulative, taken + _ENTRIES_PER_CHUNK, side="right"))
        stop = max(stop, start + 1)
        keys = _draw_rows(lengths[start:stop], n_items, cdf, rng)
        cols.append((keys % n_items).astype(np.int32))
        counts.append(np.bincount(keys // n_items, minlength=stop - start))
        start = stop
    data = np.concatenate([rng.geometric(0.5, size=c.size).astype(np.float32) for c in cols])
    return _assemble_csr(cols, counts, data, (n_users, n_items))


def _draw_rows(lengths, n_items, cdf, rng):
    """Sorted unique keys row * n_items + item for rows of ``lengths`` distinct items each,
    weighted by popularity (the cumulative weights ``cdf``). Rows of at least an eighth of
    the items: exact weighted sampling without replacement (Efraimidis & Spirakis: the top
    ``length`` of log w_i + Gumbel noise), O(n_items) each; shorter rows: drawn with
    replacement, repeats redrawn (up to what the top-up rounds reach)."""
    rows = np.arange(len(lengths), dtype=np.int64)
    long_rows = lengths * _LONG_ROW >= n_items
    keys = [np.zeros(0, np.int64)]
    if long_rows.any():
        log_w = np.log(np.diff(cdf, prepend=0.0))
        for r in rows[long_rows]:
            noisy = log_w + rng.gumbel(size=n_items)
            top = np.argpartition(noisy, n_items - lengths[r])[n_items - lengths[r] :]
            keys.append(r * n_items + np.sort(top))
    keys = np.concatenate(keys)
    keys.sort()
    need = np.where(long_rows, 0, lengths)
    for _ in range(1 + _TOP_UP_ROUNDS):
        drawn = np.repeat(rows, need)
        items = np.searchsorted(cdf, rng.random(drawn.size), side="right")
        np.minimum(items, n_items - 1, out=items)  # rounding at the top of the cdf
        keys = np.concatenate([keys, drawn * n_items + items])
        keys.sort()  # (np.unique hashes: far slower on tens of millions)
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
        need = lengths - np.bincount(keys // n_items, minlength=len(lengths))
        if not need.any():
            break
    return keys


# ---------------------------------------------------------------- planted_low_rank


def planted_low_rank(
    n_users: int,
    n_items: int,
    rank: int = 4,
    density: float = 0.1,
    seed: int = 0,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Binary implicit data observed from a planted rank-``rank`` model.

    Users and items hold soft topic memberships: ``user_latent`` rows and
    ``item_latent`` rows are Dirichlet(0.1) draws over ``rank`` topics (most mass
    on one topic). Cell (u, i) is stored, with value 1.0, with probability
    ``min(1, s * user_latent[u] . item_latent[i])``, ``s`` set so the expected
    density is ``density`` (exact unless ``density * rank`` nears 1, where the
    cap at 1 binds). Users and items that share a dominant topic interact far
    more often than others, and the expected matrix has rank ``rank``.

    Returns
    -------
    matrix : scipy.sparse.csr_matrix of shape (n_users, n_items)
        float32 data, all 1.0; int32 indices; canonical format.
    user_latent : ndarray of shape (n_users, rank), float64
        Non-negative memberships; rows sum to 1.
    item_latent : ndarray of shape (n_items, rank), float64
        Non-negative memberships; rows sum to 1.
    """
    _check_shape(n_users, n_items)
    if rank < 1:
        raise ValueError(f"rank must be >= 1, got {rank}")
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    rng = np.random.default_rng(seed)
    concentration = np.full(rank, 0.1)
    user_latent = rng.dirichlet(concentration, size=n_users)
    item_latent = rng.dirichlet(concentration, size=n_items)
    mean_affinity = user_latent.sum(0) @ item_latent.sum(0) / (n_users * n_items)
    s = density / mean_affinity if mean_affinity > 0 else 0.0
    item_t = item_latent.T.astype(np.float32)

    def prob_rows(start: int, stop: int) -> np.ndarray:
        affinity = user_latent[start:stop].astype(np.float32) @ item_t
        return np.minimum(np.float32(s) * affinity, np.float32(1.0))

    cols, counts = _sample_rows(prob_rows, n_users, n_items, rng)
    nnz = sum(c.size for c in cols)
    matrix = _assemble_csr(cols, counts, np.ones(nnz, np.float32), (n_users, n_items))
    return matrix, user_latent, item_latent


# ---------------------------------------------------------------- checkerboard


def checkerboard(
    n_users: int,
    n_items: int,
    n_blocks: int = 2,
    seed: int = 0,
    noise: float = 0.0,
) -> sp.csr_matrix:
    """Interleaved block structure, like implicit's own checkerboard test.

    User u is in block ``u % n_blocks`` and item i in block ``i % n_blocks``;
    with ``noise=0`` each user holds exactly the items of its block (value 1.0)
    and nothing else. With ``noise > 0`` every cell is flipped independently
    with probability ``noise`` (in-block cells dropped, out-of-block cells
    added). ``seed`` only matters when ``noise > 0``.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_users, n_items)
        float32 data, all 1.0; int32 indices; canonical format.
    """
    _check_shape(n_users, n_items)
    if n_blocks < 1:
        raise ValueError(f"n_blocks must be >= 1, got {n_blocks}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    rng = np.random.default_rng(seed)
    item_block = np.arange(n_items) % n_blocks
    keep, flip = np.float32(1.0 - noise), np.float32(noise)

    def prob_rows(start: int, stop: int) -> np.ndarray:
        user_block = np.arange(start, stop)[:, None] % n_blocks
        return np.where(user_block == item_block[None, :], keep, flip)

    cols, counts = _sample_rows(prob_rows, n_users, n_items, rng)
    nnz = sum(c.size for c in cols)
    return _assemble_csr(cols, counts, np.ones(nnz, np.float32), (n_users, n_items))
