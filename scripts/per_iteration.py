"""Seconds per ALS iteration, fastals vs implicit, same matrix, same run (callback timings).

Usage: python scripts/per_iteration.py [--scale 1.0] [--iterations 5] [--factors 50] [--solver cg]
                                      [--uniform-values] [--rounds 1] [--busy]
The matrix is ``fastals.data.kuairec_like`` (KuaiRec-shaped, values 1 or 41). Each library fits
``--rounds`` times, the libraries taking turns (after a small warm-up fit each), so that both
see the same phases of a noisy machine; the per-iteration figure is the median of all the
callback's elapsed times (the solver sweeps, as implicit measures them), so per-fit set-up is
excluded. ``--busy`` keeps one core busy with another process (a Python busy loop, as a
browser or a CI neighbour would) while both libraries fit.
"""

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from harness.busy import busy_neighbour  # noqa: E402
from harness.data import kuairec_input  # noqa: E402

from fastals import AlternatingLeastSquares  # noqa: E402


def params(args):
    return dict(
        factors=args.factors,
        regularization=0.1,
        iterations=args.iterations,
        use_cg=args.solver == "cg",
        random_state=0,
    )


def warm_up(cls, matrix, args):
    cls(**{**params(args), "iterations": 1}).fit(matrix[:100], show_progress=False)


def fit_times(cls, matrix, args, times):
    """One fit; appends each iteration's callback seconds to ``times``."""
    model = cls(**params(args))
    with threadpool_limits(1, "blas"):
        model.fit(matrix, show_progress=False, callback=lambda i, t, loss: times.append(t))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--factors", type=int, default=50)
    parser.add_argument("--solver", choices=["cg", "cholesky"], default="cg")
    parser.add_argument("--rounds", type=int, default=1, help="fits per library, in turns")
    parser.add_argument(
        "--uniform-values",
        action="store_true",
        help="replace every stored value by uniform(0.5, 5): none equals 1",
    )
    parser.add_argument("--busy", action="store_true", help="one busy process alongside")
    args = parser.parse_args()
    matrix = kuairec_input(args.scale)
    if args.uniform_values:
        matrix.data = np.random.default_rng(0).uniform(0.5, 5.0, matrix.nnz).astype(np.float32)
    from implicit.cpu.als import AlternatingLeastSquares as ImplicitALS

    libraries = {"fastals": AlternatingLeastSquares, "implicit": ImplicitALS}
    times = {name: [] for name in libraries}
    for cls in libraries.values():
        warm_up(cls, matrix, args)
    with busy_neighbour(args.busy):
        for _ in range(args.rounds):
            for name, cls in libraries.items():
                fit_times(cls, matrix, args, times[name])
    fast, slow = (statistics.median(times[name]) for name in libraries)
    print(
        f"matrix {matrix.shape[0]} x {matrix.shape[1]}, nnz {matrix.nnz}, values "
        f"{'uniform(0.5, 5)' if args.uniform_values else '1 or 41'}, factors {args.factors}, "
        f"{args.solver}, float32{', one busy process alongside' if args.busy else ''}"
    )
    print(
        f"seconds per iteration: fastals {fast:.3f}, implicit {slow:.3f}, ratio {slow / fast:.2f}x"
    )
    return np.isfinite(fast)


if __name__ == "__main__":
    main()
