"""fastals vs implicit 0.7.3, side by side on identical inputs, written to benchmarks/RESULTS.md.

Usage::

    python scripts/compare_implicit.py                 # full comparison (~10 min on 2 cores)
    python scripts/compare_implicit.py --quick         # small inputs, seconds
    python scripts/compare_implicit.py --scaling       # time per iteration vs nnz + compile time
    python scripts/compare_implicit.py --scaling --sizes 1e6,5e6,20e6

Datasets: (a) ``fastals.data.kuairec_like`` (KuaiRec-shaped, ``--scale`` per side), (b)
MovieLens 100K and (c) HetRec Last.fm 2K from ``--data-dir`` (default ``../shared/data``;
skipped with a note when absent). Each is split once (80/20, seed 0); both libraries fit the
same train matrix with the same hyper-parameters and seed.

Method:

- every library's fits run in a fresh subprocess of its own (one per dataset), so peak
  memory is that library's alone; the peak RSS is reset before each fit (Linux clear_refs)
  and read after it;
- a warm-up fit on 100 rows first (JIT compile / caches), excluded;
- seconds per iteration are the median of the ``fit`` callback's elapsed times (the two
  half-sweeps, as implicit times them; per-fit set-up excluded);
- the training loss after each iteration is computed outside the timed region by one function
  for both (implicit's ``calculate_loss``) on the library's current factors;
- ranking metrics @10 on the held-out 20% (``fastals.evaluation.ranking_metrics_at_k``,
  implicit's definitions, on each library's own model), and the mean overlap of the two
  top-10 lists (liked items filtered) over all users;
- implicit runs with 1 BLAS thread (as it asks); the main fits use all cores, and
  ``--threads`` sets the thread counts of the speed-vs-threads sweep.

Output: a generated block in ``<out>/RESULTS.md`` (between ``<!-- compare_implicit:begin -->``
and ``<!-- compare_implicit:end -->``, or the ``compare_implicit:scaling`` markers; the rest of
the file is left as it is), PNGs in ``<out>/plots/`` and the raw numbers as JSON beside them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import harness  # noqa: E402
import numpy as np  # noqa: E402
import plots  # noqa: E402
import scipy.sparse as sp  # noqa: E402

MAIN_BLOCK = "compare_implicit"
SCALING_BLOCK = "compare_implicit:scaling"
SOLVERS = ("cg", "cholesky")
KUAIREC = "kuairec_like"
DATASETS = (KUAIREC, "ml100k", "lastfm")
KUAIREC_SHAPE = {"n_users": 7176, "n_items": 10728, "nnz": 11_564_987}
REGULARIZATION = 0.1
SEED = 0
TOPN = 10
METRICS = ("precision", "map", "ndcg", "auc")
# bytes per stored entry a fit may need at its peak in either library, with margin: the
# loaded CSR (8), fastals' confidences + reordered copy + transpose (~24) or implicit's
# transpose (8), the generator's working set in the parent before that
BYTES_PER_NNZ = 48


# ---------------------------------------------------------------- data


def kuairec_shape(scale: float) -> dict[str, int]:
    """KuaiRec's shape times ``scale`` per side, same density (as benchmarks/conftest.py)."""
    full = KUAIREC_SHAPE
    n_users = max(2, round(full["n_users"] * scale))
    n_items = max(2, round(full["n_items"] * scale))
    density = full["nnz"] / (full["n_users"] * full["n_items"])
    nnz = min(n_users * n_items, max(n_users, round(density * n_users * n_items)))
    return {"n_users": n_users, "n_items": n_items, "nnz": nnz}


def prepare(name: str, args) -> tuple[sp.csr_matrix | None, str]:
    """(confidence matrix, description) of dataset ``name``; (None, why) when absent."""
    data_dir = Path(args.data_dir)
    if name == KUAIREC:
        from fastals.data import kuairec_like

        shape = kuairec_shape(args.scale)
        return (
            harness.canonical(kuairec_like(**shape, seed=SEED)),
            f"`fastals.data.kuairec_like` at scale {args.scale:g} per side "
            "(confidences 1 or 41, as generated)",
        )
    if name == "ml100k":
        if not (data_dir / harness.ML100K_FILE).is_file():
            return None, f"skipped: {data_dir / harness.ML100K_FILE} not found"
        df = harness.load_movielens(data_dir)
        df = df[df["rating"] >= 4]
        liked = harness.build_matrix(df, "user_id", "item_id")
        liked.data[:] = 1.0
        return (
            harness.bm25_weight(liked, K1=100, B=0.9).multiply(5).tocsr().astype(np.float32),
            "MovieLens 100K, ratings >= 4 as positives, confidence `bm25_weight(B=0.9) * 5` "
            "(implicit's MovieLens example)",
        )
    if name == "lastfm":
        if not (data_dir / harness.LASTFM_FILE).is_file():
            return None, f"skipped: {data_dir / harness.LASTFM_FILE} not found"
        df = harness.load_lastfm(data_dir)
        plays = harness.build_matrix(df, "user_id", "item_id", weight="weight")
        return (
            harness.bm25_weight(plays, K1=100, B=0.8),
            "HetRec Last.fm 2K play counts, confidence `bm25_weight(K1=100, B=0.8)` "
            "(implicit's Last.fm example)",
        )
    raise ValueError(f"unknown dataset {name!r}")


# ---------------------------------------------------------------- child process


def child_main(spec_path: str) -> None:
    """Fit every config of the spec with one library; write timings, losses, memory."""
    spec = json.loads(Path(spec_path).read_text())
    warnings.simplefilter("ignore")
    from threadpoolctl import threadpool_limits

    library = spec["library"]
    cls = harness.model_class(library)
    loaded, train = None, None
    out = {"library": library, "configs": {}}
    with threadpool_limits(limits=1, user_api="blas"):
        for cfg in spec["configs"]:
            path = cfg.get("matrix") or spec["matrix"]
            if path != loaded:
                loaded, train = path, None  # free the last matrix first
                train = harness.canonical(sp.load_npz(path))
            out["configs"][cfg["key"]] = fit_once(cls, train, cfg, spec)
    Path(spec["out"]).write_text(json.dumps(out))


def fit_once(cls, train: sp.csr_matrix, cfg: dict, spec: dict) -> dict:
    """One warm-up fit on 100 rows, then the measured fit: callback times, losses, peak RSS."""
    from implicit.cpu._als import calculate_loss

    lam = spec["regularization"]
    params = dict(
        factors=cfg["factors"],
        regularization=lam,
        use_cg=cfg["solver"] == "cg",
        num_threads=cfg["threads"],
        random_state=spec["seed"],
        dtype=np.float32,
    )
    cls(**params, iterations=1).fit(train[: min(100, train.shape[0])], show_progress=False)
    model = cls(**params, iterations=cfg["iterations"])
    times, losses = [], []

    fit_peak = 0

    def callback(iteration, elapsed, loss):
        nonlocal fit_peak
        times.append(elapsed)
        if cfg["loss"]:  # after the library stopped its clock: outside the timed region
            # the loss is the benchmark's, not the fit's: keep its memory out of the peak
            fit_peak = max(fit_peak, harness.peak_rss())
            X, Y = model.user_factors, model.item_factors
            losses.append(float(calculate_loss(train, X, Y, lam, num_threads=0)))
            if reset:
                harness.reset_peak_rss()

    rss_before = harness.current_rss()
    reset = harness.reset_peak_rss()
    start = time.perf_counter()
    model.fit(train, show_progress=False, callback=callback)
    wall = time.perf_counter() - start
    peak = max(fit_peak, harness.peak_rss())
    if cfg.get("save"):
        np.savez(cfg["save"], user_factors=model.user_factors, item_factors=model.item_factors)
    return {
        "times": times,
        "losses": losses,
        "seconds": statistics.median(times),
        "fit_wall": wall,
        "rss_before": rss_before,
        "peak_rss": peak,
        "peak_reset": reset,
    }


def run_child(library: str, matrix_path: Path | None, configs: list[dict], workdir: Path) -> dict:
    """Run ``configs`` in a fresh process with ``library`` (a config's "matrix" overrides)."""
    tag = matrix_path.stem if matrix_path else "configs"
    spec = {
        "library": library,
        "matrix": str(matrix_path) if matrix_path else None,
        "configs": configs,
        "regularization": REGULARIZATION,
        "seed": SEED,
        "out": str(workdir / f"{tag}-{library}.json"),
    }
    spec_path = workdir / f"{tag}-{library}.spec.json"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{library} child failed on {tag}:\n{proc.stderr[-4000:]}")
    return json.loads(Path(spec["out"]).read_text())


def config(solver, factors, threads, iterations, loss=False, save=None) -> dict:
    key = f"{solver}-k{factors}-t{threads}"
    return dict(
        key=key,
        solver=solver,
        factors=factors,
        threads=threads,
        iterations=iterations,
        loss=loss,
        save=save,
    )


# ---------------------------------------------------------------- main comparison


def main_comparison(args, out: Path, command: str) -> dict:
    plots_dir = out / "plots"
    cores = harness_threads()
    results = {
        "command": command,
        "machine": harness.machine_info(),
        "datasets": {},
        "sweeps": {},
        "generated": harness.now_utc(),
        "load_start": load_average(),
        "args": vars(args),
    }
    sweep_dataset = None
    with tempfile.TemporaryDirectory(prefix="compare_implicit-") as tmp:
        workdir = Path(tmp)
        for name in args.datasets:
            t0 = time.perf_counter()
            matrix, description = prepare(name, args)
            entry = {"description": description}
            results["datasets"][name] = entry
            if matrix is None:
                log(f"{name}: {description}")
                continue
            train, test = harness.train_test_split(matrix, 0.8, random_state=SEED)
            entry.update(
                shape=list(matrix.shape),
                nnz=int(matrix.nnz),
                train_nnz=int(train.nnz),
                test_nnz=int(test.nnz),
                prepare_s=time.perf_counter() - t0,
            )
            path = workdir / f"{name}.npz"
            sp.save_npz(path, train, compressed=False)
            sweeping = sweep_dataset is None
            sweep_dataset = sweep_dataset or name
            runs = {}
            for library in harness.LIBRARIES:
                configs = [
                    config(
                        s,
                        args.factors,
                        0,
                        args.iterations,
                        loss=True,
                        save=str(workdir / f"{name}-{library}-{s}.npz"),
                    )
                    for s in SOLVERS
                ]
                if sweeping:
                    configs += sweep_configs(args, cores)
                log(f"{name}: {library} ({len(configs)} fits) ...")
                runs[library] = run_child(library, path, configs, workdir)["configs"]
            entry["runs"] = runs
            entry["quality"] = quality(name, train, test, workdir)
            if sweeping:
                results["sweeps"] = {"dataset": name, "runs": runs, "cores": cores}
    results["load_end"] = load_average()
    write_main(results, args, out, plots_dir, command)
    return results


def harness_threads() -> int:
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def sweep_configs(args, cores: int) -> list[dict]:
    configs = []
    for solver in SOLVERS:
        for k in args.sweep_factors:
            if k != args.factors:
                configs.append(config(solver, k, 0, args.sweep_iterations))
        for t in args.threads:
            if t < cores:
                configs.append(config(solver, args.factors, t, args.sweep_iterations))
    return configs


def quality(name, train, test, workdir: Path) -> dict:
    """Ranking metrics of each library's factors and the top-10 overlap, per solver."""
    out = {}
    users = np.arange(train.shape[0])
    n = min(TOPN, train.shape[1])
    for solver in SOLVERS:
        models, ids = {}, {}
        for library in harness.LIBRARIES:
            with np.load(workdir / f"{name}-{library}-{solver}.npz") as f:
                models[library] = harness.model_with_factors(
                    library, f["user_factors"], f["item_factors"]
                )
            with harness.blas_scope(library):
                ids[library] = models[library].recommend(users, train, N=n)[0]
        out[solver] = {
            "metrics": {
                lib: harness.ranking_metrics(models[lib], train, test, K=TOPN)
                for lib in harness.LIBRARIES
            },
            "overlap": harness.topn_overlap(ids["fastals"], ids["implicit"]),
            "users": int(len(users)),
        }
    return out


# ---------------------------------------------------------------- markdown


def code(command: str) -> str:
    return f"`{command}`"


def write_main(results: dict, args, out: Path, plots_dir: Path, command: str) -> None:
    cfg_main = lambda s: f"{s}-k{args.factors}-t0"  # noqa: E731
    md = [
        "## fastals vs implicit: generated comparison",
        "",
        f"Generated {results['generated']} by {code(command)}. Everything between this block's "
        "markers is rewritten by that command; do not edit it by hand.",
        "",
        "Both libraries fit the same train split (80%, seed 0) with factors="
        f"{args.factors}, regularization={REGULARIZATION}, float32, random_state={SEED}, "
        f"{args.iterations} iterations; each library in its own subprocess, after a warm-up fit "
        "(JIT compile excluded). Seconds per iteration: median of the fit callback's timings "
        "(both half-sweeps; per-fit set-up and loss evaluation excluded). implicit runs with "
        "1 BLAS thread.",
        "",
        *headline(results, args),
        harness.machine_markdown(results["machine"]),
        load_line(results),
        "### Datasets",
        "",
    ]
    rows, notes = [], []
    for name, d in results["datasets"].items():
        if "runs" not in d:
            notes.append(f"- {name}: {d['description']}")
            continue
        rows.append(
            [
                name,
                f"{d['shape'][0]:,} x {d['shape'][1]:,}",
                f"{d['nnz']:,}",
                f"{d['train_nnz']:,}",
                f"{d['test_nnz']:,}",
                d["description"],
            ]
        )
    if rows:
        md.append(
            harness.md_table(
                ["dataset", "users x items", "stored entries", "train", "test", "confidence"],
                rows,
            )
        )
    md += notes + ([""] if notes else [])
    done = {n: d for n, d in results["datasets"].items() if "runs" in d}
    if not done:
        md += ["No dataset was available: nothing was measured.", ""]
        write_json(plots_dir / "compare_implicit.json", results)
        harness.write_block(out / "RESULTS.md", MAIN_BLOCK, "\n".join(md))
        return

    md += ["### Seconds per iteration", ""]
    rows = []
    for name, d in done.items():
        for s in SOLVERS:
            f, i = (d["runs"][lib][cfg_main(s)]["seconds"] for lib in harness.LIBRARIES)
            rows.append(
                [
                    name,
                    s,
                    args.factors,
                    harness.fmt_seconds(f),
                    harness.fmt_seconds(i),
                    f"**{i / f:.2f}x**",
                ]
            )
    md.append(
        harness.md_table(
            ["dataset", "solver", "factors", "fastals", "implicit", "implicit / fastals"], rows
        )
    )

    md += [
        "### Peak memory of a fit (RSS)",
        "",
        "Each library's fit in its own process; the peak is reset just before the fit and "
        "read before each of the benchmark's per-iteration loss evaluations (reset after "
        "them), so it covers the fit alone (the loaded train matrix and the interpreter "
        "included; 'increase' is the peak minus the RSS at the start of the fit).",
        "",
    ]
    rows = []
    for name, d in done.items():
        for s in SOLVERS:
            cells = []
            for lib in harness.LIBRARIES:
                r = d["runs"][lib][cfg_main(s)]
                cells += [
                    harness.fmt_bytes(r["peak_rss"]),
                    harness.fmt_bytes(r["peak_rss"] - r["rss_before"]),
                ]
            rows.append([name, s, *cells])
    md.append(
        harness.md_table(
            [
                "dataset",
                "solver",
                "fastals peak",
                "fastals increase",
                "implicit peak",
                "implicit increase",
            ],
            rows,
        )
    )
    if not all(
        r.get("peak_reset", True)
        for d in done.values()
        for lib in d["runs"].values()
        for r in lib.values()
    ):
        md += ["Peak RSS could not be reset here: figures are peaks since process start.", ""]

    md += [
        "### Ranking quality @10 on the held-out 20%",
        "",
        "`" + harness.evaluation_module().__name__ + ".ranking_metrics_at_k` (K=10, train "
        "items filtered) on each library's own model.",
        "",
    ]
    rows = []
    for name, d in done.items():
        for s in SOLVERS:
            for lib in harness.LIBRARIES:
                m = d["quality"][s]["metrics"][lib]
                rows.append([name, s, lib, *(f"{m[k]:.4f}" for k in METRICS)])
    md.append(harness.md_table(["dataset", "solver", "library", *METRICS], rows))
    md += [
        "### Agreement of the two top-10 lists",
        "",
        "Mean over all users of |top-10 of fastals & top-10 of implicit| / 10 (train items "
        "filtered); 1.000 means identical lists.",
        "",
    ]
    rows = [
        [name, s, f"{d['quality'][s]['users']:,}", f"{d['quality'][s]['overlap']:.4f}"]
        for name, d in done.items()
        for s in SOLVERS
    ]
    md.append(harness.md_table(["dataset", "solver", "users", "mean top-10 overlap"], rows))

    md += [
        "### Training loss per iteration",
        "",
        "implicit's `calculate_loss` on each library's factors after each iteration.",
        "",
    ]
    for name, d in done.items():
        keys = [(lib, s) for s in SOLVERS for lib in harness.LIBRARIES]
        losses = {k: d["runs"][k[0]][cfg_main(k[1])]["losses"] for k in keys}
        n_it = max(len(v) for v in losses.values())
        rows = [
            [it + 1, *(f"{losses[k][it]:.6f}" if it < len(losses[k]) else "-" for k in keys)]
            for it in range(n_it)
        ]
        md += [
            f"**{name}**",
            "",
            harness.md_table(["iteration", *(f"{lib}-{s}" for lib, s in keys)], rows),
        ]

    sweep_rows(results, args)
    md += sweep_tables(results, args)
    md += ["### Figures", ""]
    figures = make_main_plots(results, args, plots_dir)
    md += figure_lines(figures, out, command)
    write_json(plots_dir / "compare_implicit.json", results)
    harness.write_block(out / "RESULTS.md", MAIN_BLOCK, "\n".join(md))


def headline(results: dict, args) -> list[str]:
    """One line per dataset: the two solvers' ratios (implicit seconds / fastals seconds)."""
    lines = []
    for name, d in results["datasets"].items():
        if "runs" not in d:
            continue
        parts = []
        for s in SOLVERS:
            key = f"{s}-k{args.factors}-t0"
            f, i = (d["runs"][lib][key]["seconds"] for lib in harness.LIBRARIES)
            parts.append(f"{s} **{i / f:.2f}x**")
        lines.append(f"- {name} ({d['train_nnz']:,} train entries): " + ", ".join(parts))
    return (
        [
            "**Headline**: implicit seconds / fastals seconds per iteration "
            f"(factors={args.factors}; above 1 means fastals is faster):",
            "",
            *lines,
            "",
        ]
        if lines
        else []
    )


def make_main_plots(results, args, plots_dir: Path) -> list[tuple[str, Path | str]]:
    """[(caption, path or reason not drawn)]."""
    if not plots.HAVE_MATPLOTLIB:
        return [("figures", "not drawn: matplotlib is not installed (pip install matplotlib)")]
    figures = []
    for name, d in results["datasets"].items():
        if "runs" not in d:
            continue
        runs = {
            (lib, s): (
                d["runs"][lib][f"{s}-k{args.factors}-t0"]["times"],
                d["runs"][lib][f"{s}-k{args.factors}-t0"]["losses"],
            )
            for lib in harness.LIBRARIES
            for s in SOLVERS
        }
        title = f"{name}: training loss vs time (factors={args.factors})"
        figures.append(
            (title, plots.loss_vs_time(runs, plots_dir / f"loss_vs_time_{name}.png", title))
        )
    sweeps = results.get("sweeps") or {}
    if sweeps.get("factors_rows"):
        ds = sweeps["dataset"]
        title = f"{ds}: seconds per iteration vs factors ({sweeps['cores']} threads)"
        figures.append(
            (
                title,
                plots.seconds_vs_factors(
                    sweeps["factors_rows"], plots_dir / "seconds_vs_factors.png", title
                ),
            )
        )
    if sweeps.get("threads_rows"):
        ds = sweeps["dataset"]
        title = f"{ds}: speed vs threads (factors={args.factors})"
        figures.append(
            (
                title,
                plots.speed_vs_threads(
                    sweeps["threads_rows"], plots_dir / "speed_vs_threads.png", title
                ),
            )
        )
    return figures


def figure_lines(figures, out: Path, command: str) -> list[str]:
    lines = []
    for caption, path in figures:
        if isinstance(path, Path):
            rel = path.relative_to(out).as_posix()
            lines += [f"![{caption}]({rel})", "", f"*{caption}.* Command: {code(command)}", ""]
        else:
            lines += [f"*{caption}: {path}*", ""]
    return lines


def sweep_rows(results: dict, args) -> None:
    """Flatten the sweep fits into results["sweeps"]["factors_rows"] and ["threads_rows"]."""
    sweeps = results.get("sweeps") or {}
    if not sweeps:
        return
    rows_f, rows_t = [], []
    for lib, cfgs in sweeps["runs"].items():
        for key, r in cfgs.items():
            solver, k, t = key.split("-")
            k, t = int(k[1:]), int(t[1:])
            if t == 0:
                rows_f.append(dict(library=lib, solver=solver, factors=k, seconds=r["seconds"]))
            if k == args.factors:
                rows_t.append(
                    dict(
                        library=lib,
                        solver=solver,
                        threads=t or sweeps["cores"],
                        seconds=r["seconds"],
                    )
                )
    sweeps["factors_rows"], sweeps["threads_rows"] = rows_f, rows_t


def sweep_tables(results: dict, args) -> list[str]:
    """Markdown of the factors and threads sweeps (fastals, implicit and the ratio)."""
    sweeps = results.get("sweeps") or {}
    md = []
    for rows, axis, title in (
        (sweeps.get("factors_rows"), "factors", "Seconds per iteration vs factors"),
        (sweeps.get("threads_rows"), "threads", "Seconds per iteration vs threads"),
    ):
        if not rows:
            continue
        table = {}
        for r in rows:
            table.setdefault((r["solver"], r[axis]), {})[r["library"]] = r["seconds"]
        out = []
        for (solver, x), by_lib in sorted(table.items()):
            f, i = by_lib.get("fastals"), by_lib.get("implicit")
            ratio = f"{i / f:.2f}x" if f and i else "-"
            out.append([solver, x, harness.fmt_seconds(f), harness.fmt_seconds(i), ratio])
        md += [
            f"### {title} ({sweeps['dataset']})",
            "",
            harness.md_table(["solver", axis, "fastals", "implicit", "implicit / fastals"], out),
        ]
    if md:
        md.insert(
            0,
            f"Main fits reused where the setting matches; other points: median of "
            f"{args.sweep_iterations} iterations.\n",
        )
    return md


# ---------------------------------------------------------------- scaling


def scaling(args, out: Path, command: str) -> dict:
    plots_dir = out / "plots"
    results = {
        "command": command,
        "machine": harness.machine_info(),
        "generated": harness.now_utc(),
        "load_start": load_average(),
        "points": [],
        "notes": [],
        "args": vars(args),
    }
    with tempfile.TemporaryDirectory(prefix="compare_implicit-scaling-") as tmp:
        workdir = Path(tmp)
        configs = []
        for nnz in args.sizes:
            need = nnz * BYTES_PER_NNZ
            avail = harness.mem_available()
            if avail is not None and need > 0.8 * avail:
                results["notes"].append(
                    f"{nnz:,} stored entries skipped: a fit needs about "
                    f"{harness.fmt_bytes(need)}, more than 80% of the "
                    f"{harness.fmt_bytes(avail)} available"
                )
                log(results["notes"][-1])
                continue
            from fastals.data import kuairec_like

            scale = math.sqrt(nnz / KUAIREC_SHAPE["nnz"])
            shape = kuairec_shape(scale)
            shape["nnz"] = min(int(nnz), shape["n_users"] * shape["n_items"])
            t0 = time.perf_counter()
            matrix = kuairec_like(**shape, seed=SEED)
            path = workdir / f"scaling-{nnz}.npz"
            sp.save_npz(path, matrix, compressed=False)
            log(f"scaling: generated {matrix.nnz:,} entries in {time.perf_counter() - t0:.1f} s")
            results["points"].append(
                {
                    "target_nnz": int(nnz),
                    "nnz": int(matrix.nnz),
                    "shape": list(matrix.shape),
                    "generate_s": time.perf_counter() - t0,
                    "runs": {},
                }
            )
            del matrix
            for s in args.scaling_solvers:
                cfg = config(s, args.factors, 0, args.sweep_iterations)
                cfg.update(key=f"{nnz}-{cfg['key']}", matrix=str(path))
                configs.append(cfg)
        # one process per library for all sizes (smallest first); the peak RSS is reset
        # before each fit, so every fit's peak is its own
        for library in harness.LIBRARIES:
            log(f"scaling: {library} ({len(configs)} fits) ...")
            runs = run_child(library, None, configs, workdir)["configs"]
            for point in results["points"]:
                prefix = f"{point['target_nnz']}-"
                point["runs"][library] = {
                    k[len(prefix) :]: v for k, v in runs.items() if k.startswith(prefix)
                }
    if args.compile_time:
        log("compile time (cold and warm Numba cache) ...")
        proc = subprocess.run(
            [sys.executable, str(REPO_ROOT / "scripts" / "compile_time.py"), "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        results["compile_time"] = json.loads(proc.stdout.strip().splitlines()[-1])
    results["load_end"] = load_average()
    write_scaling(results, args, out, plots_dir, command)
    return results


def write_scaling(results, args, out: Path, plots_dir: Path, command: str) -> None:
    md = [
        "## Scaling with stored entries, and start-up cost (generated)",
        "",
        f"Generated {results['generated']} by {code(command)}; rewritten by that command.",
        "",
        load_line(results),
        f"`fastals.data.kuairec_like` at KuaiRec's density, both sides scaled by sqrt(nnz / "
        f"11.56M); factors={args.factors}, float32, all cores; median of "
        f"{args.sweep_iterations} callback timings per fit. Each library runs all sizes "
        "(smallest first) in a process of its own, the peak RSS reset before each fit.",
        "",
    ]
    rows, plot_rows = [], []
    for p in results["points"]:
        for s in args.scaling_solvers:
            key = f"{s}-k{args.factors}-t0"
            f, i = (p["runs"][lib][key] for lib in harness.LIBRARIES)
            rows.append(
                [
                    f"{p['nnz']:,}",
                    f"{p['shape'][0]:,} x {p['shape'][1]:,}",
                    s,
                    harness.fmt_seconds(f["seconds"]),
                    harness.fmt_seconds(i["seconds"]),
                    f"**{i['seconds'] / f['seconds']:.2f}x**",
                    harness.fmt_bytes(f["peak_rss"]),
                    harness.fmt_bytes(i["peak_rss"]),
                ]
            )
            for lib, r in zip(harness.LIBRARIES, (f, i), strict=True):
                plot_rows.append(dict(library=lib, solver=s, nnz=p["nnz"], seconds=r["seconds"]))
    md.append(
        harness.md_table(
            [
                "stored entries",
                "users x items",
                "solver",
                "fastals s/iteration",
                "implicit s/iteration",
                "implicit / fastals",
                "fastals peak RSS",
                "implicit peak RSS",
            ],
            rows,
        )
    )
    md += [f"- {n}" for n in results["notes"]] + ([""] if results["notes"] else [])
    figures = []
    if not plots.HAVE_MATPLOTLIB:
        figures.append(("figures", "not drawn: matplotlib is not installed"))
    elif plot_rows:
        title = f"seconds per iteration vs stored entries (factors={args.factors})"
        figures.append(
            (title, plots.seconds_vs_nnz(plot_rows, plots_dir / "scaling_nnz.png", title))
        )
    md += figure_lines(figures, out, command)
    if "compile_time" in results:
        c = results["compile_time"]
        md += [
            "### Start-up: JIT compile, cold vs warm Numba cache",
            "",
            "A fresh process imports fastals and fits a tiny matrix (CG and Cholesky, with "
            "the loss): nearly all of its time is compiling (cold, empty `NUMBA_CACHE_DIR`) "
            "or loading the cached kernels (warm, a second process).",
            "",
            harness.md_table(
                ["Numba cache", "import fastals", "first fit", "command"],
                [
                    [
                        "cold",
                        harness.fmt_seconds(c["cold_cache"]["import_s"]),
                        harness.fmt_seconds(c["cold_cache"]["first_fit_s"]),
                        code("python scripts/compile_time.py"),
                    ],
                    [
                        "warm",
                        harness.fmt_seconds(c["warm_cache"]["import_s"]),
                        harness.fmt_seconds(c["warm_cache"]["first_fit_s"]),
                        "same",
                    ],
                ],
            ),
        ]
    write_json(plots_dir / "scaling.json", results)
    harness.write_block(out / "RESULTS.md", SCALING_BLOCK, "\n".join(md))


# ---------------------------------------------------------------- cli


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def load_line(results: dict) -> str:
    """The machine's load around the run: other work on it shows up in the timings."""
    start, end = results.get("load_start"), results.get("load_end")
    if not start or not end:
        return ""
    fmt = lambda v: " / ".join(f"{x:.2f}" for x in v)  # noqa: E731
    return (
        f"Load average (1 / 5 / 15 min) at the start {fmt(start)}, at the end {fmt(end)} "
        f"({results['machine']['cores']} cores): anything else running shows in the timings.\n"
    )


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


def log(message: str) -> None:
    print(f"[compare_implicit] {message}", file=sys.stderr, flush=True)


def _ints(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small inputs and few iterations (seconds); defaults below change",
    )
    p.add_argument("--scale", type=float, help="kuairec_like scale per side (1.0; quick 0.05)")
    p.add_argument("--iterations", type=int, help="iterations of the main fits (15; quick 3)")
    p.add_argument(
        "--sweep-iterations",
        type=int,
        help="iterations per factors/threads/scaling fit (3; quick 2)",
    )
    p.add_argument("--factors", type=int, default=64, help="factors of the main fits (64)")
    p.add_argument(
        "--sweep-factors",
        type=_ints,
        default=[32, 64, 128],
        help="factors for the seconds-vs-factors figure (32,64,128)",
    )
    p.add_argument(
        "--threads",
        type=_ints,
        help="thread counts for the speed-vs-threads figure (1,2,4,.. up to cores)",
    )
    p.add_argument(
        "--datasets",
        type=lambda s: [x for x in s.split(",") if x],
        default=list(DATASETS),
        help=f"subset of {','.join(DATASETS)}",
    )
    p.add_argument(
        "--data-dir",
        default=str(harness.DEFAULT_DATA_DIR),
        help="folder holding ml-100k/ and hetrec2011-lastfm-2k/ (../shared/data)",
    )
    p.add_argument(
        "--out",
        default=str(REPO_ROOT / "benchmarks"),
        help="where RESULTS.md and plots/ go (benchmarks/)",
    )
    p.add_argument(
        "--scaling",
        action="store_true",
        help="run the scaling study (and compile time) instead of the comparison",
    )
    p.add_argument(
        "--sizes",
        type=_ints,
        help="stored entries for --scaling (1e6,2e6,5e6,10e6,20e6,50e6; quick small)",
    )
    p.add_argument("--scaling-solvers", type=lambda s: s.split(","), default=list(SOLVERS))
    p.add_argument(
        "--no-compile-time",
        dest="compile_time",
        action="store_false",
        help="with --scaling: skip the cold/warm compile-time measurement",
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    q = args.quick
    if args.scale is None:
        args.scale = 0.05 if q else 1.0
    if args.iterations is None:
        args.iterations = 3 if q else 15
    if args.sweep_iterations is None:
        args.sweep_iterations = 2 if q else 3
    if args.threads is None:
        cores = harness_threads()
        args.threads = sorted({t for t in (1, 2, 4, 8, 16, 32, 64) if t <= cores} | {cores})
    if args.sizes is None:
        args.sizes = (
            [20_000, 50_000]
            if q
            else [1_000_000, 2_000_000, 5_000_000, 10_000_000, 20_000_000, 50_000_000]
        )
    args.sizes = sorted(set(args.sizes))
    unknown = set(args.datasets) - set(DATASETS)
    if unknown:
        p.error(f"unknown datasets {sorted(unknown)}; choose from {', '.join(DATASETS)}")
    if not 0 < args.scale:
        p.error("--scale must be > 0")
    return args


def display_command(argv) -> str:
    return "python scripts/compare_implicit.py" + ("" if not argv else " " + shlex.join(argv))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.child:
        child_main(args.child)
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = display_command(argv)
    load = load_average()
    if load and load[0] > 0.5 * harness_threads():
        log(
            f"the machine is busy (load average {load[0]:.2f} on {harness_threads()} cores): "
            "timings will be noisy; the load is written beside the results"
        )
    if args.scaling:
        results = scaling(args, out, command)
        for p in results["points"]:
            for s in args.scaling_solvers:
                key = f"{s}-k{args.factors}-t0"
                f, i = (p["runs"][lib][key]["seconds"] for lib in harness.LIBRARIES)
                print(
                    f"nnz {p['nnz']:>11,} {s:>8}: fastals {f:.3f} s, implicit {i:.3f} s, "
                    f"{i / f:.2f}x"
                )
    else:
        results = main_comparison(args, out, command)
        for name, d in results["datasets"].items():
            if "runs" not in d:
                print(f"{name}: {d['description']}")
                continue
            for s in SOLVERS:
                key = f"{s}-k{args.factors}-t0"
                f, i = (d["runs"][lib][key]["seconds"] for lib in harness.LIBRARIES)
                print(
                    f"{name:>12} {s:>8}: fastals {f:.4f} s/it, implicit {i:.4f} s/it, "
                    f"{i / f:.2f}x; top-10 overlap {d['quality'][s]['overlap']:.3f}"
                )
    print(f"wrote {out / 'RESULTS.md'} and {out / 'plots'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
