"""``fastals fit`` and ``fastals recommend``: models on raw ids, and the model file.

A model file is the npz of ``AlternatingLeastSquares.save`` (implicit's layout, so implicit
loads it too) plus the arrays ``user_ids``/``item_ids`` (raw ids in index order), the
training matrix ``train_indptr``/``train_indices``/``train_data``/``train_shape`` (to leave
out what a user has already seen) and, when ``--weight-col`` was given, ``weight_col``.
"""

import csv
import json
import sys
import warnings

import numpy as np

from ._validation import csr_from_arrays
from .cli_io import (
    FLOAT32_MAX,
    CommandError,
    add_table_arguments,
    add_table_options,
    check_columns_distinct,
    check_no_empty,
    check_output_path,
    display_name,
    finite_float,
    lookup,
    name_ids,
    nonnegative_float,
    nonnegative_int,
    numeric_column,
    open_input,
    positive_float,
    positive_int,
    read_table,
    require_columns,
)

TRAIN_KEYS = ("train_indptr", "train_indices", "train_data", "train_shape")
WEIGHTINGS = ("none", "bm25", "tfidf", "log")
BLOCK = 1024  # users per recommend call: --all-users output streams block by block


def build_training_matrix(args):
    """(users x items CSR of confidences, user IdMap, item IdMap) from ``args.interactions``."""
    from .data import build_matrix_from_arrays

    name = display_name(args.interactions)
    frame = read_table(args.interactions, args)
    require_columns(frame, name, [args.user_col, args.item_col, args.weight_col], args.no_header)
    check_no_empty(frame, name, [args.user_col, args.item_col])
    weights = numeric_column(frame, name, args.weight_col) if args.weight_col else None
    if args.min_value is not None:
        keep = weights >= args.min_value
        if not keep.any():
            raise CommandError(
                f"{name}: no row has {args.weight_col} >= {args.min_value:g} (--min-value)"
            )
        print(
            f"kept {int(keep.sum()):,} of {len(keep):,} rows with {args.weight_col} >= "
            f"{args.min_value:g}",
            file=sys.stderr,
        )
        frame, weights = frame[keep], weights[keep]
    try:
        matrix, users, items = build_matrix_from_arrays(
            frame[args.user_col], frame[args.item_col], weights
        )
    except (TypeError, ValueError) as exc:
        raise CommandError(f"{name}: {exc}") from None
    overflow = ~np.isfinite(matrix.data)
    if overflow.any():  # each weight fits float32, but a repeated pair's sum does not
        user = np.searchsorted(matrix.indptr, np.flatnonzero(overflow)[0], side="right") - 1
        item = matrix.indices[np.flatnonzero(overflow)[0]]
        raise CommandError(
            f"{name}: the weights of user {users.ids[user]} and item {items.ids[item]} "
            f"sum beyond float32's largest value {FLOAT32_MAX:.7g}"
        )
    return _weighted(matrix, args.weighting), users, items


def _weighted(matrix, weighting):
    from .data import bm25_weight, log_confidence, tfidf_weight

    transform = {"bm25": bm25_weight, "tfidf": tfidf_weight, "log": log_confidence}.get(weighting)
    if transform is None:
        return matrix
    try:
        return transform(matrix).astype(np.float32)
    except ValueError as exc:
        raise CommandError(f"--weighting {weighting}: {exc}") from None


def fit_command(args):
    from . import AlternatingLeastSquares, ModelFitError
    from .model_files import save_model

    check_columns_distinct(
        user_col=args.user_col, item_col=args.item_col, weight_col=args.weight_col
    )
    if args.min_value is not None and args.weight_col is None:
        raise CommandError("--min-value needs --weight-col: the column whose values it compares")
    output = args.output if args.output.endswith(".npz") else args.output + ".npz"
    output = check_output_path(output, "-o")  # the name np.savez writes to
    model = AlternatingLeastSquares(
        factors=args.factors,
        regularization=args.regularization,
        alpha=args.alpha,
        iterations=args.iterations,
        use_cg=args.solver == "cg",
        num_threads=args.threads,
        random_state=args.seed,
        calculate_training_loss=True,
    )
    matrix, users, items = build_training_matrix(args)
    largest = float(np.abs(matrix.data).max(initial=0.0))
    if largest * args.alpha > FLOAT32_MAX:
        raise CommandError(
            f"--alpha {args.alpha:g} times the largest weight {largest:.7g} overflows float32"
        )
    print(
        f"{matrix.shape[0]:,} users x {matrix.shape[1]:,} items, {matrix.nnz:,} stored entries",
        file=sys.stderr,
    )
    try:
        model.fit(matrix, show_progress=not args.quiet)
    except (ModelFitError, ValueError) as exc:
        raise CommandError(f"training failed: {exc}") from None
    extra = {
        "user_ids": users.ids,
        "item_ids": items.ids,
        "train_indptr": matrix.indptr,
        "train_indices": matrix.indices,
        "train_data": matrix.data,
        "train_shape": np.array(matrix.shape),
    }
    if args.weight_col is not None:
        extra["weight_col"] = np.array(args.weight_col)
    try:
        save_model(model, output, extra=extra)
    except OSError as exc:  # never name the temporary file the save writes first
        raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None
    loss = f" (final training loss {model.loss_history[-1]:.6g})" if model.loss_history else ""
    print(f"saved {output}{loss}", file=sys.stderr)
    return 0


def load_model_file(path):
    """(model, users IdMap, items IdMap, training CSR or None, extra arrays) from a model
    file written by ``fastals fit``; CommandError for anything missing or inconsistent."""
    from . import AlternatingLeastSquares
    from .data import IdMap
    from .model_files import load_extra

    try:
        model = AlternatingLeastSquares.load(path)
        extra = load_extra(path, ("user_ids", "item_ids", "weight_col", *TRAIN_KEYS))
    except FileNotFoundError:
        raise CommandError(f"{path}: no such model file") from None
    except (ValueError, OSError) as exc:
        raise CommandError(str(exc)) from None
    if "user_ids" not in extra or "item_ids" not in extra:
        raise CommandError(f"{path}: has no id maps (save it with `fastals fit`)")
    if model.user_factors is None or model.item_factors is None:
        raise CommandError(f"{path}: the model has no factors (it was saved before fit)")
    n_users, n_items = len(model.user_factors), len(model.item_factors)
    maps = []
    for key, count in (("user_ids", n_users), ("item_ids", n_items)):
        if extra[key].ndim != 1 or len(extra[key]) != count:
            raise CommandError(f"{path}: {key} has shape {extra[key].shape}, expected ({count},)")
        try:
            maps.append(IdMap(extra[key]))
        except (TypeError, ValueError) as exc:
            raise CommandError(f"{path}: {key}: {exc}") from None
    train = None
    if all(k in extra for k in TRAIN_KEYS):
        try:
            train = csr_from_arrays(
                extra["train_data"],
                extra["train_indices"],
                extra["train_indptr"],
                extra["train_shape"],
                f"{path}: training matrix",
            )
        except (TypeError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        if train.shape != (n_users, n_items):
            raise CommandError(
                f"{path}: training matrix has shape {train.shape} but the model has "
                f"{n_users} users x {n_items} items"
            )
    return model, maps[0], maps[1], train, extra


def _requested_users(args, users):
    """Indices and raw ids of the users to recommend for, unknown ids skipped (or fatal)."""
    if args.all_users:
        return np.arange(len(users)), users.ids
    if args.users_file is not None:
        name, source = open_input(args.users_file)
        data = source.getvalue() if hasattr(source, "getvalue") else source.read_bytes()
        try:
            raw = [line.strip() for line in data.decode("utf-8").splitlines()]
        except UnicodeDecodeError:
            raise CommandError(f"{name} is not UTF-8 text") from None
        raw = [r for r in raw if r]
        if not raw:
            raise CommandError(f"{name} holds no user ids (expected one id per line)")
    else:
        raw = args.users
    idx = lookup(users, raw)
    unknown = [r for r, i in zip(raw, idx, strict=True) if i < 0]
    if unknown:
        message = name_ids(list(dict.fromkeys(unknown)), "user")
        if args.strict:
            raise CommandError(f"{message} (--strict)")
        warnings.warn(f"{message} (skipped; --strict to fail instead)", stacklevel=2)
    known = idx >= 0
    return idx[known], users.ids[idx[known]]


def recommend_command(args):
    model, users, items, train, _ = load_model_file(args.model)
    model.num_threads = args.threads
    filtering = not args.no_filter
    if filtering and train is None:
        raise CommandError(f"{args.model}: has no training matrix to filter with; use --no-filter")
    idx, raw_users = _requested_users(args, users)
    write = _writer(args.format, sys.stdout)
    for start in range(0, len(idx), BLOCK):
        block = idx[start : start + BLOCK]
        rows = train[block] if filtering else None
        ids, scores = model.recommend(block, rows, N=args.N, filter_already_liked_items=filtering)
        seen = _seen(rows, ids) if filtering else np.zeros(ids.shape, bool)
        for b, user in enumerate(raw_users[start : start + BLOCK].tolist()):
            keep = ~seen[b]
            write(user, items.ids[ids[b, keep]].tolist(), scores[b, keep])
        sys.stdout.flush()
    write(None, None, None)  # closes a JSON array
    return 0


def _seen(rows, ids):
    """(n, N) bool: ids[b, j] is stored in row b of the canonical CSR ``rows``.

    Filtered items sink to the end of each list with the lowest score; they are never
    printed, so a user's list holds at most what is left after the filtering."""
    n_items = rows.shape[1]
    row_of = np.repeat(np.arange(rows.shape[0], dtype=np.int64), np.diff(rows.indptr))
    stored = row_of * n_items + rows.indices  # sorted: rows in order, indices sorted
    query = np.arange(ids.shape[0], dtype=np.int64)[:, None] * n_items + ids
    pos = np.searchsorted(stored, query).clip(max=max(len(stored) - 1, 0))
    return (stored[pos] == query) if len(stored) else np.zeros(ids.shape, bool)


def _writer(fmt, out):
    """write(user, item_ids, scores) for one user's list; write(None, ...) finishes.

    Scores print as the shortest text that reads back as the same value of the model's
    dtype (float32: ``0.1``, not ``0.10000000149011612``)."""
    if fmt == "json":
        state = {"first": True}
        out.write("[")

        def write(user, item_ids, scores):
            if user is None:
                out.write("\n]\n" if not state["first"] else "]\n")
                return
            for rank, (item, score) in enumerate(zip(item_ids, scores, strict=True)):
                record = {"user_id": user, "rank": rank + 1, "item_id": item}
                record["score"] = float(str(score))
                out.write(("\n" if state["first"] else ",\n") + json.dumps(record))
                state["first"] = False

        return write
    rows = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
    rows.writerow(["user_id", "rank", "item_id", "score"])

    def write(user, item_ids, scores):
        if user is not None:
            rows.writerows(
                (user, rank + 1, item, str(score))
                for rank, (item, score) in enumerate(zip(item_ids, scores, strict=True))
            )

    return write


def add_parsers(sub):
    fit = sub.add_parser(
        "fit",
        help="fit ALS on an interactions table; save a model file",
        description="Fit implicit-feedback ALS on a table of (user, item[, weight]) rows and "
        "save the model with its raw-id maps and training matrix (an npz implicit loads too).",
    )
    add_table_arguments(fit, "interactions")
    fit.add_argument(
        "--weight-col",
        default=None,
        help="column of numeric weights, summed per (user, item) pair (default: 1 per row)",
    )
    fit.add_argument(
        "--min-value",
        type=finite_float,
        default=None,
        help="keep only rows whose --weight-col value is >= this, e.g. 4 for ratings "
        "(default: keep every row)",
    )
    fit.add_argument(
        "--weighting",
        choices=WEIGHTINGS,
        default="none",
        help="confidence weighting of the user x item matrix: none (the summed weights), "
        "bm25 or tfidf (implicit's), log (1 + log(1 + x)) (default: none)",
    )
    fit.add_argument(
        "-o",
        "--output",
        required=True,
        help="model file to write, .npz appended if missing (required)",
    )
    fit.add_argument(
        "--factors", type=positive_int, default=100, help="latent factors (default: 100)"
    )
    fit.add_argument(
        "--regularization",
        type=nonnegative_float,
        default=0.01,
        help="L2 regularization (default: 0.01)",
    )
    fit.add_argument(
        "--alpha",
        type=positive_float,
        default=1.0,
        help="confidence = alpha x weight, as implicit (default: 1.0)",
    )
    fit.add_argument(
        "--iterations", type=positive_int, default=15, help="ALS iterations (default: 15)"
    )
    fit.add_argument(
        "--solver",
        choices=["cg", "cholesky"],
        default="cg",
        help="cg: conjugate gradient, 3 steps per row (fast); cholesky: exact (default: cg)",
    )
    fit.add_argument(
        "--threads", type=nonnegative_int, default=0, help="threads, 0 = all cores (default: 0)"
    )
    fit.add_argument(
        "--seed", type=nonnegative_int, default=0, help="seed of the initial factors (default: 0)"
    )
    fit.add_argument("--quiet", action="store_true", help="no progress bar (default: show it)")
    add_table_options(fit)
    fit.set_defaults(func=fit_command)

    rec = sub.add_parser(
        "recommend",
        help="top-N items for raw user ids from a model file",
        description="Print each user's top-N items as user_id, rank, item_id, score, leaving "
        "out items the user has in the training data.",
    )
    rec.add_argument("model", help="model file written by `fastals fit`")
    who = rec.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--users", nargs="+", help="raw user ids (this, --users-file or --all-users is required)"
    )
    who.add_argument(
        "--users-file",
        help="file of raw user ids, one per line; - for standard input (this, --users or "
        "--all-users is required)",
    )
    who.add_argument(
        "--all-users",
        action="store_true",
        help="every user of the model, streamed in blocks of 1024 users (this, --users or "
        "--users-file is required)",
    )
    rec.add_argument(
        "-N", type=positive_int, default=10, help="items per user, at most (default: 10)"
    )
    rec.add_argument(
        "--format", choices=["csv", "tsv", "json"], default="csv", help="output (default: csv)"
    )
    rec.add_argument(
        "--no-filter",
        action="store_true",
        help="also list items the user has in the training data (default: leave them out)",
    )
    rec.add_argument(
        "--strict",
        action="store_true",
        help="fail on an unknown user id (default: skip it with a warning)",
    )
    rec.add_argument(
        "--threads", type=nonnegative_int, default=0, help="threads, 0 = all cores (default: 0)"
    )
    rec.set_defaults(func=recommend_command)
