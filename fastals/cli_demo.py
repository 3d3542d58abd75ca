"""``fastals kuairec`` (the KuaiRec notebook's pipeline, run by ``make demo``) and
``fastals demo`` (time and loss per iteration on a synthetic KuaiRec-shaped matrix)."""

import argparse
import json
import sys
import time

import numpy as np

from .cli_io import CommandError, nonnegative_float, nonnegative_int, positive_int


def scale_value(text):
    """argparse type of --scale: a number in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def demo_command(args):
    from . import AlternatingLeastSquares
    from .data import kuairec_like

    scale = args.scale
    start = time.perf_counter()
    matrix = kuairec_like(
        n_users=max(10, int(7176 * scale)),
        n_items=max(10, int(10728 * scale)),
        nnz=max(100, int(11_564_987 * scale * scale)),
        seed=args.seed,
    )
    print(
        f"synthetic KuaiRec-shaped matrix: {matrix.shape[0]:,} users x {matrix.shape[1]:,} items, "
        f"{matrix.nnz:,} stored entries (made in {time.perf_counter() - start:.1f} s)"
    )
    settings = dict(use_cg=args.solver == "cg", calculate_training_loss=True)
    # compile (or load from the on-disk cache) outside the timed fit
    start = time.perf_counter()
    warm = AlternatingLeastSquares(factors=args.factors, iterations=1, random_state=0, **settings)
    warm.fit(matrix[:50], show_progress=False)
    print(f"kernels compiled/loaded in {time.perf_counter() - start:.1f} s")

    model = AlternatingLeastSquares(
        factors=args.factors,
        regularization=args.regularization,
        iterations=args.iterations,
        num_threads=args.threads,
        random_state=args.seed,
        **settings,
    )
    seconds = []
    model.fit(matrix, show_progress=not args.quiet, callback=lambda i, t, loss: seconds.append(t))
    print(f"\nALS ({args.solver}, factors={args.factors}, {len(seconds)} iterations)")
    print(f"{'iteration':>9}  {'seconds':>8}  {'loss':>12}")
    for i, (t, loss) in enumerate(zip(seconds, model.loss_history, strict=True)):
        print(f"{i + 1:>9}  {t:>8.3f}  {loss:>12.6f}")
    print(f"mean seconds per iteration (incl. loss): {np.mean(seconds):.3f}")
    return 0


def kuairec_command(args):
    from pathlib import Path

    from .kuairec.pipeline import format_report, run_kuairec

    data_dir = None if args.data_dir is None else Path(args.data_dir)
    if data_dir is not None and not data_dir.is_dir():
        raise CommandError(f"--data-dir {data_dir} is not a folder")
    if not args.quiet:
        print(
            "(the first run in a fresh environment compiles fastals' kernels, ~30 s; later runs "
            "load them from Numba's cache)",
            file=sys.stderr,
        )
    result = run_kuairec(
        data_dir,
        scale=args.scale,
        seed=args.seed,
        iterations=args.iterations,
        show_progress=not args.quiet,
        num_threads=args.threads,
    )
    result.pop("model")
    where = result["data_dir"] or f"a generated KuaiRec-format folder (scale {args.scale})"
    print(f"KuaiRec pipeline on {where}")
    print(format_report(result))
    print(
        f"why `seed` scores low: it ranks all {result['items']:,} training videos, but the "
        "test truth holds only small_matrix videos, which these users never watched in "
        "training, so most top-10 slots go to videos that can never be a hit; `small_items` "
        "ranks only the small_matrix videos"
    )
    if args.json:
        print(json.dumps(result, default=float))
    return 0


def add_parsers(sub):
    kuairec = sub.add_parser(
        "kuairec",
        help="the KuaiRec notebook's pipeline: train on big_matrix, evaluate on small_matrix",
        description="Load and clean KuaiRec, fit ALS as the notebook this project started "
        "from, evaluate top-10 lists under two protocols beside popularity and random.",
    )
    kuairec.add_argument(
        "--data-dir",
        default=None,
        help="KuaiRec data folder (default: generate a KuaiRec-format one)",
    )
    kuairec.add_argument(
        "--scale",
        type=scale_value,
        default=0.05,
        help="size of the generated folder when --data-dir is not given, in (0, 1] (default: 0.05)",
    )
    kuairec.add_argument(
        "--seed", type=nonnegative_int, default=0, help="seed of data and model (default: 0)"
    )
    kuairec.add_argument(
        "--iterations", type=positive_int, default=15, help="ALS iterations (default: 15)"
    )
    kuairec.add_argument(
        "--threads", type=nonnegative_int, default=0, help="threads, 0 = all cores (default: 0)"
    )
    kuairec.add_argument(
        "--json",
        action="store_true",
        help="also print the results as one JSON object on the last line (default: off)",
    )
    kuairec.add_argument("--quiet", action="store_true", help="no progress bars (default: show)")
    kuairec.set_defaults(func=kuairec_command)

    demo = sub.add_parser(
        "demo",
        help="fit a synthetic KuaiRec-shaped matrix; print time and loss per iteration",
        description="Fit ALS on a generated matrix of KuaiRec's shape and print the seconds "
        "and training loss of each iteration.",
    )
    demo.add_argument(
        "--scale",
        type=scale_value,
        default=1.0,
        help="shrink users and items by this factor, in (0, 1] (default: 1.0)",
    )
    demo.add_argument(
        "--factors", type=positive_int, default=50, help="latent factors (default: 50)"
    )
    demo.add_argument(
        "--regularization",
        type=nonnegative_float,
        default=0.1,
        help="L2 regularization (default: 0.1)",
    )
    demo.add_argument(
        "--iterations", type=positive_int, default=15, help="ALS iterations (default: 15)"
    )
    demo.add_argument(
        "--solver", choices=["cg", "cholesky"], default="cg", help="solver (default: cg)"
    )
    demo.add_argument(
        "--threads", type=nonnegative_int, default=0, help="threads, 0 = all cores (default: 0)"
    )
    demo.add_argument(
        "--seed", type=nonnegative_int, default=0, help="seed of data and model (default: 0)"
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bar (default: show it)")
    demo.set_defaults(func=demo_command)
