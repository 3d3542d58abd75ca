"""KuaiRec 2.0's interaction tables, loaded and cleaned with the seed notebook's semantics.

KuaiRec (Gao et al., CIKM 2022, CC BY-SA 4.0) is a folder of CSV files; fastals reads the two
interaction tables, ``big_matrix.csv`` (training) and ``small_matrix.csv`` (the fully observed
test block). The four side tables (social network, item categories, user features, item daily
features) are not read: nothing in fastals uses them (``pandas.read_csv`` reads them).

:func:`load_kuairec` cleans each table as the seed's ``load_and_clean_data()`` did: rows with a
null in any column are dropped, then exact duplicate rows (keep the first), and the share
removed is reported per table. :func:`load_table` does the same for one file.

The tables are read in chunks with compact dtypes, so the real 12.5M-row ``big_matrix.csv``
loads in bounded memory (measured time and memory: ``benchmarks/RESULTS.md``, Data tools).
``time`` is parsed to ``datetime64`` by default (8 bytes a row instead of a ~80-byte Python
string); this changes no cleaning decision, since ``time`` and ``timestamp`` carry the same
instant.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

__all__ = [
    "INTERACTION_COLUMNS",
    "TABLE_FILES",
    "TABLES",
    "KuaiRecData",
    "format_cleaning_report",
    "load_kuairec",
    "load_table",
]

TABLES = ("big_matrix", "small_matrix")
TABLE_FILES = {name: f"{name}.csv" for name in TABLES}
TABLE_LABELS = {"big_matrix": "Big matrix", "small_matrix": "Small matrix"}  # the seed's
INTERACTION_COLUMNS = (
    "user_id",
    "video_id",
    "play_duration",
    "video_duration",
    "time",
    "date",
    "timestamp",
    "watch_ratio",
)
REQUIRED_COLUMNS = ("user_id", "video_id", "watch_ratio")
DEFAULT_CHUNKSIZE = 500_000

# Compact dtypes after cleaning. Every numeric column is parsed as float64 first (the real
# small_matrix has NaN ``date``/``timestamp`` and a float-looking ``date``), nulls are
# dropped, then integer columns are checked to be whole and in range and cast down.
_DTYPES = {
    "user_id": np.dtype(np.int32),
    "video_id": np.dtype(np.int32),
    "play_duration": np.dtype(np.int32),
    "video_duration": np.dtype(np.int32),
    "date": np.dtype(np.int32),
    "timestamp": np.dtype(np.float64),  # epoch seconds with milliseconds: needs float64
    "watch_ratio": np.dtype(np.float32),
}

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- result


@dataclass
class KuaiRecData:
    """The cleaned KuaiRec tables; a table not asked for is ``None``.

    ``big_matrix`` and ``small_matrix`` have the columns of :data:`INTERACTION_COLUMNS`
    present in the file, with dtypes ``user_id``, ``video_id``, ``play_duration``,
    ``video_duration``, ``date`` int32; ``timestamp`` float64; ``watch_ratio`` float32;
    ``time`` datetime64 (or str with ``parse_time=False``). float32 keeps the seed's
    ``watch_ratio >= 2`` decisions: a float64 ``play_duration / video_duration`` below 2
    rounds up to 2.0 only within 2**-24 of it, i.e. for videos over 4.6 hours. Rows keep the
    file's order (after cleaning) and a fresh ``RangeIndex``.

    ``cleaning_report`` maps each table read to ``{"rows_before", "null_rows",
    "duplicate_rows", "rows_after", "removed_pct"}`` (``removed_pct`` in percent, as the seed
    prints it); ``seconds`` maps each table to its load time.
    """

    big_matrix: pd.DataFrame | None = None
    small_matrix: pd.DataFrame | None = None
    cleaning_report: dict[str, dict[str, float]] = field(default_factory=dict)
    data_dir: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables that were read, by name, in KuaiRec's order."""
        return {n: getattr(self, n) for n in TABLES if getattr(self, n) is not None}


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
    """KuaiRec columns present in ``header`` (or ``columns``), in file order."""
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ValueError(
            f"{path}: missing required column(s) {missing} for KuaiRec table {name!r}; "
            f"the file has columns {list(header)}"
        )
    if columns is None:
        wanted = set(INTERACTION_COLUMNS)
    else:
        wanted = set(columns)
        absent = [c for c in columns if c not in header]
        if absent:
            raise ValueError(f"{path}: requested column(s) {absent} not in the file's header")
        if not wanted.issuperset(REQUIRED_COLUMNS):
            raise ValueError(f"columns for {name!r} must include {list(REQUIRED_COLUMNS)}")
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


def _to_compact(chunk: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Cast a null-free chunk's numeric interaction columns to their compact dtypes."""
    out = {}
    for column in chunk.columns:
        values = chunk[column].to_numpy()
        target = _DTYPES.get(column)
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


def _read_clean_chunks(
    path: Path, usecols: list[str], parse_time: bool, chunksize: int, show_progress: bool
) -> tuple[dict[str, list[np.ndarray]], list[np.ndarray], int, int]:
    """Null-free chunks in compact dtypes, column by column, and a 64-bit hash per row.

    Returns (column -> chunks, per-chunk row hashes, rows read, rows dropped for a null).
    """
    dtype = {c: (object if c == "time" else np.float64) for c in usecols}
    parts: dict[str, list[np.ndarray]] = {c: [] for c in usecols}
    hashes: list[np.ndarray] = []
    rows_before = null_rows = 0
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
    return parts, hashes, rows_before, null_rows


def _read_interactions(
    path: Path,
    name: str,
    columns: Sequence[str] | None,
    parse_time: bool,
    chunksize: int,
    show_progress: bool,
) -> tuple[pd.DataFrame, dict[str, float]]:
    usecols = _select_columns(path, name, _read_header(path), columns)
    parts, hashes, rows_before, null_rows = _read_clean_chunks(
        path, usecols, parse_time, chunksize, show_progress
    )
    table = {c: _concat(parts.pop(c), c, parse_time) for c in usecols}  # one column at a time
    # Exact duplicates (keep the first): equal rows have equal hashes, so only rows whose
    # hash repeats can be duplicates, and DataFrame.duplicated decides among those alone
    # (on all rows it is far heavier: benchmarks/RESULTS.md, Data tools).
    row_hash = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)
    del hashes
    maybe = np.flatnonzero(pd.Series(row_hash).duplicated(keep=False).to_numpy())
    del row_hash
    candidates = pd.DataFrame({c: v[maybe] for c, v in table.items()}, copy=False)
    duplicated = maybe[candidates.duplicated(keep="first").to_numpy()]
    del candidates
    if duplicated.size:
        keep = np.ones(len(table[usecols[0]]), dtype=bool)
        keep[duplicated] = False
        for column in usecols:  # one column at a time, so the peak stays ~ one table
            table[column] = table[column][keep]
    df = pd.DataFrame(table, copy=False)
    return df, _report(rows_before, null_rows, int(duplicated.size))


def _concat(pieces: list[np.ndarray], column: str, parse_time: bool = True) -> np.ndarray:
    if pieces:
        return np.concatenate(pieces)
    if column == "time":
        return np.zeros(0, dtype="datetime64[us]" if parse_time else object)
    return np.zeros(0, dtype=_DTYPES.get(column, np.float64))


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
    """Read and clean one KuaiRec interaction table from ``path`` (any file name).

    Parameters
    ----------
    path : path-like
        The CSV file.
    name : str
        The table it holds, ``"big_matrix"`` or ``"small_matrix"`` (used in messages).
    columns : sequence of str, optional
        Read only these columns (they must include ``user_id``, ``video_id`` and
        ``watch_ratio``). Default: every KuaiRec column present in the file (unknown extra
        columns are ignored). Duplicate rows are judged on the columns read, so the seed's
        counts need the default.
    parse_time : bool
        Parse ``time`` to ``datetime64`` (default) or keep it as text.
    chunksize : int
        Rows per chunk while reading.
    show_progress : bool
        Show a tqdm bar (bytes read).

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
    if chunksize < 1:
        raise ValueError(f"chunksize must be >= 1, got {chunksize}")
    path = Path(path)
    _check_file(path)
    return _read_interactions(path, name, columns, parse_time, chunksize, show_progress)


def load_kuairec(
    data_dir: str | os.PathLike,
    tables: Iterable[str] | None = None,
    show_progress: bool = True,
    *,
    interaction_columns: Sequence[str] | None = None,
    parse_time: bool = True,
    chunksize: int = DEFAULT_CHUNKSIZE,
) -> KuaiRecData:
    """Read and clean a KuaiRec folder's interaction tables, as the seed's load_and_clean_data().

    Each table is cleaned the seed's way: rows with any null dropped, then exact duplicate
    rows dropped (first kept); the share removed is in ``cleaning_report`` (on the real data
    the seed printed big 7.71%, small 3.89%). :func:`format_cleaning_report` prints it the
    seed's way.

    Memory and time: the tables are parsed in chunks of ``chunksize`` rows (float64 while
    parsing, then int32/float32 compact dtypes, ``time`` as datetime64[us]) and kept column
    by column; exact duplicates are found among the rows whose 64-bit row hash repeats.
    Loaded, a table takes 40 bytes a row; with ``parse_time=False`` the ``time`` strings add
    ~80 bytes a row. The time and peak memory of a full-size load (a folder from
    :func:`fastals.kuairec.write_kuairec_folder` at scale 1.0) are in the repository's
    ``benchmarks/RESULTS.md`` (Data tools).

    Parameters
    ----------
    data_dir : path-like
        The folder with the KuaiRec CSV files.
    tables : iterable of str, optional
        Read only these tables (names of :data:`TABLES`); default both.
    show_progress : bool
        tqdm bars while reading.
    interaction_columns : sequence of str, optional
        Read only these columns (see :func:`load_table`).
    parse_time : bool
        Parse ``time`` to datetime64 (default) or keep it as text.
    chunksize : int
        Rows per chunk.

    Returns
    -------
    KuaiRecData

    Raises
    ------
    FileNotFoundError
        ``data_dir`` is not a folder, or a file asked for is missing (the message names the
        file and the folder).
    ValueError
        Unknown table name; a file lacks a required column; unparseable values (file,
        column and line named).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"KuaiRec data folder {str(data_dir)!r} does not exist")
    wanted = TABLES if tables is None else [tables] if isinstance(tables, str) else list(tables)
    unknown = [t for t in wanted if t not in TABLES]
    if unknown:
        raise ValueError(f"unknown KuaiRec table(s) {unknown}; expected names from {list(TABLES)}")
    for name in wanted:  # every file checked before the long reads start
        _check_file(data_dir / TABLE_FILES[name])
    data = KuaiRecData(data_dir=data_dir)
    for name in TABLES:
        if name not in wanted:
            continue
        start = time.perf_counter()
        df, report = load_table(
            data_dir / TABLE_FILES[name],
            name,
            columns=interaction_columns,
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
