"""Time every ALS solver on one dataset under the strong-generalisation protocol.

    python scripts/solvers.py --data ml-latest-small --factors 64 128 --epochs 16
    python scripts/solvers.py --data lastfm --factors 64 --heldout 150 --out /tmp/solvers

Runs fastals' iALS solvers (cholesky, cg, ials++, cd) and irspack 0.5.2's (Cholesky, CG,
iALS++) on Rendle et al.'s objective, and implicit's objective solved by fastals and by
implicit 0.7.3 (CG, Cholesky), on the same split, one after the other (a library that is
not installed is skipped; ``pip install fastals[bench]`` has both). Writes to ``--out``:
``records.json`` (one record per epoch: seconds, objective, Recall@20/50, NDCG@100 of the
validation users), ``summary.md``, and the figures (objective and NDCG@100 vs seconds per
factor count; seconds per epoch vs factors per solver, as iALS++'s figure 1).
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from fastals import protocol, solver_bench

DATA = Path(
    os.environ.get("FASTALS_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def load_pairs(name):
    """(users, items) of a dataset name or a MovieLens ratings.csv path."""
    if name == "lastfm":
        from fastals.data.loaders import load_lastfm

        frame = load_lastfm(DATA / "hetrec2011-lastfm-2k")
        counts = frame.groupby("user_id")["item_id"].transform("size")
        frame = frame[counts >= 5]
        return frame["user_id"].to_numpy(), frame["item_id"].to_numpy()
    path = DATA / name if (DATA / name).exists() else Path(name)
    return protocol.movielens_ratings(path)


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="ml-latest-small",
                        help="ml-latest-small, lastfm, or a MovieLens ratings.csv / folder "
                             "(default: ml-latest-small)")  # fmt: skip
    parser.add_argument("--factors", type=int, nargs="+", default=[64],
                        help="factor counts (default: 64)")  # fmt: skip
    parser.add_argument("--epochs", type=int, default=16, help="epochs per run (default: 16)")
    parser.add_argument("--heldout", type=int, default=100,
                        help="validation users and test users each (default: 100)")  # fmt: skip
    parser.add_argument("--solvers", nargs="+", default=list(solver_bench.IALS_SOLVERS),
                        help="iALS solvers (default: all four)")  # fmt: skip
    parser.add_argument(
        "--no-implicit",
        action="store_true",
        help="leave out implicit 0.7.3 (default: include it when installed)",
    )
    parser.add_argument(
        "--no-irspack",
        action="store_true",
        help="leave out irspack 0.5.2 (default: include it when installed)",
    )
    parser.add_argument("--regularization", type=float, default=0.003,
                        help="iALS lambda (default: 0.003)")  # fmt: skip
    parser.add_argument("--regularization-exp", type=float, default=1.0,
                        help="iALS nu (default: 1)")  # fmt: skip
    parser.add_argument("--unobserved-weight", type=float, default=0.1,
                        help="iALS alpha0 (default: 0.1)")  # fmt: skip
    parser.add_argument("--block-size", type=int, default=None,
                        help="iALS++ block (default: min(64, factors))")  # fmt: skip
    parser.add_argument("--als-regularization", type=float, default=0.01,
                        help="implicit objective's lambda (default: 0.01)")  # fmt: skip
    parser.add_argument("--alpha", type=float, default=1.0,
                        help="implicit objective's alpha (default: 1)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=0, help="threads (default: 0 = all)")
    parser.add_argument("--out", default="solver-runs", help="output folder (default: solver-runs)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    users, items = load_pairs(args.data)
    split = protocol.strong_generalization_split(users, items, n_heldout=args.heldout)
    print(f"{args.data}: train {split.train.shape} with {split.train.nnz} pairs, "
          f"{args.heldout} validation and {args.heldout} test users", file=sys.stderr)  # fmt: skip
    settings = {
        "ials": dict(regularization=args.regularization,
                     regularization_exp=args.regularization_exp,
                     unobserved_weight=args.unobserved_weight),
        "implicit": dict(regularization=args.als_regularization, alpha=args.alpha),
    }  # fmt: skip
    libraries = ["fastals", "irspack", "implicit"]
    if args.no_implicit:
        libraries.remove("implicit")
    if args.no_irspack:
        libraries.remove("irspack")
    records = []
    for factors in args.factors:
        block = dict(block_size=min(args.block_size or 64, factors))
        for library, objective, solver in solver_bench.runs(libraries, args.solvers):
            run_settings = dict(settings, ials={**settings["ials"], **block})
            got = solver_bench.run(split, library, objective, solver, factors, args.epochs,
                                   run_settings, args.threads)  # fmt: skip
            records += got
            last = got[-1]
            print(f"{library:8s} {objective:8s} {solver:8s} k={factors:4d} "
                  f"{np.median([r['seconds'] for r in got]):.4f} s/epoch "
                  f"NDCG@100 {last['ndcg@100']:.4f}", file=sys.stderr)  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "records.json").write_text(json.dumps(dict(args=vars(args), records=records), indent=1))
    (out / "summary.md").write_text(solver_bench.markdown(solver_bench.summary(records)) + "\n")
    plot(records, out)
    print(out / "summary.md", file=sys.stderr)


def plot(records, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figures (pip install fastals[bench])")
        return
    label = lambda r: f"{r['library']} {r['objective']} {r['solver']}"  # noqa: E731
    for factors in sorted({r["factors"] for r in records}):
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        groups = {}
        for r in records:
            if r["factors"] == factors:
                groups.setdefault(label(r), []).append(r)
        for name, group in groups.items():
            t = [r["cumulative_seconds"] for r in group]
            panel = 0 if group[0]["objective"] == "ials" else 1
            axes[panel].plot(t, [r["training_objective"] for r in group], marker=".", label=name)
            axes[2].plot(t, [r["ndcg@100"] for r in group], marker=".", label=name)
        titles = ("iALS objective", "implicit's objective (normalised)", "validation NDCG@100")
        for ax, title in zip(axes, titles, strict=True):
            ax.set_title(f"{title}, factors={factors}")
            ax.set_xlabel("seconds")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"solvers_k{factors}.png", dpi=110)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    by_solver = {}
    for row in solver_bench.summary(records):
        by_solver.setdefault(label(row), []).append((row["factors"], row["seconds_per_epoch"]))
    for name, points in by_solver.items():
        points.sort()
        ax.plot(*zip(*points, strict=True), marker="o", label=name)
    ax.set(xscale="log", yscale="log", xlabel="factors", ylabel="seconds per epoch")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "seconds_per_epoch.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
