"""GFMA/s of a row's weighted outer products: the register tiles against the loops.

    python scripts/outer_products.py --factors 64 256 --rows 400 --per-row 1611

Each row adds sum_i w_i y_i y_i^T (lower triangle) for its entries to a k x k matrix, as
Cholesky and iALS++ build A_u (``fastals._kernels.simd.outer``). The rows have KuaiRec's
entries per user (1,611), gathered from a Y of KuaiRec's item count; "tiles" is what the
solvers run (``add_outer_products``: the IR tiles where the switch is on, float32),
"loops" the four-entry rank-1 updates (``outer_products_loops``). One thread, then
``--threads`` through the thread pool. Prints a markdown table; GFMA counts k (k + 1) / 2
multiply-adds per entry.
"""

import argparse
import time

import numpy as np

from fastals._kernels._jit import jit
from fastals._kernels.simd import add_outer_products, outer_scratch
from fastals._kernels.simd.outer import outer_products_loops
from fastals._threads import parallel_for, thread_scope


@jit()
def outer_rows(u0, u1, indptr, indices, data, Y, tiles):
    """Rows u0..u1-1's outer products into one k x k matrix per range."""
    k = Y.shape[1]
    A = np.zeros((k, k), Y.dtype)
    scratch = outer_scratch(k, A)
    zero = Y.dtype.type(0)
    for u in range(u0, u1):
        if tiles:
            add_outer_products(indices, data, indptr[u], indptr[u + 1], Y, A, zero, scratch)
        else:
            outer_products_loops(indices, data, indptr[u], indptr[u + 1], Y, A, zero)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--per-row", type=int, default=1611)
    parser.add_argument("--items", type=int, default=10728)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.rows * args.per_row
    indptr = np.arange(0, n + 1, args.per_row)
    indices = np.sort(rng.integers(0, args.items, (args.rows, args.per_row)), axis=1)
    indices = indices.ravel().astype(np.int32)
    data = rng.uniform(0.5, 2, n).astype(np.float32)
    print(f"{args.rows} rows x {args.per_row} entries, Y of {args.items} rows, float32")
    print("| factors | kernel | threads | seconds | GFMA/s | tiles / loops |")
    print("|---|---|---|---|---|---|")
    for k in args.factors:
        Y = rng.standard_normal((args.items, k)).astype(np.float32)
        work = n * k * (k + 1) / 2
        for threads in (1, args.threads):
            seconds = {}
            for tiles in (False, True):
                outer_rows(0, 1, indptr, indices, data, Y, tiles)  # compile
                with thread_scope(threads):
                    start = time.perf_counter()
                    parallel_for(outer_rows, args.rows, indptr, indices, data, Y, tiles, grain=4)
                    seconds[tiles] = time.perf_counter() - start
            for tiles in (False, True):
                ratio = f"**{seconds[False] / seconds[True]:.2f}x**" if tiles else ""
                name = "tiles" if tiles else "loops"
                print(f"| {k} | {name} | {threads} | {seconds[tiles]:.4g} | "
                      f"{work / seconds[tiles] / 1e9:.3g} | {ratio} |")  # fmt: skip


if __name__ == "__main__":
    main()
