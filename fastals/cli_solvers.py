"""``fastals solvers`` (every solver timed per epoch on one split) and ``fastals paper``
(Rendle et al. 2022's strong-generalisation evaluation on MovieLens ``ratings.csv``)."""

import json
import os
import sys
from pathlib import Path

import numpy as np

from .cli_io import CommandError, nonnegative_float, nonnegative_int, positive_int


def data_pairs(data):
    """(users, items) of --data: ``lastfm`` (HetRec Last.fm 2K, every play an interaction),
    ``kuairec-like`` (``fastals.data.kuairec_like()``, every stored entry an interaction:
    Rendle et al.'s binary setting on the KuaiRec shape, no download), or a MovieLens
    ratings.csv / its folder (ratings > 3.5), or a folder name under $FASTALS_DATA_DIR; users
    with fewer than 5 interactions are dropped."""
    from . import protocol

    root = Path(os.environ.get("FASTALS_DATA_DIR", "."))
    if data == "kuairec-like":
        from .data import kuairec_like

        coo = kuairec_like().tocoo()  # every user holds >= 100 entries
        return coo.row.astype(np.int64), coo.col.astype(np.int64)
    if data == "lastfm":
        from .data.loaders import load_lastfm

        frame = load_lastfm(root / "hetrec2011-lastfm-2k")
        frame = frame[frame.groupby("user_id")["item_id"].transform("size") >= 5]
        return frame["user_id"].to_numpy(), frame["item_id"].to_numpy()
    path = Path(data) if Path(data).exists() else root / data
    if not path.exists():
        raise CommandError(f"--data {data}: no such file or folder (nor under {root})")
    if path.is_dir() and not (path / "ratings.csv").is_file():
        raise CommandError(f"--data {path} is a folder without ratings.csv")
    return protocol.movielens_ratings(path)


def split_of(args):
    from . import protocol

    users, items = data_pairs(args.data)
    n_users = len(np.unique(users))
    if 2 * args.heldout >= n_users:
        raise CommandError(
            f"--heldout {args.heldout} leaves no training users ({n_users} users in --data)"
        )
    split = protocol.strong_generalization_split(users, items, n_heldout=args.heldout)
    print(
        f"{args.data}: {split.train.shape[0]:,} training users x {split.train.shape[1]:,} "
        f"items ({split.train.nnz:,} pairs), {args.heldout:,} validation and "
        f"{args.heldout:,} test users",
        file=sys.stderr,
    )
    return split


def solvers_command(args):
    from . import solver_bench

    split = split_of(args)
    libraries = [lib for lib in ("fastals", "irspack", "implicit") if lib not in args.without]
    settings = {
        "ials": dict(
            regularization=args.regularization,
            regularization_exp=args.regularization_exp,
            unobserved_weight=args.unobserved_weight,
        ),
        "implicit": dict(regularization=args.als_regularization, alpha=args.alpha),
    }
    records = []
    for factors in args.factors:
        block = min(args.block_size or 64, factors)
        run_settings = dict(settings, ials=dict(settings["ials"], block_size=block))
        for library, objective, solver in solver_bench.runs(libraries, args.solvers):
            got = solver_bench.run(
                split, library, objective, solver, factors, args.epochs, run_settings, args.threads
            )
            records += got
            print(
                f"{library:8s} {objective:8s} {solver:8s} factors={factors:<5d} "
                f"{np.median([r['seconds'] for r in got]):.4f} s/epoch, "
                f"NDCG@100 {got[-1]['ndcg@100']:.4f}",
                file=sys.stderr,
            )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "records.json").write_text(
        json.dumps(
            dict(args={k: v for k, v in vars(args).items() if k != "func"}, records=records),
            indent=1,
        )
    )
    table = solver_bench.markdown(solver_bench.summary(records))
    (out / "summary.md").write_text(table + "\n")
    figures = solver_bench.plot(records, out)
    print(table)
    print(
        f"wrote {out / 'records.json'}, {out / 'summary.md'}"
        + (
            f" and {len(figures)} figures"
            if figures
            else " (no figures: pip install fastals[bench] for matplotlib)"
        ),
        file=sys.stderr,
    )
    return 0


def paper_command(args):
    from . import paper

    split = split_of(args)
    if args.tune:
        results = paper.run(
            split, factors=args.factors, epochs=args.epochs, num_threads=args.threads
        )
    else:
        results = paper.run_paper_settings(
            split,
            factors=args.factors,
            epochs=args.epochs,
            block_size=args.block_size,
            num_threads=args.threads,
        )
    print(paper.markdown(results, published=args.published))
    return 0


def add_parsers(sub):
    p = sub.add_parser(
        "solvers",
        help="time every ALS solver per epoch on one split",
        description="Time fastals' iALS solvers (cholesky, cg, ials++, cd), "
        "irspack's and implicit's per epoch on one strong-generalisation split, "
        "with the objective and validation Recall@20/50, NDCG@100 per epoch.",
    )
    _data_options(p, heldout=100)
    p.add_argument(
        "--factors", type=positive_int, nargs="+", default=[64], help="factor counts (default: 64)"
    )
    p.add_argument("--epochs", type=positive_int, default=16, help="epochs (default: 16)")
    p.add_argument(
        "--solvers",
        nargs="+",
        default=["cholesky", "cg", "ials++", "cd"],
        choices=["cholesky", "cg", "ials++", "cd"],
        help="fastals' iALS solvers (default: all four)",
    )
    p.add_argument(
        "--without",
        nargs="*",
        default=[],
        choices=["irspack", "implicit"],
        help="leave out these reference libraries (default: run each that is installed)",
    )
    p.add_argument(
        "--regularization",
        type=nonnegative_float,
        default=0.003,
        help="iALS lambda (default: 0.003)",
    )
    p.add_argument(
        "--regularization-exp", type=nonnegative_float, default=1.0, help="iALS nu (default: 1)"
    )
    p.add_argument(
        "--unobserved-weight",
        type=nonnegative_float,
        default=0.1,
        help="iALS alpha0 (default: 0.1)",
    )
    p.add_argument(
        "--block-size",
        type=positive_int,
        default=None,
        help="iALS++ block (default: min(64, factors))",
    )
    p.add_argument(
        "--als-regularization",
        type=nonnegative_float,
        default=0.01,
        help="lambda of implicit's objective (default: 0.01)",
    )
    p.add_argument(
        "--alpha",
        type=nonnegative_float,
        default=1.0,
        help="alpha of implicit's objective (default: 1)",
    )
    p.add_argument(
        "--out",
        default="solver-runs",
        help="folder for records.json, summary.md, figures (default: solver-runs)",
    )
    p.set_defaults(func=solvers_command)

    p = sub.add_parser(
        "paper",
        help="Rendle et al. 2022's evaluation on MovieLens ratings.csv",
        description="The strong-generalisation protocol of Liang et al. 2018 "
        "on MovieLens ratings.csv (ML-20M's format): iALS with the paper's "
        "ML-20M settings (or, with --tune, iALS and implicit's ALS each tuned on "
        "the validation users), popularity and EASE^R, scored on the test users.",
    )
    _data_options(p, heldout=10_000)
    p.add_argument(
        "--factors",
        type=positive_int,
        default=2048,
        help="factors (default: 2048, the paper's ML-20M setting)",
    )
    p.add_argument("--epochs", type=positive_int, default=16, help="epochs (default: 16)")
    p.add_argument(
        "--block-size",
        type=positive_int,
        default=128,
        help="iALS++ block (default: 128, the paper's)",
    )
    p.add_argument(
        "--tune",
        action="store_true",
        help="pick iALS's and implicit's settings from fastals.paper.GRID on the "
        "validation users (default: the paper's settings, iALS only)",
    )
    p.add_argument(
        "--published",
        action="store_true",
        help="add the paper's ML-20M figures to the table (default: off)",
    )
    p.set_defaults(func=paper_command)


def _data_options(p, heldout):
    p.add_argument(
        "--data",
        "--data-dir",
        dest="data",
        default="ml-latest-small",
        help="a MovieLens ratings.csv or its folder, 'lastfm', 'kuairec-like' (generated), or "
        "a folder name under $FASTALS_DATA_DIR (default: ml-latest-small)",
    )
    p.add_argument(
        "--heldout",
        type=positive_int,
        default=heldout,
        help=f"validation users and test users, each (default: {heldout:,})",
    )
    p.add_argument(
        "--threads", type=nonnegative_int, default=0, help="threads, 0 for all cores (default: 0)"
    )
