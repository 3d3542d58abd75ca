"""KuaiRec 2.0 loader and cleaner, with the seed notebook's semantics.

KuaiRec (Gao et al., CIKM 2022, CC BY-SA 4.0) is a folder of six CSV files:

============================  ========================================================
``big_matrix.csv``            train interactions (required)
``small_matrix.csv``          fully observed test interactions (required)
``social_network.csv``        ``user_id, friend_list`` (a list string, "[27, 9]")
``item_categories.csv``       ``video_id, feat`` (a list string)
``user_features.csv``         31 user columns
``item_daily_features.csv``   58 columns per video per day
============================  ========================================================

:func:`load_kuairec` reads them and cleans each table as the seed's
``load_and_clean_data()`` did: list strings are parsed (without ``eval``),
rows with a null in any column are dropped, then exact duplicate rows (keep the
first), and the share removed is reported per table. :func:`load_table` does
the same for one file (for instance the real side tables alone).

The interaction tables are read in chunks with compact dtypes, so the real
12.5M-row ``big_matrix.csv`` loads in bounded memory (measured time and memory:
``benchmarks/RESULTS.md``, Data tools). Their ``time`` column is parsed to ``datetime64`` by
default (8 bytes a row instead of a ~80-byte Python string); this changes no
cleaning decision, since ``time`` and ``timestamp`` carry the same instant.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fastals.data.kuairec_schema import (  # noqa: F401 (public names re-exported)
    _INTERACTION_DTYPES,
    DEFAULT_CHUNKSIZE,
    INTERACTION_COLUMNS,
    INTERACTION_TABLES,
    ITEM_CATEGORIES_COLUMNS,
    ITEM_DAILY_FEATURES_COLUMNS,
    LIST_COLUMNS,
    REQUIRED_COLUMNS,
    REQUIRED_TABLES,
    SOCIAL_NETWORK_COLUMNS,
    TABLE_COLUMNS,
    TABLE_FILES,
    TABLE_LABELS,
    TABLES,
    USER_FEATURES_COLUMNS,
)

__all__ = [
    "INTERACTION_COLUMNS",
    "ITEM_DAILY_FEATURES_COLUMNS",
    "TABLE_FILES",
    "TABLES",
    "USER_FEATURES_COLUMNS",
    "KuaiRecData",
    "format_cleaning_report",
    "load_kuairec",
    "load_table",
    "parse_int_list",
]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- result


@dataclass
class KuaiRecData:
    """The cleaned KuaiRec tables; a table not read (absent or not asked for) is ``None``.

    ``big_matrix`` and ``small_matrix`` have the columns of
    :data:`INTERACTION_COLUMNS` present in the file, with dtypes ``user_id``,
    ``video_id``, ``play_duration``, ``video_duration``, ``date`` int32;
    ``timestamp`` float64; ``watch_ratio`` float32; ``time`` datetime64 (or str
    with ``parse_time=False``). float32 keeps the seed's ``watch_ratio >= 2``
    decisions: a float64 ``play_duration / video_duration`` below 2 rounds up to
    2.0 only within 2**-24 of it, i.e. for videos over 4.6 hours. Rows keep the
    file's order (after cleaning) and a fresh ``RangeIndex``. List columns
    (``friend_list``, ``feat``) hold lists of ints.

    ``cleaning_report`` maps each table read to ``{"rows_before", "null_rows",
    "duplicate_rows", "rows_after", "removed_pct"}`` (``removed_pct`` in percent,
    as the seed prints it); ``seconds`` maps each table to its load time.
    """

    big_matrix: pd.DataFrame | None = None
    small_matrix: pd.DataFrame | None = None
    social_network: pd.DataFrame | None = None
    item_categories: pd.DataFrame | None = None
    user_features: pd.DataFrame | None = None
    item_daily_features: pd.DataFrame | None = None
    cleaning_report: dict[str, dict[str, float]] = field(default_factory=dict)
    data_dir: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables that were read, by name, in KuaiRec's order."""
        return {n: getattr(self, n) for n in TABLES if getattr(self, n) is not None}


# ---------------------------------------------------------------- list strings

_INT_LIST = re.compile(r"\s*\[\s*(?:[+-]?\d+\s*(?:,\s*[+-]?\d+\s*)*,?\s*)?\]\s*")


def parse_int_list(text: str) -> list[int]:
    """Parse a Python-list string of integers, e.g. ``"[27, 9]"`` -> ``[27, 9]``.

    A safe replacement for the seed's ``eval``: only brackets, optional signs,
    digits, commas and whitespace are accepted (``"[]"`` gives ``[]``).

    Raises
    ------
    ValueError
        If ``text`` is not a string of that form.
    """
    if not isinstance(text, str) or _INT_LIST.fullmatch(text) is None:
        raise ValueError(f"not a list of integers: {text!r}")
    inner = text.strip()[1:-1]
    return [int(tok) for tok in inner.split(",") if tok.strip()]


def _parse_list_column(values: pd.Series, path: Path, column: str) -> pd.Series:
    parsed = []
    for position, text in enumerate(values.to_numpy()):
        try:
            parsed.append(parse_int_list(text))
        except ValueError:
            line = int(values.index[position]) + 2  # default RangeIndex; +1 header, +1 base
            raise ValueError(
                f"{path}: column {column!r}, line {line}: malformed list string {text!r} "
                "(expected a list of integers such as '[27, 9]')"
            ) from None
    return pd.Series(parsed, index=values.index, name=column, dtype=object)


# ---------------------------------------------------------------- helpers


def _check_file(path: Path) -> None:
    if not path.is_file():
        where = path.parent if str(path.parent) else Path(".")
        what = "is not a file" if path.exists() else "not found"
        raise FileNotFoundError(f"KuaiRec file {path.name!r} {what} in folder {str(where)!r}")


def _read_header(path: Path) -> list[str]:
    try:
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: file is empty (no header line)") from None


def _select_columns(
    path: Path, name: str, header: Sequence[str], columns: Sequence[str] | None
) -> list[str]:
    """Known columns of ``name`` present in ``header`` (or ``columns``), in file order."""
    required = REQUIRED_COLUMNS[name]
    missing = [c for c in required if c not in header]
    if missing:
        raise ValueError(
            f"{path}: missing required column(s) {missing} for KuaiRec table {name!r}; "
            f"the file has columns {list(header)}"
        )
    if columns is None:
        wanted = set(TABLE_COLUMNS[name]) if name in INTERACTION_TABLES else set(header)
    else:
        wanted = set(columns)
        absent = [c for c in columns if c not in header]
        if absent:
            raise ValueError(f"{path}: requested column(s) {absent} not in the file's header")
        lacking = [c for c in required if c not in wanted]
        if lacking:
            raise ValueError(f"columns for {name!r} must include {list(required)}")
    return [c for c in header if c in wanted]


def _report(rows_before: int, null_rows: int, duplicate_rows: int) -> dict[str, float]:
    after = rows_before - null_rows - duplicate_rows
    removed = 100.0 * (rows_before - after) / rows_before if rows_before else 0.0
    return {
        "rows_before": rows_before,
        "null_rows": null_rows,
        "duplicate_rows": duplicate_rows,
        "rows_after": after,
        "removed_pct": removed,
    }


def _drop_duplicates(
    df: pd.DataFrame, list_columns: Sequence[str] = ()
) -> tuple[pd.DataFrame, int]:
    """Drop exact duplicate rows (keep the first); list columns compare as tuples."""
    key = df
    if list_columns:
        key = df.assign(**{c: df[c].map(tuple) for c in list_columns})
    duplicated = key.duplicated(keep="first").to_numpy()
    n_dup = int(duplicated.sum())
    if n_dup:
        df = df.loc[~duplicated]
    return df.reset_index(drop=True), n_dup


def _to_compact(chunk: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Cast a null-free chunk's numeric interaction columns to their compact dtypes."""
    out = {}
    for column in chunk.columns:
        values = chunk[column].to_numpy()
        target = _INTERACTION_DTYPES.get(column)
        if target is None:
            out[column] = chunk[column]
            continue
        if target.kind == "i":
            info = np.iinfo(target)
            bad = (values != np.trunc(values)) | (values < info.min) | (values > info.max)
            if bad.any():
                pos = int(np.flatnonzero(bad)[0])
                line = int(chunk.index[pos]) + 2  # chunks keep the file's row numbers
                raise ValueError(
                    f"{path}: column {column!r}, line {line}: value {values[pos]!r} is not "
                    f"an integer in the {target.name} range"
                )
        out[column] = values.astype(target)
    return pd.DataFrame(out, index=chunk.index, copy=False)


def _diagnose(path: Path, usecols: list[str], start: int, nrows: int, exc: Exception) -> Exception:
    """A readable error for a chunk that pandas could not parse as numbers."""
    try:
        raw = pd.read_csv(
            path,
            usecols=usecols,
            dtype=str,
            skiprows=range(1, 1 + start),
            nrows=nrows,
            keep_default_na=True,
        )
    except Exception:  # the original parse error is the one to show
        return ValueError(f"{path}: could not parse rows {start + 2}..{start + nrows + 1}: {exc}")
    for column in usecols:
        if column == "time":
            continue
        text = raw[column]
        numbers = pd.to_numeric(text, errors="coerce")
        bad = numbers.isna() & text.notna()
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            return ValueError(
                f"{path}: column {column!r}, line {start + pos + 2}: "
                f"{text.iloc[pos]!r} is not a number"
            )
    return ValueError(f"{path}: could not parse rows {start + 2}..{start + nrows + 1}: {exc}")


def _parse_time(text: pd.Series, path: Path) -> np.ndarray:
    """``time`` strings (no nulls) -> datetime64[us] ndarray; a bad value is named."""
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{path}: column 'time', line {int(text.index[pos]) + 2}: "
            f"{text.iloc[pos]!r} is not a date-time"
        )
    return parsed.to_numpy().astype("datetime64[us]")


def _duplicate_mask(
    hashes: np.ndarray, parts: dict[str, list[np.ndarray]], offsets: np.ndarray
) -> np.ndarray | None:
    """Rows equal to an earlier row (keep the first), from per-row 64-bit hashes.

    Rows with equal hashes are compared column by column with the first row of
    their hash; ``None`` if any differ (a hash collision: the caller then falls
    back to pandas' exact ``duplicated``). Far lighter than
    ``DataFrame.duplicated`` on 12.5M rows (measured: ``benchmarks/RESULTS.md``,
    Data tools).
    """
    codes, uniques = pd.factorize(hashes)
    n = hashes.size
    first = np.empty(uniques.size, dtype=np.int64)
    first[codes[::-1]] = np.arange(n - 1, -1, -1)  # the last write per code is its first row
    source = first[codes]
    del codes, first
    rows = np.flatnonzero(source != np.arange(n))
    source = source[rows]
    for column_parts in parts.values():
        if not np.array_equal(
            _gather(column_parts, offsets, rows), _gather(column_parts, offsets, source)
        ):
            return None
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def _gather(column_parts: list[np.ndarray], offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Values at global ``rows`` of a column stored as consecutive parts."""
    which = np.searchsorted(offsets, rows, side="right") - 1
    out = np.empty(rows.size, dtype=column_parts[0].dtype if column_parts else object)
    for k in np.unique(which):
        sel = which == k
        out[sel] = column_parts[k][rows[sel] - offsets[k]]
    return out


def _read_interactions(
    path: Path,
    name: str,
    columns: Sequence[str] | None,
    parse_time: bool,
    chunksize: int,
    show_progress: bool,
) -> tuple[pd.DataFrame, dict[str, float]]:
    header = _read_header(path)
    usecols = _select_columns(path, name, header, columns)
    dtype = {c: (object if c == "time" else np.float64) for c in usecols}
    # Clean chunks are kept column by column, with a 64-bit hash per row, so
    # duplicates are found without a full-size DataFrame.duplicated() and the
    # result is assembled one column at a time (peak ~ one copy of the table).
    parts: dict[str, list[np.ndarray]] = {c: [] for c in usecols}
    hashes: list[np.ndarray] = []
    rows_before = 0
    null_rows = 0
    size = path.stat().st_size
    with (
        open(path, "rb") as handle,
        tqdm(
            total=size,
            unit="B",
            unit_scale=True,
            desc=f"reading {path.name}",
            disable=not show_progress,
            leave=False,
        ) as bar,
    ):
        reader = pd.read_csv(handle, usecols=usecols, dtype=dtype, chunksize=chunksize)
        k = 0
        while True:
            try:
                chunk = next(reader)
            except StopIteration:
                break
            except ValueError as exc:
                raise _diagnose(path, usecols, k * chunksize, chunksize, exc) from exc
            k += 1
            rows_before += len(chunk)
            clean = chunk[usecols].dropna()
            null_rows += len(chunk) - len(clean)
            del chunk
            clean = _to_compact(clean, path)
            if parse_time and "time" in clean.columns:
                clean["time"] = _parse_time(clean["time"], path)
            hashes.append(pd.util.hash_pandas_object(clean, index=False).to_numpy())
            for column in usecols:
                parts[column].append(clean[column].to_numpy())
            del clean
            bar.update(handle.tell() - bar.n)
        bar.update(size - bar.n)

    lengths = [h.size for h in hashes]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    all_hashes = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)
    del hashes
    duplicated = _duplicate_mask(all_hashes, parts, offsets[:-1])
    del all_hashes
    if duplicated is None:  # a 64-bit hash collision: decide exactly
        logger.info("%s: hash collision among rows, using DataFrame.duplicated", path)
        full = pd.DataFrame({c: _concat(parts[c], c, parse_time) for c in usecols})
        duplicated = full.duplicated(keep="first").to_numpy()
        del full
    keep = ~duplicated
    columns_out = {}
    for column in usecols:
        kept = [
            part[keep[lo:hi]]
            for part, lo, hi in zip(parts[column], offsets[:-1], offsets[1:], strict=True)
        ]
        parts[column] = []  # free this column's chunks before the next one
        columns_out[column] = _concat(kept, column, parse_time)
        del kept
    df = pd.DataFrame(columns_out, copy=False)
    return df, _report(rows_before, null_rows, int(duplicated.sum()))


def _concat(pieces: list[np.ndarray], column: str, parse_time: bool = True) -> np.ndarray:
    if pieces:
        return np.concatenate(pieces)
    if column == "time":
        return np.zeros(0, dtype="datetime64[us]" if parse_time else object)
    return np.zeros(0, dtype=_INTERACTION_DTYPES.get(column, np.float64))


def _read_side_table(
    path: Path, name: str, columns: Sequence[str] | None
) -> tuple[pd.DataFrame, dict[str, float]]:
    header = _read_header(path)
    usecols = _select_columns(path, name, header, columns)
    list_cols = [c for c in LIST_COLUMNS.get(name, ()) if c in usecols]
    try:
        df = pd.read_csv(path, usecols=usecols, dtype={c: str for c in list_cols})
    except ValueError as exc:
        raise ValueError(f"{path}: could not parse the file: {exc}") from exc
    df = df[usecols]
    rows_before = len(df)
    clean = df.dropna()
    null_rows = rows_before - len(clean)
    if list_cols:
        clean = clean.copy()
        for column in list_cols:
            clean[column] = _parse_list_column(clean[column], path, column)
    clean, n_dup = _drop_duplicates(clean, list_cols)
    return clean, _report(rows_before, null_rows, n_dup)


# ---------------------------------------------------------------- public API


def load_table(
    path: str | os.PathLike,
    name: str,
    *,
    columns: Sequence[str] | None = None,
    parse_time: bool = True,
    chunksize: int = DEFAULT_CHUNKSIZE,
    show_progress: bool = False,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Read and clean one KuaiRec table from ``path`` (any file name).

    ``name`` is the KuaiRec table it holds (one of :data:`TABLES`); it fixes
    the required columns, dtypes and list columns. Use it to read one file
    alone, e.g. the real ``item_categories.csv`` without the rest of the folder.

    Parameters
    ----------
    path : path-like
        The CSV file.
    name : str
        ``"big_matrix"``, ``"small_matrix"``, ``"social_network"``,
        ``"item_categories"``, ``"user_features"`` or ``"item_daily_features"``.
    columns : sequence of str, optional
        Read only these columns (they must include the table's required
        columns). Default: for the interaction tables every KuaiRec column
        present in the file (unknown extra columns are ignored); for side
        tables every column of the file. Duplicate rows are judged on the
        columns read, so the seed's counts need the default.
    parse_time : bool
        Interaction tables: parse ``time`` to ``datetime64`` (default) or keep it
        as text.
    chunksize : int
        Rows per chunk when reading an interaction table.
    show_progress : bool
        Show a tqdm bar (bytes read) for an interaction table.

    Returns
    -------
    (DataFrame, dict)
        The cleaned table and its cleaning-report entry (see :class:`KuaiRecData`).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist (the message names the file and its folder).
    ValueError
        Unknown ``name``; a required column is missing (named with the file);
        a value cannot be parsed (named with file, column and line).
    """
    if name not in TABLES:
        raise ValueError(f"unknown KuaiRec table {name!r}; expected one of {list(TABLES)}")
    path = Path(path)
    _check_file(path)
    if name in INTERACTION_TABLES:
        if chunksize < 1:
            raise ValueError(f"chunksize must be >= 1, got {chunksize}")
        return _read_interactions(path, name, columns, parse_time, chunksize, show_progress)
    return _read_side_table(path, name, columns)


def load_kuairec(
    data_dir: str | os.PathLike,
    tables: Iterable[str] | None = None,
    show_progress: bool = True,
    *,
    interaction_columns: Sequence[str] | None = None,
    parse_time: bool = True,
    chunksize: int = DEFAULT_CHUNKSIZE,
) -> KuaiRecData:
    """Read and clean a KuaiRec data folder, as the seed's ``load_and_clean_data()``.

    ``big_matrix.csv`` and ``small_matrix.csv`` are required (when asked for);
    the four side tables are read when present and are ``None`` otherwise.
    Every table is cleaned the seed's way: list strings parsed, rows with any
    null dropped, then exact duplicate rows dropped (first kept); the share
    removed is in ``cleaning_report`` (on the real data the seed printed big
    7.71%, small 3.89%, social 0%, categories 0%, user features 3.86%, item
    daily features 30.11%). :func:`format_cleaning_report` prints it the
    seed's way.

    Memory and time: the interaction tables are parsed in chunks of
    ``chunksize`` rows (float64 while parsing, then int32/float32 compact
    dtypes, ``time`` as datetime64[us]) and kept column by column; exact
    duplicates are found from a 64-bit hash per row (rows with equal hashes
    are compared in full; a collision falls back to ``DataFrame.duplicated``).
    Loaded, a table takes 40 bytes a row; with ``parse_time=False`` the ``time``
    strings add ~80 bytes a row. The time and peak memory of a full-size load (a
    folder from :func:`fastals.data.kuairec_format.write_kuairec_folder` at scale
    1.0) are in the repository's ``benchmarks/RESULTS.md`` (Data tools).

    Parameters
    ----------
    data_dir : path-like
        The folder with the KuaiRec CSV files.
    tables : iterable of str, optional
        Read only these tables (names of :data:`TABLES`); default all six. A
        table asked for by name is required, except side tables when
        ``tables`` is None.
    show_progress : bool
        tqdm bars while reading the interaction tables.
    interaction_columns : sequence of str, optional
        Read only these columns of big/small_matrix (see :func:`load_table`).
    parse_time : bool
        Parse ``time`` to datetime64 (default) or keep it as text.
    chunksize : int
        Rows per chunk for the interaction tables.

    Returns
    -------
    KuaiRecData

    Raises
    ------
    FileNotFoundError
        ``data_dir`` is not a folder, or a required file is missing (the
        message names the file and the folder).
    ValueError
        Unknown table name; a file lacks a required column; unparseable values
        (file, column and line named); a malformed list string.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"KuaiRec data folder {str(data_dir)!r} does not exist")
    if tables is None:
        wanted, required = list(TABLES), set(REQUIRED_TABLES)
    else:
        wanted = [tables] if isinstance(tables, str) else list(tables)
        unknown = [t for t in wanted if t not in TABLES]
        if unknown:
            raise ValueError(
                f"unknown KuaiRec table(s) {unknown}; expected names from {list(TABLES)}"
            )
        required = set(wanted)
    # Check every required file before the long reads start.
    for name in TABLES:
        if name in required:
            _check_file(data_dir / TABLE_FILES[name])
    data = KuaiRecData(data_dir=data_dir)
    for name in TABLES:
        if name not in wanted:
            continue
        path = data_dir / TABLE_FILES[name]
        if name not in required and not path.is_file():
            logger.info("KuaiRec: optional %s not found in %s", path.name, data_dir)
            continue
        start = time.perf_counter()
        df, report = load_table(
            path,
            name,
            columns=interaction_columns if name in INTERACTION_TABLES else None,
            parse_time=parse_time,
            chunksize=chunksize,
            show_progress=show_progress,
        )
        data.seconds[name] = time.perf_counter() - start
        setattr(data, name, df)
        data.cleaning_report[name] = report
        logger.info(
            "KuaiRec %s: %d -> %d rows (%.2f%% cleaned) in %.1f s",
            name,
            report["rows_before"],
            report["rows_after"],
            report["removed_pct"],
            data.seconds[name],
        )
    return data


def format_cleaning_report(report: dict[str, dict[str, float]]) -> str:
    """The seed's lines, e.g. ``"Big matrix: 7.71% cleaned"``, one per table read."""
    return "\n".join(
        f"{TABLE_LABELS.get(name, name)}: {entry['removed_pct']:.2f}% cleaned"
        for name, entry in report.items()
    )
