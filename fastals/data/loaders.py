"""Loaders for public implicit-feedback datasets kept as files (MovieLens, HetRec Last.fm).

Each takes the dataset's folder or its ratings file and returns a DataFrame
with fixed column names, ready for :func:`fastals.data.build_matrix`. CRLF
line endings are handled. The files are read where they are; nothing is
downloaded or copied (their licences forbid redistribution).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["load_lastfm", "load_movielens"]

_MOVIELENS_FILES = ("u.data", "ratings.csv", "ratings.dat")
_LASTFM_FILE = "user_artists.dat"


def _resolve(path: str | os.PathLike, candidates: tuple[str, ...], dataset: str) -> Path:
    """The data file: ``path`` itself, or the first of ``candidates`` in folder ``path``."""
    path = Path(path)
    if path.is_dir():
        for name in candidates:
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(
            f"no {dataset} ratings file in folder {str(path)!r}: expected one of {list(candidates)}"
        )
    if not path.exists():
        raise FileNotFoundError(f"{dataset} path {str(path)!r} does not exist")
    return path


def _check_columns(frame: pd.DataFrame, expected: list[str], path: Path) -> None:
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {missing}; the file has columns {list(frame.columns)}"
        )


def _read(path: Path, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: file is empty") from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path}: could not parse the file: {exc}") from exc


def _finish(frame: pd.DataFrame, path: Path, dtypes: dict[str, type]) -> pd.DataFrame:
    if frame.isna().any().any():
        bad = frame.columns[frame.isna().any()].tolist()
        row = int(np.flatnonzero(frame.isna().any(axis=1).to_numpy())[0])
        raise ValueError(f"{path}: missing or malformed values in column(s) {bad} (row {row + 1})")
    out = {}
    for column, dtype in dtypes.items():
        values = frame[column].to_numpy()
        if np.dtype(dtype).kind == "i" and values.dtype.kind == "f":
            if not np.all(values == np.trunc(values)):
                raise ValueError(f"{path}: column {column!r} has non-integer values")
        out[column] = values.astype(dtype)
    return pd.DataFrame(out)


def load_movielens(path: str | os.PathLike) -> pd.DataFrame:
    """MovieLens ratings as ``user_id, item_id, rating, timestamp``.

    Accepts the ml-100k folder or its ``u.data`` (TAB-separated, no header),
    the ml-latest-small (or ml-25m, ...) folder or its ``ratings.csv``
    (``userId,movieId,rating,timestamp`` with a header, CRLF or LF), or an
    ml-1m/10m ``ratings.dat`` (``::``-separated).

    Returns
    -------
    DataFrame
        ``user_id`` int32, ``item_id`` int32, ``rating`` float32, ``timestamp``
        int64 (Unix seconds); the file's rows in file order. ml-100k: 100,000
        rows, 943 users, 1,682 items; ml-latest-small: 100,836 rows, 610 users,
        9,724 items.

    Raises
    ------
    FileNotFoundError
        The path does not exist, or a folder holds no known ratings file.
    ValueError
        Missing columns or unparseable values (the file is named).
    """
    path = _resolve(path, _MOVIELENS_FILES, "MovieLens")
    names = ["user_id", "item_id", "rating", "timestamp"]
    if path.suffix == ".csv":
        frame = _read(path)
        frame.columns = [str(c).strip() for c in frame.columns]
        _check_columns(frame, ["userId", "movieId", "rating", "timestamp"], path)
        frame = frame.rename(columns={"userId": "user_id", "movieId": "item_id"})
    elif path.suffix == ".dat":
        frame = _read(path, sep="::", engine="python", header=None)
        if frame.shape[1] != 4:
            raise ValueError(f"{path}: expected 4 '::'-separated fields, got {frame.shape[1]}")
        frame.columns = names
    else:  # u.data and other whitespace-separated files without a header
        frame = _read(path, sep=r"\s+", header=None)
        if frame.shape[1] != 4:
            raise ValueError(
                f"{path}: expected 4 whitespace-separated fields "
                f"(user item rating timestamp), got {frame.shape[1]}"
            )
        frame.columns = names
    for column in names:
        if column != "rating" and frame[column].dtype.kind not in "iuf":
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame["rating"] = pd.to_numeric(frame["rating"], errors="coerce")
    return _finish(
        frame,
        path,
        {"user_id": np.int32, "item_id": np.int32, "rating": np.float32, "timestamp": np.int64},
    )


def load_lastfm(path: str | os.PathLike) -> pd.DataFrame:
    """HetRec 2011 Last.fm 2K play counts as ``user_id, item_id, weight``.

    Accepts the ``hetrec2011-lastfm-2k`` folder or its ``user_artists.dat``
    (TAB-separated ``userID artistID weight`` with a header, CRLF).

    Returns
    -------
    DataFrame
        ``user_id`` int32, ``item_id`` int32 (artist id), ``weight`` int64
        (play count); 92,834 rows, 1,892 users, 17,632 artists, no repeated pair.

    Raises
    ------
    FileNotFoundError
        The path does not exist, or the folder has no ``user_artists.dat``.
    ValueError
        Missing columns or unparseable values (the file is named).
    """
    path = _resolve(path, (_LASTFM_FILE,), "Last.fm (HetRec 2011)")
    frame = _read(path, sep="\t")
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_columns(frame, ["userID", "artistID", "weight"], path)
    frame = frame.rename(columns={"userID": "user_id", "artistID": "item_id"})
    for column in ("user_id", "item_id", "weight"):
        if frame[column].dtype.kind not in "iuf":
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return _finish(frame, path, {"user_id": np.int32, "item_id": np.int32, "weight": np.int64})
