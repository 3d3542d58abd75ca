"""``fastals evaluate``: ranking metrics of a model file on held-out interactions.

Two families of definitions are printed side by side, each with one line in words: the
per-user averages of the KuaiRec notebook this project started from
(``fastals.evaluation.per_user_metrics``) and implicit's ``ranking_metrics_at_k``
(``fastals.evaluation.ranking_metrics_at_k``, the same numbers as implicit 0.7.3).
"""

import json

import numpy as np
import scipy.sparse as sp

from .cli_fit_recommend import load_model_file
from .cli_io import (
    CommandError,
    add_table_arguments,
    add_table_options,
    check_columns_distinct,
    check_no_empty,
    display_name,
    finite_float,
    lookup,
    nonnegative_int,
    numeric_column,
    positive_int,
    read_table,
    require_columns,
)


def definitions(K):
    """Metric name -> one line saying how it is computed."""
    return {
        f"precision@{K}": f"hits in the user's top {K}, divided by {K}; averaged over users "
        "(the KuaiRec notebook's precision)",
        f"recall@{K}": f"hits in the user's top {K}, divided by the user's number of test "
        "items; averaged over users",
        f"ndcg@{K}": "hits weighted 1/log2(rank + 1), divided by the best possible sum for "
        "that user; averaged over users (the notebook's and implicit's)",
        f"map@{K}": "precision at the rank of each hit, summed and divided by "
        f"min({K}, the user's test items); averaged over users (the notebook's and implicit's)",
        f"implicit_precision@{K}": "all users' hits, divided by the sum over users of "
        f"min({K}, the user's test items) (implicit's precision: near recall when users have "
        f"fewer than {K} test items)",
        f"auc@{K}": "share of (test item, other item) pairs the list puts in the right order, "
        f"items below the top {K} counting as ties; averaged over users (implicit's AUC)",
    }


def held_out_matrix(args, users, items, train, weight_col):
    """(binary users x items CSR of the test rows kept, counts of the rows read and dropped)."""
    name = display_name(args.test)
    frame = read_table(args.test, args)
    require_columns(frame, name, [args.user_col, args.item_col, weight_col], args.no_header)
    check_no_empty(frame, name, [args.user_col, args.item_col])
    counts = {"read": len(frame)}
    keep = np.ones(len(frame), bool)
    if args.min_value is not None:
        keep = numeric_column(frame, name, weight_col) >= args.min_value
        counts["below_min_value"] = int((~keep).sum())
    u = lookup(users, frame[args.user_col])
    i = lookup(items, frame[args.item_col])
    unknown_user = keep & (u < 0)
    unknown_item = keep & (u >= 0) & (i < 0)
    known = keep & (u >= 0) & (i >= 0)
    n_items = len(items)
    key = u[known] * n_items + i[known]
    row_of = np.repeat(np.arange(train.shape[0], dtype=np.int64), np.diff(train.indptr))
    in_train = np.isin(key, row_of * n_items + train.indices)
    counts["unknown_user"] = int(unknown_user.sum())
    counts["unknown_item"] = int(unknown_item.sum())
    counts["already_in_training"] = int(in_train.sum())
    key = key[~in_train]
    pairs = np.unique(key)
    counts["repeated_pair"] = int(len(key) - len(pairs))
    counts["used"] = int(len(pairs))
    test = sp.csr_matrix(
        (np.ones(len(pairs), np.float32), (pairs // n_items, pairs % n_items)),
        shape=train.shape,
    )
    return test, counts


def evaluate_command(args):
    from .evaluation import per_user_metrics, ranking_metrics_at_k

    model, users, items, train, extra = load_model_file(args.model)
    model.num_threads = args.threads
    if train is None:
        raise CommandError(f"{args.model}: has no training matrix (save it with `fastals fit`)")
    weight_col = args.weight_col
    if weight_col is None and "weight_col" in extra and extra["weight_col"].ndim == 0:
        weight_col = str(extra["weight_col"])
    if args.min_value is not None and weight_col is None:
        raise CommandError("--min-value needs --weight-col: the column whose values it compares")
    if args.min_value is None:
        weight_col = None
    check_columns_distinct(user_col=args.user_col, item_col=args.item_col, weight_col=weight_col)
    test, counts = held_out_matrix(args, users, items, train, weight_col)
    if test.nnz == 0:
        raise CommandError(f"{display_name(args.test)}: no test row left: {_dropped(counts)}")
    eval_users = np.flatnonzero(np.diff(test.indptr))
    ids, _ = model.recommend(eval_users, train[eval_users], N=args.K)
    notebook = per_user_metrics(ids, test[eval_users], K=args.K)
    implicit = ranking_metrics_at_k(model, train, test, K=args.K, show_progress=False)
    K = args.K
    metrics = {
        **notebook,
        f"implicit_precision@{K}": implicit["precision"],
        f"auc@{K}": implicit["auc"],
    }
    if args.format == "json":
        result = {
            "K": K,
            "users": int(len(eval_users)),
            "test_rows": counts,
            "metrics": metrics,
            "definitions": definitions(K),
        }
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{len(eval_users):,} users, {counts['used']:,} test (user, item) pairs; each user's "
        f"top {K} of the {test.shape[1]:,} items, those seen in training left out"
    )
    print(f"test rows: {_dropped(counts)}")
    width = max(map(len, metrics))
    for name, text in definitions(K).items():
        print(f"{name:<{width}}  {metrics[name]:.4f}  {text}")
    return 0


def _dropped(counts):
    """``100 read, 12 dropped (3 unknown user, ...)`` in words."""
    reasons = {
        "below_min_value": "below --min-value",
        "unknown_user": "unknown user",
        "unknown_item": "unknown item",
        "already_in_training": "already in training",
        "repeated_pair": "repeating a (user, item) pair",
    }
    parts = [f"{counts[k]:,} {text}" for k, text in reasons.items() if counts.get(k)]
    dropped = sum(counts.get(k, 0) for k in reasons)
    why = f" ({', '.join(parts)})" if parts else ""
    return f"{counts['read']:,} read, {dropped:,} dropped{why}"


def add_parser(sub):
    ev = sub.add_parser(
        "evaluate",
        help="ranking metrics of a model file on held-out interactions",
        description="Recommend the top K items to every user of a test table and print "
        "precision, recall, NDCG, MAP and AUC at K, each with its definition, and how many "
        "test rows were dropped and why.",
    )
    ev.add_argument("model", help="model file written by `fastals fit`")
    add_table_arguments(ev, "test", "test interactions table")
    ev.add_argument(
        "--weight-col",
        default=None,
        help="column that --min-value compares (default: the model's --weight-col)",
    )
    ev.add_argument(
        "--min-value",
        type=finite_float,
        default=None,
        help="count a test row as relevant only when its --weight-col value is >= this "
        "(default: every row)",
    )
    ev.add_argument("-K", type=positive_int, default=10, help="list length (default: 10)")
    ev.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text: a table with definitions; json: one object (default: text)",
    )
    ev.add_argument(
        "--threads", type=nonnegative_int, default=0, help="threads, 0 = all cores (default: 0)"
    )
    add_table_options(ev)
    ev.set_defaults(func=evaluate_command)
