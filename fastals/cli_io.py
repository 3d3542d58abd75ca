"""Tables in and out for the ``fastals`` command: files as they come, mistakes as one line.

Input is a delimited text file of any extension (``--sep``, ``--no-header``, ``--names``),
a Parquet file (recognised by its ``PAR1`` magic bytes, whatever its name; needs the
``parquet`` extra), or ``-`` for standard input. Every problem a user can cause raises
:class:`CommandError`, which ``fastals.cli.main`` prints as one line with exit code 2.
"""

import argparse
import io
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

STDIN = "-"
PARQUET_MAGIC = b"PAR1"
FLOAT32_MAX = float(np.finfo(np.float32).max)
SEPARATORS = {"tab": "\t", "\\t": "\t", "space": " ", "whitespace": r"\s+", "comma": ","}
SHOW = 10  # ids named in a message


class CommandError(Exception):
    """A user mistake: printed as ``fastals <command>: message`` on one line, exit code 2."""


def add_table_arguments(parser, name, what="interactions table"):
    """The table argument ``name`` (a file, or - for standard input) and its id columns."""
    parser.add_argument(name, help=f"{what}: a file, or - for standard input")
    parser.add_argument("--user-col", required=True, help="column of user ids (required)")
    parser.add_argument("--item-col", required=True, help="column of item ids (required)")


def add_table_options(parser):
    """--sep, --no-header and --names, for commands that read an interactions table."""
    parser.add_argument(
        "--sep",
        type=separator,
        default=None,
        help="field separator of a text file: one character, or tab, space, whitespace "
        "(any run of blanks), comma (default: tab if the first line holds one, else comma)",
    )
    parser.add_argument(
        "--no-header",
        action="store_true",
        help="the file has no header line; its columns are named by --names, else 1, 2, 3, "
        "... (default: the first line names the columns)",
    )
    parser.add_argument(
        "--names",
        type=names_list,
        default=None,
        help="comma-separated column names for a file read with --no-header, e.g. "
        "user,item,rating,timestamp (default: 1, 2, 3, ...)",
    )


def separator(text):
    """argparse type of --sep: one character or a named separator."""
    sep = SEPARATORS.get(text.lower(), text)
    if len(sep) != 1 and sep != r"\s+":
        raise argparse.ArgumentTypeError(
            f"expected one character or one of {', '.join(SEPARATORS)}, got {text!r}"
        )
    return sep


def names_list(text):
    """argparse type of --names: distinct, non-empty, comma-separated names."""
    names = [n.strip() for n in text.split(",")]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"expected distinct comma-separated names, got {text!r}")
    return names


def check_columns_distinct(**columns):
    """CommandError when one column is given for two roles (e.g. user and item)."""
    seen = {}
    for role, column in columns.items():
        flag = "--" + role.replace("_", "-")
        if column is None:
            continue
        if column in seen:
            raise CommandError(
                f"{seen[column]} and {flag} name the same column {column!r}: "
                "each role needs its own column"
            )
        seen[column] = flag


def display_name(path):
    return "<stdin>" if str(path) == STDIN else str(path)


def open_input(path):
    """(name for messages, readable source): a path for a regular file, else the bytes read
    from standard input, a FIFO or a device (read once, so they cannot be sniffed twice)."""
    name = display_name(path)
    if str(path) == STDIN:
        if sys.stdin is None:
            raise CommandError("there is no standard input to read")
        return name, io.BytesIO(sys.stdin.buffer.read())
    path = Path(path)
    if path.is_dir():
        raise CommandError(f"{name} is a directory, not a file")
    try:
        if path.is_file():
            with open(path, "rb"):  # permission problems surface here, as one line
                return name, path
        with open(path, "rb") as file:
            return name, io.BytesIO(file.read())
    except FileNotFoundError:
        raise CommandError(f"{name}: no such file") from None
    except OSError as exc:
        raise CommandError(f"cannot read {name}: {exc.strerror or exc}") from None


def _head(source, size=65536):
    if isinstance(source, io.BytesIO):
        return source.getvalue()[:size]
    with open(source, "rb") as file:
        return file.read(size)


def read_table(path, args, as_text=False):
    """Every column of the table at ``path`` (``-``: stdin) as a DataFrame.

    ``args`` carries ``sep``, ``no_header`` and ``names``. ``as_text``: text files are read
    with every value as the string it is (``split`` writes rows back unchanged). Raises
    CommandError for an empty, unreadable or unparsable file and a wrong number of names.
    """
    if args.names is not None and not args.no_header:
        raise CommandError("--names is for a file without a header line: add --no-header")
    name, source = open_input(path)
    head = _head(source)
    if not head.strip():
        raise CommandError(f"{name} is empty")
    if head.startswith(PARQUET_MAGIC):
        frame = _read_parquet(source, name)
        if args.names is not None:
            raise CommandError(f"{name} is a Parquet file: its columns already have names")
    else:
        frame = _read_text(source, name, head, args, as_text)
    if len(frame) == 0:
        raise CommandError(f"{name} has no data rows")
    return frame


def _read_parquet(source, name):
    try:
        return pd.read_parquet(source)
    except ImportError:
        raise CommandError(
            f"{name} is a Parquet file, which needs pyarrow: pip install fastals[parquet]"
        ) from None
    except Exception as exc:  # noqa: BLE001 (pyarrow raises its own error classes)
        raise CommandError(f"{name}: cannot read it as Parquet: {exc}") from None


def _read_text(source, name, head, args, as_text):
    first_line = head.split(b"\n", 1)[0]
    sep = args.sep or ("\t" if b"\t" in first_line else ",")
    options = {"sep": sep, "header": None if args.no_header else 0, "skip_blank_lines": True}
    if as_text:
        options.update(dtype=str, keep_default_na=False)
    try:
        frame = pd.read_csv(source, **options)
    except pd.errors.EmptyDataError:
        raise CommandError(f"{name} is empty") from None
    except UnicodeDecodeError as exc:
        raise CommandError(f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise CommandError(f"{name}: cannot parse it with separator {sep!r}: {exc}") from None
    if args.no_header:
        names = args.names or [str(i + 1) for i in range(frame.shape[1])]
        if len(names) != frame.shape[1]:
            raise CommandError(
                f"{name} has {frame.shape[1]} columns but --names gives {len(names)}: {names}"
            )
        frame.columns = names
    else:
        frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def require_columns(frame, name, columns, no_header=False):
    """CommandError naming the missing columns and those the table has."""
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if not missing:
        return
    hint = ""
    if not no_header and all(_is_number(c) for c in frame.columns):
        hint = " (the first line looks like data: add --no-header, and --names)"
    raise CommandError(
        f"{name} has no column {missing[0]!r}; its columns are "
        f"{', '.join(map(repr, frame.columns))}{hint}"
    )


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_no_empty(frame, name, columns):
    """CommandError at the first empty value of ``columns``."""
    for column in columns:
        values = frame[column]
        empty = values.isna().to_numpy()
        if values.dtype == object:
            empty |= (values.astype(str).str.strip() == "").to_numpy()
        if empty.any():
            row = int(np.flatnonzero(empty)[0]) + 1
            raise CommandError(
                f"{name}: column {column!r} has {int(empty.sum())} empty values, "
                f"the first at data row {row}"
            )


def numeric_column(frame, name, column):
    """Column ``column`` as finite float64 values that fit float32, or a CommandError
    naming the first text, empty, infinite or too-large value."""
    values = frame[column]
    numbers = pd.to_numeric(values, errors="coerce") if values.dtype.kind not in "iufb" else values
    numbers = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    text = np.isnan(numbers) & values.notna().to_numpy()
    if values.dtype == object:
        text &= (values.astype(str).str.strip() != "").to_numpy()
    checks = (
        (text, "holds text"),
        (np.isnan(numbers), "has an empty value"),
        (np.isinf(numbers), "holds an infinite value"),
        (np.abs(numbers) > FLOAT32_MAX, "holds a value too large for float32"),
    )
    for bad, what in checks:
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            limit = f" (largest {FLOAT32_MAX:.7g})" if "large" in what else ""
            raise CommandError(
                f"{name}: column {column!r} {what}{limit}: {shown(values.iloc[row])} "
                f"at data row {row + 1}"
            )
    return numbers


def shown(value):
    """``value`` as a message shows it: strings quoted, NumPy scalars as plain numbers."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def lookup(id_map, values):
    """Indices of raw ``values`` (command-line strings or a column) in ``id_map``; -1 for
    ids the map does not hold, whatever their type ("7" finds the integer id 7)."""
    values = pd.Series(np.asarray(values, dtype=object) if isinstance(values, list) else values)
    out = np.full(len(values), -1, dtype=np.int64)
    if id_map.ids.dtype.kind in "iu":
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64, na_value=np.nan)
        if values.dtype.kind in "iu":
            ok, ints = np.ones(len(values), bool), values.to_numpy()
        else:
            ok = np.isfinite(numbers) & (numbers == np.trunc(numbers)) & (np.abs(numbers) < 2**53)
            ints = np.where(ok, numbers, 0).astype(np.int64)
        out[ok] = id_map.to_index(ints[ok], unknown="mask")
    else:
        if values.dtype.kind == "f":
            values = values.map(lambda v: str(int(v)) if float(v).is_integer() else str(v))
        out[:] = id_map.to_index(values.astype(str).to_numpy(), unknown="mask")
    return out


def name_ids(ids, what):
    """``unknown user ids: 7, 8`` with at most SHOW ids named."""
    shown = ", ".join(str(i) for i in ids[:SHOW])
    more = f" (and {len(ids) - SHOW} more)" if len(ids) > SHOW else ""
    return f"unknown {what} id{'s' if len(ids) > 1 else ''}: {shown}{more}"


def check_output_path(path, flag):
    """CommandError unless ``path`` can be created or replaced: its folder exists and is
    writable, and the path is not a folder. Checked before any expensive work."""
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise CommandError(f"{flag} {path} is a directory, not a file")
    if not folder.is_dir():
        raise CommandError(f"{flag} {path}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(f"{flag} {path}: cannot write into the folder {str(folder)!r}")
    return path


def write_csv(frame, path, flag):
    """``frame`` as CSV with a header at ``path``; OSError as one line."""
    try:
        frame.to_csv(path, index=False)
    except OSError as exc:
        raise CommandError(f"cannot write {flag} {path}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- argument types


def _number(text, kind):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
        ) from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _at_least(kind, low, name, strict=False):
    """An argparse type: a finite ``kind`` number >= ``low`` (> ``low`` when ``strict``)."""

    def parse(text):
        value = _number(text, kind)
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(
                f"must be {'>' if strict else '>='} {low}, got {value:g}"
            )
        return value

    parse.__name__ = name
    return parse


positive_int = _at_least(int, 1, "positive_int")
nonnegative_int = _at_least(int, 0, "nonnegative_int")
nonnegative_float = _at_least(float, 0, "nonnegative_float")
positive_float = _at_least(float, 0, "positive_float", strict=True)


def finite_float(text):
    return _number(text, float)


def fraction(text):
    value = _number(text, float)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {value:g}")
    return value
