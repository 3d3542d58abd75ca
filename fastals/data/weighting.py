"""Confidence weightings for implicit feedback.

Per-row weights (arrays, before :func:`fastals.data.build_matrix` sums pairs):

- :func:`seed_confidence` -- the seed notebook's ``1 + alpha * (watch_ratio >= threshold)``.

Per-cell weightings of a users x items matrix (any scipy sparse input, a new
CSR returned, the input never modified; only stored entries are transformed,
so zeros stay zeros):

- :func:`count_confidence` -- the raw values (e.g. play counts) as confidence;
- :func:`linear_confidence` -- ``1 + alpha * x`` (Hu, Koren & Volinsky 2008, eq. 6);
- :func:`log_confidence` -- ``1 + alpha * log1p(x / eps)`` (Hu et al., eq. 7);
- :func:`bm25_weight`, :func:`tfidf_weight` -- the same numbers as
  ``implicit.nearest_neighbours.bm25_weight`` / ``tfidf_weight`` (which return
  COO) as CSR.

:func:`log_confidence` and :func:`linear_confidence` also take a dense
array-like (per-row weights), returning a float32 ndarray.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "bm25_weight",
    "count_confidence",
    "linear_confidence",
    "log_confidence",
    "seed_confidence",
    "tfidf_weight",
]


def _values(values, what: str) -> np.ndarray:
    arr = np.asarray(getattr(values, "to_numpy", lambda: values)(), dtype=np.float64)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr))
        raise ValueError(
            f"{what} must be finite; {bad.size} are not, e.g. at rows {bad[:5].tolist()}"
        )
    return arr


def _csr_copy(X, what: str = "X") -> sp.csr_matrix:
    """A canonical CSR copy of ``X`` (duplicates summed, sorted), never a view of it."""
    if not sp.issparse(X):
        raise TypeError(f"{what} must be a scipy sparse matrix, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{what} must be 2-D, got shape {X.shape}")
    out = sp.csr_matrix(X, copy=True)
    if not out.has_canonical_format:
        out.sum_duplicates()
    if out.dtype.kind not in "fiub":
        raise TypeError(f"{what} must hold real numbers, got dtype {out.dtype}")
    if out.dtype.kind == "f" and not np.all(np.isfinite(out.data)):
        raise ValueError(f"{what} holds non-finite values")
    return out


def _check_real(name: str, value: float, minimum: float | None = None, strict: bool = False):
    if isinstance(value, bool) or not np.isscalar(value) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}")
    return float(value)


def seed_confidence(watch_ratio, threshold: float = 2.0, alpha: float = 40.0) -> np.ndarray:
    """The seed notebook's per-row confidence ``1 + alpha * (watch_ratio >= threshold)``.

    Parameters
    ----------
    watch_ratio : array-like of float, shape (n,)
        Must be finite (clean the table first).
    threshold, alpha : float
        A row is a positive when ``watch_ratio >= threshold``; a positive row
        weighs ``1 + alpha``, any other row 1.

    Returns
    -------
    ndarray of shape (n,), float32
    """
    threshold = _check_real("threshold", threshold)
    alpha = _check_real("alpha", alpha)
    ratio = _values(watch_ratio, "watch_ratio")
    return (1.0 + alpha * (ratio >= threshold)).astype(np.float32)


def count_confidence(X, dtype=np.float32) -> sp.csr_matrix:
    """The stored values themselves (e.g. play counts, or row counts from
    ``build_matrix(weight=None)``) as confidences: a canonical ``dtype`` CSR copy.
    """
    out = _csr_copy(X)
    return out.astype(dtype, copy=False)


def linear_confidence(X, alpha: float = 40.0):
    """``1 + alpha * x`` on stored values (Hu, Koren & Volinsky 2008, eq. 6).

    ``X`` sparse: a new float32 CSR with the same sparsity. ``X`` array-like:
    a float32 ndarray.
    """
    alpha = _check_real("alpha", alpha)
    if sp.issparse(X):
        out = _csr_copy(X)
        out = out.astype(np.float64)
        out.data = 1.0 + alpha * out.data
        return out.astype(np.float32)
    return (1.0 + alpha * _values(X, "values")).astype(np.float32)


def log_confidence(X, alpha: float = 1.0, eps: float = 1.0):
    """``1 + alpha * log1p(x / eps)`` on stored values (Hu, Koren & Volinsky 2008, eq. 7).

    ``X`` sparse: a new float32 CSR with the same sparsity (stored values
    must be > -eps). ``X`` array-like: a float32 ndarray.
    """
    alpha = _check_real("alpha", alpha)
    eps = _check_real("eps", eps, minimum=0.0, strict=True)
    if sp.issparse(X):
        out = _csr_copy(X).astype(np.float64)
        values = out.data
    else:
        out, values = None, _values(X, "values")
    if values.size and values.min() <= -eps:
        raise ValueError(f"log_confidence needs values > -eps = {-eps}, got min {values.min()}")
    weighted = 1.0 + alpha * np.log1p(values / eps)
    if out is None:
        return weighted.astype(np.float32)
    out.data = weighted
    return out.astype(np.float32)


def _idf(coo: sp.coo_matrix) -> np.ndarray:
    # implicit: log(N) - log1p(bincount(X.col)), N = rows; counts include stored zeros
    n = float(coo.shape[0])
    return np.log(n) - np.log1p(np.bincount(coo.col, minlength=coo.shape[1]))


def bm25_weight(X, K1: float = 100, B: float = 0.8) -> sp.csr_matrix:
    """BM25-weighted copy of ``X``, the numbers of ``implicit.nearest_neighbours.bm25_weight``.

    Rows are documents, columns terms (implicit applies it to users x items):
    ``x * (K1 + 1) / (K1 * ((1 - B) + B * len_u / mean(len)) + x) * idf_i`` with
    ``len_u`` the row sum and ``idf_i = log(n_rows) - log1p(stored entries of
    column i)``. Computed with implicit's operations (same dtypes, so the same
    numbers), returned as CSR (implicit returns COO).
    """
    K1 = _check_real("K1", K1)
    B = _check_real("B", B)
    coo = _csr_copy(X).tocoo()
    idf = _idf(coo)
    row_sums = np.ravel(coo.sum(axis=1))
    length_norm = (1.0 - B) + B * row_sums / row_sums.mean()
    data = coo.data * (K1 + 1.0) / (K1 * length_norm[coo.row] + coo.data) * idf[coo.col]
    return sp.csr_matrix((data, (coo.row, coo.col)), shape=coo.shape)


def tfidf_weight(X) -> sp.csr_matrix:
    """TF-IDF-weighted copy of ``X``, the numbers of ``implicit.nearest_neighbours.tfidf_weight``.

    ``sqrt(x) * idf_i`` with ``idf_i = log(n_rows) - log1p(stored entries of
    column i)``; returned as CSR (implicit returns COO).
    """
    coo = _csr_copy(X).tocoo()
    data = np.sqrt(coo.data) * _idf(coo)[coo.col]
    return sp.csr_matrix((data, (coo.row, coo.col)), shape=coo.shape)
