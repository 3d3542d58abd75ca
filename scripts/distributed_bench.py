"""Seconds and bytes per iteration of fastals.distributed.fit on a LocalCluster, beside
single-machine fastals and implicit on the same input; a generated block of RESULTS.md.

    python scripts/distributed_bench.py [--input kuairec|power-law] [--nnz 100e6]
        [--per-user 100] [--factors 64] [--iterations 5] [--workers 1 2 4] [--threads 1 2]
        [--solver cg|cholesky] [--no-implicit] [--out benchmarks]

Inputs: ``kuairec``: ``fastals.data.kuairec_like()`` (7,176 x 10,728, ~11.5M confidences of 1
or 41), handed to the cluster as a matrix; ``power-law``: ``fastals.data.power_law`` with
``--nnz`` entries, ``--per-user`` entries per user and ten users per item (counts as values,
ALS's alpha = 1), written to Parquet files first and read by the cluster from there (as a
user's data would be: no copy of the matrix on the scheduler).

Each LocalCluster has ``--workers`` worker processes of one thread each, on this machine.
Seconds per iteration: the median of the callback's per-iteration times, the first iteration
left out (it waits for the blocks to be built). Bytes per iteration: the loopback interface's
bytes sent (psutil) between two callbacks, every byte the driver and the workers exchanged
(headers included, and anything else on this machine's loopback meanwhile), beside
``fastals.distributed.bytes_per_iteration``'s payload formula. Workers' memory: the largest
worker's resident set after the fit. fastals and implicit on one machine run with
``--threads`` threads (BLAS held to 1 thread). The block is named after the input
(``distributed_bench:kuairec``, ``distributed_bench:power-law-100M``, ...), so runs on
different inputs keep their own.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from harness import REPO_ROOT, machine  # noqa: E402
from harness.report import fmt_bytes, md_table, write_block  # noqa: E402

import fastals  # noqa: E402
from fastals.data import kuairec_like, power_law  # noqa: E402

PARQUET_ROWS = 5_000_000  # rows per Parquet file of the power-law input


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


def params(args):
    """The model's parameters, the same for every library."""
    return dict(factors=args.factors, iterations=args.iterations, regularization=0.1,
                use_cg=args.solver == "cg", random_state=0, alpha=1.0)  # fmt: skip


def als(args, **kwargs):
    return fastals.AlternatingLeastSquares(**{**params(args), **kwargs})


def make_input(args, folder):
    """(matrix, what the cluster reads, fit keywords, description)."""
    if args.input == "kuairec":
        C = kuairec_like()
        return C, C, {}, "`fastals.data.kuairec_like()` (a matrix input)"
    n_users = int(args.nnz) // args.per_user
    C = power_law(n_users, max(n_users // 10, 2 * args.per_user), int(args.nnz), seed=0)
    import pyarrow as pa
    import pyarrow.parquet as pq

    users = np.repeat(np.arange(C.shape[0], dtype=np.int32), np.diff(C.indptr))
    for n, r0 in enumerate(range(0, C.nnz, PARQUET_ROWS)):
        r1 = min(C.nnz, r0 + PARQUET_ROWS)
        table = pa.table({"user": users[r0:r1], "item": C.indices[r0:r1],
                          "weight": C.data[r0:r1]})  # fmt: skip
        pq.write_table(table, Path(folder) / f"part-{n:04d}.parquet")
    keywords = dict(user_col="user", item_col="item", weight_col="weight", shape=C.shape)
    what = (f"`fastals.data.power_law({n_users}, {C.shape[1]}, {int(args.nnz)})` written to "
            f"{-(-C.nnz // PARQUET_ROWS)} Parquet files (read by the cluster)")  # fmt: skip
    return C, str(Path(folder) / "*.parquet"), keywords, what


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", choices=["kuairec", "power-law"], default="kuairec")
    parser.add_argument("--nnz", type=float, default=100e6, help="power-law entries (100e6)")
    parser.add_argument("--per-user", type=int, default=100, help="power-law entries per user")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--solver", choices=["cg", "cholesky"], default="cg")
    parser.add_argument("--no-implicit", action="store_true")
    parser.add_argument("--out", default=str(REPO_ROOT / "benchmarks"))
    args = parser.parse_args(argv)
    command = "python scripts/distributed_bench.py " + " ".join(sys.argv[1:] if argv is None
                                                                else argv)  # fmt: skip

    from dask.distributed import Client, LocalCluster

    import fastals.distributed as fd

    load_start = [round(x, 2) for x in psutil.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="distributed_bench-") as folder:
        C, data, keywords, what = make_input(args, folder)
        n_users, n_items = C.shape
        print(f"input: {n_users} x {n_items}, {C.nnz} stored; k={args.factors}, {args.solver}")
        rows, reference = [], None
        for threads in args.threads:
            model = als(args, num_threads=threads)
            als(args, num_threads=threads).fit(C[:500], show_progress=False)  # compile outside
            s, _ = per_iteration(lambda cb, m=model: m.fit(C, show_progress=False, callback=cb),
                                 args.iterations)  # fmt: skip
            rows.append({"run": f"fastals, 1 process, {threads} thread(s)", "s_per_it": s})
            reference = model
            print(rows[-1], flush=True)
        if not args.no_implicit:
            from implicit.cpu.als import AlternatingLeastSquares as ImplicitALS

            for threads in args.threads:
                model = ImplicitALS(**params(args), num_threads=threads)
                with threadpool_limits(1, "blas"):
                    s, _ = per_iteration(
                        lambda cb, m=model: m.fit(C, show_progress=False, callback=cb),
                        args.iterations,
                    )
                rows.append({"run": f"implicit 0.7.3, {threads} thread(s)", "s_per_it": s})
                print(rows[-1], flush=True)
        for workers in args.workers:
            rows.append(distributed_run(args, workers, C, data, keywords, reference, fd,
                                        Client, LocalCluster))  # fmt: skip
            print(rows[-1], flush=True)
    results = {"args": vars(args), "rows": rows, "shape": [n_users, n_items], "nnz": int(C.nnz),
               "input": what, "machine": machine.machine_info(), "generated": machine.now_utc(),
               "load": [load_start, [round(x, 2) for x in psutil.getloadavg()]]}  # fmt: skip
    write_results(results, Path(args.out), command)


def distributed_run(args, workers, C, data, keywords, reference, fd, Client, LocalCluster):
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None,
                           worker_dashboard_address=None)  # fmt: skip
    client = Client(cluster)
    try:
        fd.fit(als(args, iterations=1), C[:500], client=client, show_progress=False)  # warm
        model = als(args)
        start = time.perf_counter()
        s, moved = per_iteration(
            lambda cb, m=model, c=client: fd.fit(
                m, data, client=c, show_progress=False, callback=cb, **keywords
            ),
            args.iterations,
        )
        total = time.perf_counter() - start
        rss = max(client.run(lambda: psutil.Process().memory_info().rss).values())
    finally:
        client.close()
        cluster.close()
    same = np.array_equal(model.user_factors, reference.user_factors) and np.array_equal(
        model.item_factors, reference.item_factors
    )
    formula = fd.bytes_per_iteration(*C.shape, args.factors, workers, warm=args.solver == "cg")
    return {
        "run": f"fastals.distributed, {workers} worker(s) x 1 thread",
        "s_per_it": s, "bytes_measured": moved, "bytes_formula": formula,
        "whole_fit_s": total, "worker_rss": rss, "same_factors": bool(same),
    }  # fmt: skip


def block_name(args):
    if args.input == "kuairec":
        return "distributed_bench:kuairec"
    return f"distributed_bench:power-law-{args.nnz / 1e6:g}M"


def write_results(results, out, command):
    args = argparse.Namespace(**results["args"])
    base = results["rows"][0]["s_per_it"]
    table = []
    for r in results["rows"]:
        same = {True: "yes (bit for bit)", False: "NO"}.get(r.get("same_factors"), "")
        table.append([
            r["run"], f"{r['s_per_it']:.3f}", f"{base / r['s_per_it']:.2f}x",
            f"{r['bytes_measured'] / 1e6:.1f}" if "bytes_measured" in r else "",
            f"{r['bytes_formula'] / 1e6:.1f}" if "bytes_formula" in r else "",
            f"{r['whole_fit_s']:.1f}" if "whole_fit_s" in r else "",
            fmt_bytes(r["worker_rss"]) if "worker_rss" in r else "", same,
        ])  # fmt: skip
    headers = ["run", "s / iteration", f"vs {results['rows'][0]['run']}",
               "MB moved / it. (measured)", "MB / it. (formula)", "whole fit s (blocks built)",
               "largest worker RSS", "same factors"]  # fmt: skip
    (l0, l1), (n_users, n_items) = results["load"], results["shape"]
    md = [
        f"### {results['input'].split('`')[1]}: {n_users:,} x {n_items:,}, "
        f"{results['nnz']:,} stored (generated)",
        "",
        f"Generated {results['generated']} by `{command}`; rewritten by that command. "
        f"factors={args.factors}, {args.solver}, {args.iterations} iterations; input "
        f"{results['input']}. Load average (1 / 5 / 15 min) at the start "
        f"{' / '.join(map(str, l0))}, at the end {' / '.join(map(str, l1))} "
        f"({results['machine']['cores']} cores).",
        "",
        md_table(headers, table),
    ]
    out.joinpath("plots").mkdir(parents=True, exist_ok=True)
    tag = block_name(args).split(":")[1]
    out.joinpath("plots", f"distributed_{tag}.json").write_text(json.dumps(results, indent=1))
    write_block(out / "RESULTS.md", block_name(args), "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
