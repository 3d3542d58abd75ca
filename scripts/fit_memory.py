"""Peak memory (RSS) of one fit, fastals or implicit, each library in a process of its own.

Usage: python scripts/fit_memory.py LIBRARY SOLVER [--scale 1.0] [--factors 64] [--iterations 3]
  LIBRARY: fastals | implicit;  SOLVER: cg | cholesky

Generates ``kuairec_like`` with both sides scaled by ``--scale`` (entries by its square: 2.08 gives
50M), fits once on 100 rows (JIT compile, imports), then resets the peak RSS and fits the whole
matrix. Prints the RSS before the fit, the fit's peak (the process's absolute peak from then on:
the matrix and the libraries included) and the increase, with seconds per iteration. Run it
once per library: a process holds one library's memory only.
"""

import argparse
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from harness import memory  # noqa: E402
from harness.data import kuairec_input  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("library", choices=["fastals", "implicit"])
    parser.add_argument("solver", choices=["cg", "cholesky"])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args()
    if args.library == "fastals":
        from fastals import AlternatingLeastSquares
    else:
        from implicit.cpu.als import AlternatingLeastSquares
    matrix = kuairec_input(args.scale)
    params = dict(factors=args.factors, use_cg=args.solver == "cg", random_state=0)
    with threadpool_limits(1, "blas"):
        AlternatingLeastSquares(**params, iterations=1).fit(matrix[:100], show_progress=False)
        model = AlternatingLeastSquares(**params, iterations=args.iterations)
        before = memory.current_rss()
        memory.reset_peak_rss()
        start = time.perf_counter()
        model.fit(matrix, show_progress=False)
        seconds = (time.perf_counter() - start) / args.iterations
        peak = memory.peak_rss()
    mib = 2**20
    print(
        f"{args.library} {args.solver}, {matrix.shape[0]} x {matrix.shape[1]}, nnz {matrix.nnz}, "
        f"factors {args.factors}: RSS before {before / mib:.0f} MiB, peak {peak / mib:.0f} MiB, "
        f"increase {(peak - before) / mib:.0f} MiB; {seconds:.3f} s per iteration (set-up included)"
    )


if __name__ == "__main__":
    main()
