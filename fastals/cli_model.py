"""``fastals fit``, ``fastals recommend`` and ``fastals evaluate``: models on raw ids.

A model file is the npz of ``AlternatingLeastSquares.save`` (implicit's layout, so implicit
loads it too) plus the arrays ``user_ids``/``item_ids`` (raw ids in index order) and the
training matrix ``train_indptr``/``train_indices``/``train_data`` (to filter liked items).
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ._validation import csr_from_arrays

TRAIN_KEYS = ("train_indptr", "train_indices", "train_data", "train_shape")


class CommandError(Exception):
    """A user-facing error: printed as ``fastals <command>: message``, exit code 2."""


def read_interactions(path, columns):
    """The named columns of a CSV or Parquet file, with clear errors for path and columns."""
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".tsv"):
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        else:
            raise CommandError(f"{path}: expected a .csv, .tsv or .parquet file")
    except ImportError as exc:
        raise CommandError(f"{path}: reading Parquet needs pyarrow ({exc})") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise CommandError(f"{path}: cannot parse: {exc}") from exc
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise CommandError(
            f"{path}: no column {', '.join(map(repr, missing))}; columns are {list(frame.columns)}"
        )
    frame = frame[[c for c in columns if c is not None]]
    bad = frame.isna().any(axis=1)
    if bad.any():
        raise CommandError(
            f"{path}: {int(bad.sum())} rows have an empty value in {columns}, "
            f"first at data row {int(np.flatnonzero(bad.to_numpy())[0]) + 1}"
        )
    return frame


def fit_command(args):
    from . import AlternatingLeastSquares
    from .data.interactions import build_matrix
    from .io import save_model

    frame = read_interactions(args.interactions, [args.user_col, args.item_col, args.weight_col])
    matrix, users, items = build_matrix(frame, args.user_col, args.item_col, weight=args.weight_col)
    print(
        f"{matrix.shape[0]:,} users x {matrix.shape[1]:,} items, {matrix.nnz:,} stored entries",
        file=sys.stderr,
    )
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
    model.fit(matrix, show_progress=not args.quiet)
    extra = {
        "user_ids": users.ids,
        "item_ids": items.ids,
        "train_indptr": matrix.indptr,
        "train_indices": matrix.indices,
        "train_data": matrix.data,
        "train_shape": np.array(matrix.shape),
    }
    written = save_model(model, args.output, extra=extra)
    print(f"saved {written} (final training loss {model.loss_history[-1]:.6f})", file=sys.stderr)
    return 0


def load_model_file(path):
    """(model, users IdMap, items IdMap, training CSR or None) from a ``fastals fit`` file."""
    from . import AlternatingLeastSquares
    from .data.interactions import IdMap
    from .io import load_extra

    try:
        model = AlternatingLeastSquares.load(path)
        extra = load_extra(path, ("user_ids", "item_ids", *TRAIN_KEYS))
    except FileNotFoundError as exc:
        raise CommandError(f"{path}: no such model file") from exc
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if "user_ids" not in extra or "item_ids" not in extra:
        raise CommandError(f"{path}: has no id maps (save it with `fastals fit`)")
    if model.user_factors is None or model.item_factors is None:
        raise CommandError(f"{path}: the model has no factors (it was saved before fit)")
    n_users, n_items = len(model.user_factors), len(model.item_factors)
    for key, count in (("user_ids", n_users), ("item_ids", n_items)):
        if extra[key].ndim != 1 or len(extra[key]) != count:
            raise CommandError(f"{path}: {key} has shape {extra[key].shape}, expected ({count},)")
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
            raise CommandError(str(exc)) from exc
        if train.shape != (n_users, n_items):
            raise CommandError(
                f"{path}: training matrix has shape {train.shape} but the model has "
                f"{n_users} users x {n_items} items"
            )
    return model, IdMap(extra["user_ids"]), IdMap(extra["item_ids"]), train


def _parse_ids(values, id_map):
    """Raw ids from the command line, typed like the map's ids."""
    if id_map.ids.dtype.kind in "iu":
        try:
            return np.array([int(v) for v in values])
        except ValueError as exc:
            raise CommandError(f"user ids must be integers for this model: {exc}") from exc
    return np.array(values, dtype=str)


def recommend_command(args):
    from .data.interactions import UnknownIdError

    model, users, items, train = load_model_file(args.model)
    raw = _parse_ids(args.users, users)
    try:
        idx = users.to_index(raw)
    except UnknownIdError as exc:
        raise CommandError(f"unknown user id: {exc}") from exc
    filtering = not args.no_filter
    if filtering and train is None:
        raise CommandError(f"{args.model}: has no training matrix to filter with; use --no-filter")
    rows = train[idx] if filtering else None
    ids, scores = model.recommend(idx, rows, N=args.N, filter_already_liked_items=filtering)
    records = [
        {
            "user_id": _plain(u),
            "rank": r + 1,
            "item_id": _plain(items.to_raw(int(i))),
            "score": float(s),
        }
        for u, row_ids, row_scores in zip(raw, ids, scores, strict=True)
        for r, (i, s) in enumerate(zip(row_ids, row_scores, strict=True))
    ]
    if args.format == "json":
        print(json.dumps(records))
    else:
        pd.DataFrame(records).to_csv(sys.stdout, index=False)
    return 0


def evaluate_command(args):
    from .data.interactions import build_matrix
    from .evaluation import per_user_metrics, ranking_metrics_at_k

    model, users, items, train = load_model_file(args.model)
    if train is None:
        raise CommandError(f"{args.model}: has no training matrix (save it with `fastals fit`)")
    frame = read_interactions(args.test, [args.user_col, args.item_col])
    test, _, _ = build_matrix(
        frame, args.user_col, args.item_col, users=users, items=items, unknown="ignore"
    )
    if test.nnz == 0:
        raise CommandError(f"{args.test}: no interaction with a user and item known to the model")
    test.data[:] = 1
    eval_users = np.flatnonzero(np.diff(test.indptr))
    ids, _ = model.recommend(eval_users, train[eval_users], N=args.K)
    result = {
        "eval_users": int(len(eval_users)),
        "test_interactions_used": int(test.nnz),
        "seed_definitions": per_user_metrics(ids, test[eval_users], K=args.K),
        "implicit_definitions": ranking_metrics_at_k(
            model, train, test, K=args.K, show_progress=False
        ),
    }
    print(json.dumps(result, indent=2))
    return 0


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def add_parsers(sub):
    fit = sub.add_parser("fit", help="fit ALS on an interactions CSV/Parquet; save a model npz")
    fit.add_argument("interactions", type=Path)
    fit.add_argument("--user-col", required=True)
    fit.add_argument("--item-col", required=True)
    fit.add_argument("--weight-col", default=None, help="confidence column (default: 1 per row)")
    fit.add_argument("-o", "--output", required=True, type=Path)
    fit.add_argument("--factors", type=int, default=100)
    fit.add_argument("--regularization", type=float, default=0.01)
    fit.add_argument("--alpha", type=float, default=1.0)
    fit.add_argument("--iterations", type=int, default=15)
    fit.add_argument("--solver", choices=["cg", "cholesky"], default="cg")
    fit.add_argument("--threads", type=int, default=0)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--quiet", action="store_true")
    fit.set_defaults(func=fit_command)

    rec = sub.add_parser("recommend", help="top-N items for raw user ids from a model file")
    rec.add_argument("model", type=Path)
    rec.add_argument("--users", nargs="+", required=True, help="raw user ids")
    rec.add_argument("-N", type=int, default=10)
    rec.add_argument("--format", choices=["csv", "json"], default="csv")
    rec.add_argument("--no-filter", action="store_true", help="keep already-seen items")
    rec.set_defaults(func=recommend_command)

    ev = sub.add_parser("evaluate", help="ranking metrics of a model file on test interactions")
    ev.add_argument("model", type=Path)
    ev.add_argument("test", type=Path)
    ev.add_argument("--user-col", required=True)
    ev.add_argument("--item-col", required=True)
    ev.add_argument("-K", type=int, default=10)
    ev.set_defaults(func=evaluate_command)
