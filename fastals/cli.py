"""The ``fastals`` command (also ``python -m fastals``)."""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .cli_model import CommandError, add_parsers


def _demo(args):
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
    model = AlternatingLeastSquares(
        factors=args.factors,
        regularization=args.regularization,
        iterations=args.iterations,
        use_cg=args.solver == "cg",
        calculate_training_loss=True,
        num_threads=args.threads,
        random_state=args.seed,
    )
    # compile (or load from the on-disk cache) outside the timed fit
    start = time.perf_counter()
    warm = AlternatingLeastSquares(
        factors=args.factors,
        iterations=1,
        use_cg=args.solver == "cg",
        calculate_training_loss=True,
        random_state=0,
    )
    warm.fit(matrix[:50], show_progress=False)
    print(f"kernels compiled/loaded in {time.perf_counter() - start:.1f} s")

    seconds = []
    model.fit(matrix, show_progress=not args.quiet, callback=lambda i, t, loss: seconds.append(t))
    print(f"\nALS ({args.solver}, factors={args.factors}, {len(seconds)} iterations)")
    print(f"{'iteration':>9}  {'seconds':>8}  {'loss':>12}")
    for i, (t, loss) in enumerate(zip(seconds, model.loss_history, strict=True)):
        print(f"{i + 1:>9}  {t:>8.3f}  {loss:>12.6f}")
    print(f"mean seconds per iteration (incl. loss): {np.mean(seconds):.3f}")
    return 0


def _kuairec(args):
    import json

    from .pipeline import format_report, run_kuairec

    if args.data_dir is not None and not args.data_dir.is_dir():
        raise SystemExit(f"fastals kuairec: --data-dir {args.data_dir} is not a folder")
    if not args.quiet:
        print(
            "(the first run in a fresh environment compiles fastals' kernels, ~30 s; later runs "
            "load them from Numba's cache)",
            file=sys.stderr,
        )
    result = run_kuairec(
        args.data_dir,
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
    if args.json:
        print(json.dumps(result, default=float))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="fastals", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser(
        "demo", help="fit on a synthetic KuaiRec-shaped matrix; print time and loss per iteration"
    )
    demo.add_argument("--scale", type=float, default=1.0, help="shrink users/items (default 1.0)")
    demo.add_argument("--factors", type=int, default=50)
    demo.add_argument("--regularization", type=float, default=0.1)
    demo.add_argument("--iterations", type=int, default=15)
    demo.add_argument("--solver", choices=["cg", "cholesky"], default="cg")
    demo.add_argument("--threads", type=int, default=0, help="0 = all cores")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=_demo)

    kuairec = sub.add_parser(
        "kuairec", help="the seed notebook's KuaiRec pipeline: train on big, evaluate on small"
    )
    kuairec.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="KuaiRec data folder (default: generate a KuaiRec-format one)",
    )
    kuairec.add_argument(
        "--scale",
        type=float,
        default=0.05,
        help="size of the generated folder when --data-dir is not given",
    )
    kuairec.add_argument("--seed", type=int, default=0)
    kuairec.add_argument("--iterations", type=int, default=15)
    kuairec.add_argument("--threads", type=int, default=0, help="0 = all cores")
    kuairec.add_argument(
        "--json", action="store_true", help="print the results as one JSON object on the last line"
    )
    kuairec.add_argument("--quiet", action="store_true", help="no progress bars")
    kuairec.set_defaults(func=_kuairec)
    add_parsers(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["kuairec", *(argv or sys.argv[1:])])
    if hasattr(args, "scale") and not 0 < args.scale <= 1:
        parser.error("--scale must be in (0, 1]")
    try:
        return args.func(args)
    except CommandError as exc:
        message = " ".join(str(exc).split())  # one line, whatever the message holds
        print(f"fastals {args.command}: {message}", file=sys.stderr)
        return 2
