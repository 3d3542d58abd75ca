"""Seconds and bytes per iteration of fastals.distributed.fit on a LocalCluster, beside
single-machine fastals and implicit on the same input.

    python scripts/distributed_bench.py [--factors 64] [--iterations 5] [--workers 1 2]
        [--solver cg|cholesky] [--json out.json]

Input: ``fastals.data.kuairec_like()`` (7,176 x 10,728, ~11.5M confidences of 1 or 41).
Each LocalCluster has ``--workers`` worker processes of one thread each, on this machine.
Seconds per iteration: the median of the callback's per-iteration times, the first iteration
left out (it waits for the blocks to be built). Bytes per iteration: the loopback interface's
bytes sent (psutil) between two callbacks, every byte the driver and the workers exchanged
(headers included, and anything else on this machine's loopback meanwhile), beside
``fastals.distributed.bytes_per_iteration``'s payload formula. fastals and implicit on one
machine run with 1 and with 2 threads (BLAS held to 1 thread).
"""

import argparse
import json
import statistics
import time

import numpy as np
import psutil
from threadpoolctl import threadpool_limits

import fastals
from fastals.data import kuairec_like


def per_iteration(fit, iterations):
    """(median seconds per iteration after the first, loopback bytes per iteration)."""
    seconds, sent = [], [psutil.net_io_counters(pernic=True)["lo"].bytes_sent]

    def callback(iteration, elapsed, loss):
        seconds.append(elapsed)
        sent.append(psutil.net_io_counters(pernic=True)["lo"].bytes_sent)

    fit(callback)
    assert len(seconds) == iterations
    moved = np.diff(sent)[1:]
    return statistics.median(seconds[1:]), float(np.median(moved))


def als(args, **kwargs):
    params = dict(factors=args.factors, iterations=args.iterations, regularization=0.1,
                  use_cg=args.solver == "cg", random_state=0)  # fmt: skip
    return fastals.AlternatingLeastSquares(**{**params, **kwargs})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--solver", choices=["cg", "cholesky"], default="cg")
    parser.add_argument("--no-implicit", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    from dask.distributed import Client, LocalCluster

    import fastals.distributed as fd

    C = kuairec_like()
    n_users, n_items = C.shape
    print(f"input: {n_users} x {n_items}, {C.nnz} stored; factors={args.factors}, {args.solver}")
    rows = []
    reference = None
    for threads in (1, 2):
        model = als(args, num_threads=threads)
        als(args, num_threads=threads).fit(C[:500], show_progress=False)  # compile outside
        s, _ = per_iteration(lambda cb, m=model: m.fit(C, show_progress=False, callback=cb),
                             args.iterations)  # fmt: skip
        rows.append({"run": f"fastals, 1 process, {threads} threads", "s_per_it": s})
        reference = model
    if not args.no_implicit:
        from implicit.cpu.als import AlternatingLeastSquares as ImplicitALS

        for threads in (1, 2):
            model = ImplicitALS(factors=args.factors, iterations=args.iterations,
                                regularization=0.1, use_cg=args.solver == "cg",
                                num_threads=threads, random_state=0)  # fmt: skip
            with threadpool_limits(1, "blas"):
                s, _ = per_iteration(
                    lambda cb, m=model: m.fit(C, show_progress=False, callback=cb),
                    args.iterations,
                )
            rows.append({"run": f"implicit 0.7.3, {threads} threads", "s_per_it": s})
    for workers in args.workers:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None,
                               worker_dashboard_address=None)  # fmt: skip
        client = Client(cluster)
        try:
            fd.fit(als(args, iterations=1), C[:500], client=client, show_progress=False)  # warm
            model = als(args)
            start = time.perf_counter()
            s, moved = per_iteration(
                lambda cb, m=model, c=client: fd.fit(
                    m, C, client=c, show_progress=False, callback=cb
                ),
                args.iterations,
            )
            total = time.perf_counter() - start
        finally:
            client.close()
            cluster.close()
        same = np.array_equal(model.user_factors, reference.user_factors) and np.array_equal(
            model.item_factors, reference.item_factors
        )
        formula = fd.bytes_per_iteration(n_users, n_items, args.factors, workers,
                                         warm=args.solver == "cg")  # fmt: skip
        rows.append({
            "run": f"fastals.distributed, {workers} worker(s) x 1 thread",
            "s_per_it": s, "bytes_measured": moved, "bytes_formula": formula,
            "whole_fit_s": total, "same_factors": bool(same),
        })  # fmt: skip
    base = rows[0]["s_per_it"]
    print("| run | s / iteration | vs fastals 1 thread | MB moved / it. (measured) | "
          "MB / it. (formula) | same factors |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in rows:
        mb = f"{r['bytes_measured'] / 1e6:.1f}" if "bytes_measured" in r else ""
        fm = f"{r['bytes_formula'] / 1e6:.1f}" if "bytes_formula" in r else ""
        same = {True: "yes (bit for bit)", False: "NO"}.get(r.get("same_factors"), "")
        print(f"| {r['run']} | {r['s_per_it']:.3f} | {base / r['s_per_it']:.2f}x | {mb} | {fm} "
              f"| {same} |")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
