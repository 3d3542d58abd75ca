"""``fastals split``: a reproducible per-user holdout of an interactions table.

Each user's rows are ordered (by ``--time-col``, ties in file order, or at random from
``--seed``); the last ``round(fraction x rows)`` of them go to the test file, but every
user keeps at least one training row, so every test user is known to a model fitted on
the training file. Rows are written unchanged (read as text), in file order, as CSV with a
header.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .cli_io import (
    STDIN,
    CommandError,
    add_table_arguments,
    add_table_options,
    check_columns_distinct,
    check_no_empty,
    check_output_path,
    display_name,
    fraction,
    nonnegative_int,
    read_table,
    require_columns,
    shown,
    write_csv,
)


def holdout_mask(user_codes, order_key, test_fraction):
    """bool array (n,): True for the rows that go to test.

    ``user_codes`` (n,) int: 0-based user of each row; ``order_key`` (n,): rows of a user are
    ordered by it (ties keep file order) and the last ``floor(test_fraction x n_u + 0.5)``
    of them, at most n_u - 1, are held out.
    """
    counts = np.bincount(user_codes)
    n_test = np.minimum(np.floor(counts * test_fraction + 0.5).astype(np.int64), counts - 1)
    order = np.lexsort((order_key, user_codes))  # stable: by user, then key, then position
    starts = np.cumsum(counts) - counts
    position = np.empty(len(user_codes), np.int64)
    position[order] = np.arange(len(user_codes)) - np.repeat(starts, counts)
    return position >= (counts - n_test)[user_codes]


def _time_key(frame, name, column):
    """The time column as sortable numbers: numbers as they are, else parsed dates."""
    values = frame[column]
    if values.dtype.kind in "iuf":
        return values.to_numpy(np.float64)
    if values.dtype.kind == "M":
        return values.to_numpy().astype("datetime64[ns]").astype(np.int64)
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        return numbers.to_numpy(np.float64)
    dates = pd.to_datetime(values, errors="coerce", format="mixed")
    bad = dates.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CommandError(
            f"{name}: --time-col {column!r} holds {shown(values.iloc[row])} at data row "
            f"{row + 1}, neither a number nor a date"
        )
    return dates.to_numpy().astype("datetime64[ns]").astype(np.int64)


def split_command(args):
    check_columns_distinct(user_col=args.user_col, item_col=args.item_col, time_col=args.time_col)
    by = args.by or ("time" if args.time_col else "random")
    if by == "time" and args.time_col is None:
        raise CommandError("--by time needs --time-col: the column that orders each user's rows")
    outputs = [check_output_path(args.train, "--train"), check_output_path(args.test, "--test")]
    if outputs[0].resolve() == outputs[1].resolve():
        raise CommandError("--train and --test name the same file")
    if args.input != STDIN and Path(args.input).resolve() in [p.resolve() for p in outputs]:
        raise CommandError(f"{args.input} is the input: writing a split there would replace it")

    name = display_name(args.input)
    frame = read_table(args.input, args, as_text=True)
    require_columns(frame, name, [args.user_col, args.item_col, args.time_col], args.no_header)
    check_no_empty(frame, name, [c for c in (args.user_col, args.item_col, args.time_col) if c])
    codes, uniques = pd.factorize(frame[args.user_col])
    if by == "time":
        key = _time_key(frame, name, args.time_col)
    else:
        key = np.random.default_rng(args.seed).random(len(frame))
    test = holdout_mask(codes, key, args.test_fraction)
    if not test.any():
        raise CommandError(
            f"{name}: no user has enough rows to hold out {args.test_fraction:g} of them "
            "while keeping one for training"
        )
    write_csv(frame[~test], outputs[0], "--train")
    write_csv(frame[test], outputs[1], "--test")
    order = f"the latest by {args.time_col!r}" if by == "time" else f"at random (seed {args.seed})"
    print(
        f"{len(frame):,} rows of {len(uniques):,} users: {int((~test).sum()):,} to "
        f"{outputs[0]}, {int(test.sum()):,} to {outputs[1]} (per user {args.test_fraction:g} "
        f"of the rows, {order}; each user keeps >= 1 training row)",
        file=sys.stderr,
    )
    return 0


def add_parser(sub):
    split = sub.add_parser(
        "split",
        help="per-user train/test holdout of an interactions table",
        description="Hold out a fraction of each user's rows, the latest (--by time) or at "
        "random, into a test CSV; the rest go to a train CSV. Same input and seed, same split.",
    )
    add_table_arguments(split, "input")
    split.add_argument(
        "--time-col",
        default=None,
        help="column of timestamps (numbers or dates) for --by time (default: none)",
    )
    split.add_argument(
        "--by",
        choices=["time", "random"],
        default=None,
        help="which rows of a user go to test: the latest, or random ones (default: time "
        "when --time-col is given, else random)",
    )
    split.add_argument(
        "--test-fraction",
        type=fraction,
        default=0.2,
        help="share of each user's rows held out, rounded; each user keeps >= 1 training "
        "row (default: 0.2)",
    )
    split.add_argument(
        "--seed", type=nonnegative_int, default=0, help="seed of --by random (default: 0)"
    )
    split.add_argument("--train", required=True, help="training CSV to write (required)")
    split.add_argument("--test", required=True, help="test CSV to write (required)")
    add_table_options(split)
    split.set_defaults(func=split_command)
