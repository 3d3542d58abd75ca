"""Interactions -> model input: id maps and the users x items matrix.

:class:`IdMap` maps raw ids (ints or strings) to 0-based indices and back;
:func:`build_matrix` turns a DataFrame of interactions (or plain arrays, with
:func:`build_matrix_from_arrays`) into a canonical users x items CSR matrix,
summing the weights of repeated (user, item) pairs as the seed notebook's
COO -> CSR conversion did.

Unknown ids. When existing maps are passed (e.g. the train maps, to build a
test matrix in the same index space), rows whose user or item is not in them
are handled by ``unknown``: ``"drop"`` (default) drops them and emits an
:class:`UnknownIdWarning` carrying the counts (``n_rows``, ``n_users``,
``n_items``), ``"ignore"`` drops them silently, ``"raise"`` raises
:class:`UnknownIdError`. For the counts without a warning, look the ids up
first with ``IdMap.to_index(ids, unknown="mask")`` (-1 marks unknown ids).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "IdMap",
    "UnknownIdError",
    "UnknownIdWarning",
    "build_matrix",
    "build_matrix_from_arrays",
]

_SHOW = 5  # unknown ids named in an error message


class UnknownIdError(KeyError):
    """Raw ids not in an :class:`IdMap`.

    Attributes
    ----------
    unknown : ndarray
        The distinct unknown ids, in order of first appearance.
    count : int
        How many distinct ids are unknown.
    """

    def __init__(self, unknown: np.ndarray, what: str = "id"):
        self.unknown = unknown
        self.count = int(unknown.size)
        shown = ", ".join(repr(_py(v)) for v in unknown[:_SHOW])
        more = f" (and {self.count - _SHOW} more)" if self.count > _SHOW else ""
        self.message = f"{self.count} unknown {what}(s): {shown}{more}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return self.message


class UnknownIdWarning(UserWarning):
    """Rows with unknown user or item ids were dropped by :func:`build_matrix`.

    Attributes ``n_rows``, ``n_users`` and ``n_items``: rows dropped, distinct
    unknown users, distinct unknown items.
    """

    def __init__(self, n_rows: int, n_users: int, n_items: int, n_total: int):
        self.n_rows, self.n_users, self.n_items = n_rows, n_users, n_items
        super().__init__(
            f"dropped {n_rows} of {n_total} rows with ids unknown to the given maps "
            f"({n_users} unknown users, {n_items} unknown items)"
        )


def _py(value):
    return value.item() if isinstance(value, np.generic) else value


def _as_id_array(values, what: str = "ids") -> np.ndarray:
    """A 1-D ndarray of ids: integers, or strings as a fixed-width unicode array."""
    if isinstance(values, (pd.Series, pd.Index)):
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(values.cat.categories.dtype)
        if values.dtype.kind in "iu" or isinstance(values.dtype, pd.StringDtype):
            if values.isna().any():
                raise ValueError(f"{what} contain missing values")
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.dtype.kind in "iuU":
        return arr
    if arr.dtype.kind == "b":
        raise TypeError(f"{what} must be integers or strings, got booleans")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{what} contain missing or non-finite values")
        if not np.all(arr == np.trunc(arr)):
            raise TypeError(f"{what} must be integers or strings, got non-integral floats")
        return arr.astype(np.int64)
    if arr.dtype.kind == "O":
        if arr.size == 0:
            return arr.astype(np.int64)
        kinds = {type(v) for v in arr}
        if all(issubclass(k, str) for k in kinds):
            return arr.astype(str)
        if all(issubclass(k, (int, np.integer)) and not issubclass(k, bool) for k in kinds):
            return arr.astype(np.int64)
        if any(v is None or (isinstance(v, float) and v != v) for v in arr):
            raise ValueError(f"{what} contain missing values")
        raise TypeError(
            f"{what} must be all integers or all strings, got types {sorted(map(str, kinds))}"
        )
    raise TypeError(f"{what} must be integers or strings, got dtype {arr.dtype}")


class IdMap:
    """Raw ids <-> 0-based indices, both directions, vectorised.

    Index ``k`` is ``ids[k]``. Build one from interaction columns with
    :meth:`from_values` (indices in order of first appearance, as the seed's
    ``unique()``), or from the ids in index order with ``IdMap(ids)``.

    Parameters
    ----------
    ids : array-like of int or str, shape (n,)
        The distinct raw ids, in index order.

    Notes
    -----
    Ids are kept as an integer ndarray or a fixed-width unicode ndarray, so
    :meth:`to_arrays` output goes into an ``.npz`` without pickling.
    """

    __slots__ = ("_ids", "_index")

    def __init__(self, ids):
        arr = np.array(_as_id_array(ids), copy=True)  # never freeze the caller's buffer
        index = pd.Index(arr)
        if not index.is_unique:
            dup = index[index.duplicated()].unique()
            raise ValueError(
                f"ids must be distinct; {dup.size} repeated, e.g. {[_py(v) for v in dup[:_SHOW]]}"
            )
        arr.setflags(write=False)
        self._ids = arr
        self._index = index

    @classmethod
    def from_values(cls, values) -> IdMap:
        """Distinct ids of ``values`` in order of first appearance (``pd.unique``)."""
        return cls(pd.unique(_as_id_array(values)))

    @property
    def ids(self) -> np.ndarray:
        """Raw ids in index order (read-only ndarray of shape (n,))."""
        return self._ids

    def __len__(self) -> int:
        return int(self._ids.size)

    def __contains__(self, raw_id) -> bool:
        try:
            return bool(self._index.get_indexer(_as_id_array([raw_id]))[0] >= 0)
        except (TypeError, ValueError):
            return False

    def __eq__(self, other) -> bool:
        if not isinstance(other, IdMap):
            return NotImplemented
        return self._ids.dtype.kind == other._ids.dtype.kind and np.array_equal(
            self._ids, other._ids
        )

    __hash__ = None  # mutable-looking container semantics: compare by value, no hash

    def __repr__(self) -> str:
        head = ", ".join(repr(_py(v)) for v in self._ids[:3])
        more = ", ..." if self._ids.size > 3 else ""
        return f"IdMap({len(self)} ids: [{head}{more}])"

    def to_index(self, raw_ids, *, unknown: str = "raise"):
        """Indices (int32, int64 past 2**31 ids) of ``raw_ids``; a scalar gives an int.

        Parameters
        ----------
        raw_ids : scalar or array-like
            Raw ids to look up.
        unknown : {"raise", "mask"}
            ``"raise"``: :class:`UnknownIdError` naming the first few unknown ids
            and how many there are. ``"mask"``: -1 for each unknown id.
        """
        if unknown not in ("raise", "mask"):
            raise ValueError(f"unknown must be 'raise' or 'mask', got {unknown!r}")
        scalar = np.ndim(raw_ids) == 0 and not isinstance(raw_ids, (pd.Series, pd.Index))
        query = _as_id_array([raw_ids] if scalar else raw_ids)
        if query.size == 0:
            found = np.zeros(0, dtype=np.intp)
        elif (query.dtype.kind == "U") != (self._ids.dtype.kind == "U") and len(self):
            found = np.full(query.size, -1, dtype=np.intp)  # str vs int: nothing matches
        else:
            found = self._index.get_indexer(query)
        if unknown == "raise" and (found < 0).any():
            raise UnknownIdError(pd.unique(query[found < 0]))
        out = found.astype(np.int32 if len(self) < 2**31 else np.int64, copy=False)
        return int(out[0]) if scalar else out

    def to_raw(self, indices):
        """Raw ids of ``indices`` (a scalar gives a scalar).

        Raises
        ------
        IndexError
            An index is negative or >= ``len(self)``.
        """
        scalar = np.ndim(indices) == 0
        idx = np.asarray(indices).reshape(-1) if not scalar else np.asarray([indices])
        if idx.size and idx.dtype.kind not in "iu":
            if idx.dtype.kind == "f" and np.all(idx == np.trunc(idx)):
                idx = idx.astype(np.int64)
            else:
                raise TypeError(f"indices must be integers, got dtype {idx.dtype}")
        bad = (idx < 0) | (idx >= len(self))
        if bad.any():
            raise IndexError(
                f"{int(bad.sum())} index(es) out of range [0, {len(self)}), "
                f"e.g. {[int(v) for v in idx[bad][:_SHOW]]}"
            )
        out = self._ids[idx.astype(np.intp, copy=False)]
        return _py(out[0]) if scalar else out

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """``{prefix + "ids": ids}``: plain arrays for ``np.savez`` (no pickle needed)."""
        return {f"{prefix}ids": self._ids}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str = "") -> IdMap:
        """Inverse of :meth:`to_arrays` (also takes an open ``np.load`` result)."""
        key = f"{prefix}ids"
        if key not in arrays:
            raise KeyError(f"no array {key!r} among {sorted(arrays)}")
        return cls(np.asarray(arrays[key]))

    def save(self, path: str | os.PathLike) -> None:
        """Write the ids to an ``.npz`` file (``allow_pickle=False`` safe)."""
        np.savez(path, **self.to_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike) -> IdMap:
        """Read an :class:`IdMap` written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as data:
            return cls.from_arrays(data)


def _codes(values, id_map: IdMap | None, what: str) -> tuple[np.ndarray, IdMap]:
    """Indices of ``values`` and the map (built in first-appearance order if None)."""
    arr = _as_id_array(values, f"{what} ids")
    if id_map is None:
        codes, uniques = pd.factorize(arr, sort=False, use_na_sentinel=True)
        return codes, IdMap(uniques)
    return id_map.to_index(arr, unknown="mask"), id_map


def _build(user_ids, item_ids, weights, users, items, unknown, dtype, stacklevel):
    if unknown not in ("drop", "ignore", "raise"):
        raise ValueError(f"unknown must be 'drop', 'ignore' or 'raise', got {unknown!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    user_arr = _as_id_array(user_ids, "user ids")
    item_arr = _as_id_array(item_ids, "item ids")
    if user_arr.size != item_arr.size:
        raise ValueError(f"user_ids has {user_arr.size} rows but item_ids has {item_arr.size}")
    if weights is None:
        data = np.ones(user_arr.size, dtype=dtype)
    else:
        data = np.asarray(weights, dtype=np.float64).reshape(-1)
        if data.size != user_arr.size:
            raise ValueError(f"weights has {data.size} rows but the ids have {user_arr.size}")
        if not np.all(np.isfinite(data)):
            bad = np.flatnonzero(~np.isfinite(data))
            raise ValueError(
                f"weights must be finite; {bad.size} are not, e.g. at rows {bad[:_SHOW].tolist()}"
            )
        data = data.astype(dtype)
    rows, users = _codes(user_arr, users, "user")
    cols, items = _codes(item_arr, items, "item")
    known = (rows >= 0) & (cols >= 0)
    if not known.all():
        if unknown == "raise":
            bad_users = pd.unique(user_arr[rows < 0])
            if bad_users.size:
                raise UnknownIdError(bad_users, "user id")
            raise UnknownIdError(pd.unique(item_arr[cols < 0]), "item id")
        if unknown == "drop":
            warnings.warn(
                UnknownIdWarning(
                    int((~known).sum()),
                    int(pd.unique(user_arr[rows < 0]).size),
                    int(pd.unique(item_arr[cols < 0]).size),
                    int(known.size),
                ),
                stacklevel=stacklevel,
            )
        rows, cols, data = rows[known], cols[known], data[known]
    shape = (len(users), len(items))
    idx_dtype = np.int32 if max(shape) < 2**31 and rows.size < 2**31 else np.int64
    coo = sp.coo_matrix(
        (data, (rows.astype(idx_dtype, copy=False), cols.astype(idx_dtype, copy=False))),
        shape=shape,
    )
    matrix = coo.tocsr()  # sums duplicate (user, item) pairs
    matrix.sum_duplicates()  # canonical: sorted indices, no duplicates
    if idx_dtype == np.int32 and matrix.nnz < 2**31:
        matrix.indices = matrix.indices.astype(np.int32, copy=False)
        matrix.indptr = matrix.indptr.astype(np.int32, copy=False)
    return matrix, users, items


def build_matrix_from_arrays(
    user_ids,
    item_ids,
    weights=None,
    users: IdMap | None = None,
    items: IdMap | None = None,
    *,
    unknown: str = "drop",
    dtype=np.float32,
) -> tuple[sp.csr_matrix, IdMap, IdMap]:
    """Users x items CSR matrix from parallel arrays of raw ids and weights.

    Each row ``k`` adds ``weights[k]`` (1 when ``weights`` is None) at
    ``(users.to_index(user_ids[k]), items.to_index(item_ids[k]))``; repeated
    pairs are summed (so with ``weights=None`` a cell counts its rows).
    Explicit zeros (pairs whose weights sum to 0) stay stored, as in the seed.

    Parameters
    ----------
    user_ids, item_ids : array-like of int or str, shape (n,)
    weights : array-like of float, shape (n,), optional
        Must be finite.
    users, items : IdMap, optional
        Maps to reuse (e.g. the train maps for a test matrix); the shape is
        then ``(len(users), len(items))``. Default: new maps in order of first
        appearance.
    unknown : {"drop", "ignore", "raise"}
        Rows with ids not in a given map: drop with an :class:`UnknownIdWarning`
        (default), drop silently, or raise :class:`UnknownIdError`.
    dtype : float32 or float64
        Data dtype of the matrix.

    Returns
    -------
    (scipy.sparse.csr_matrix, IdMap, IdMap)
        Shape (n_users, n_items), ``dtype`` data, int32 indices (int64 when
        nnz >= 2**31), sorted indices, no duplicates; the user and item maps.
    """
    return _build(user_ids, item_ids, weights, users, items, unknown, dtype, stacklevel=3)


def build_matrix(
    df: pd.DataFrame,
    user_col: str,
    item_col: str,
    weight=None,
    users: IdMap | None = None,
    items: IdMap | None = None,
    *,
    unknown: str = "drop",
    dtype=np.float32,
) -> tuple[sp.csr_matrix, IdMap, IdMap]:
    """Users x items CSR matrix from a DataFrame of interactions.

    ``weight`` is a column name, an array of ``len(df)`` weights, or None (1
    per row). Repeated (user, item) pairs are summed, as the seed's COO -> CSR.
    The seed's KuaiRec train matrix is::

        conf = seed_confidence(big["watch_ratio"])   # 1 + 40 * (watch_ratio >= 2)
        X, users, items = build_matrix(big, "user_id", "video_id", conf)

    See :func:`build_matrix_from_arrays` for ``users``, ``items``, ``unknown``,
    ``dtype`` and the result.

    Raises
    ------
    KeyError
        A named column is not in ``df`` (the message lists its columns).
    """
    for name, column in (("user_col", user_col), ("item_col", item_col)):
        if column not in df.columns:
            raise KeyError(
                f"{name} {column!r} is not a column of the DataFrame: {list(df.columns)}"
            )
    if isinstance(weight, str):
        if weight not in df.columns:
            raise KeyError(f"weight column {weight!r} is not in the DataFrame: {list(df.columns)}")
        weight = df[weight].to_numpy(dtype=np.float64, na_value=np.nan)
    elif isinstance(weight, pd.Series):
        weight = weight.to_numpy(dtype=np.float64, na_value=np.nan)
    return _build(df[user_col], df[item_col], weight, users, items, unknown, dtype, stacklevel=3)
