"""Scaling study: seconds per iteration and peak RSS vs stored entries (KuaiRec density),
and the start-up cost (JIT compile, cold vs warm Numba cache); its generated block."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import plots
import scipy.sparse as sp
from harness import REPO_ROOT, machine, memory
from harness.data import KUAIREC_SHAPE, kuairec_shape
from harness.models import LIBRARIES
from harness.report import fmt_bytes, fmt_seconds, md_table, write_block

from .child import run_child
from .common import (
    BYTES_PER_NNZ,
    POWER_LAW_PER_USER,
    SCALING_BLOCK,
    SEED,
    config,
    config_key,
    load_average,
    log,
    write_json,
)
from .report import code, figure_lines, load_line


def scaling(args, out: Path, command: str) -> dict:
    plots_dir = out / "plots"
    results = {
        "command": command,
        "machine": machine.machine_info(),
        "generated": machine.now_utc(),
        "load_start": load_average(),
        "points": [],
        "notes": [],
        "args": vars(args),
    }
    with tempfile.TemporaryDirectory(prefix="compare_implicit-scaling-") as tmp:
        workdir = Path(tmp)
        configs = []
        for nnz in args.sizes:
            path = workdir / f"scaling-{nnz}.npz"
            point = generate_point(nnz, path, results["notes"], args.scaling_input)
            if point is None:
                continue
            results["points"].append(point)
            for s in args.scaling_solvers:
                cfg = config(s, args.factors, 0, args.sweep_iterations)
                cfg.update(key=f"{nnz}-{cfg['key']}", matrix=str(path))
                configs.append(cfg)
        # one process per library for all sizes (smallest first); the peak RSS is reset
        # before each fit, so every fit's peak is its own
        for library in LIBRARIES:
            log(f"scaling: {library} ({len(configs)} fits) ...")
            runs = run_child(library, None, configs, workdir)["configs"]
            for point in results["points"]:
                prefix = f"{point['target_nnz']}-"
                point["runs"][library] = {
                    k[len(prefix) :]: v for k, v in runs.items() if k.startswith(prefix)
                }
    if args.compile_time:
        log("compile time (cold and warm Numba cache) ...")
        results["compile_time"] = compile_time()
    results["load_end"] = load_average()
    write_scaling(results, args, out, plots_dir, command)
    return results


def generate_point(nnz: int, path: Path, notes: list[str], family: str) -> dict | None:
    """A matrix of about ``nnz`` entries saved to ``path`` (``family`` "kuairec":
    ``kuairec_like`` at KuaiRec's density; "power-law": ``power_law``, POWER_LAW_PER_USER
    entries per user, ten users per item); None (and a note) where a fit of that size
    would not fit in the memory available."""
    need = nnz * BYTES_PER_NNZ
    avail = memory.mem_available()
    if avail is not None and need > 0.8 * avail:
        notes.append(
            f"{nnz:,} stored entries skipped: a fit needs about "
            f"{fmt_bytes(need)}, more than 80% of the "
            f"{fmt_bytes(avail)} available"
        )
        log(notes[-1])
        return None
    from fastals.data import kuairec_like, power_law

    t0 = time.perf_counter()
    if family == "power-law":
        n_users = max(1, int(nnz) // POWER_LAW_PER_USER)
        n_items = max(n_users // 10, 2 * POWER_LAW_PER_USER)  # room for the rows' tails
        matrix = power_law(n_users, n_items, int(nnz), seed=SEED)
    else:
        shape = kuairec_shape(math.sqrt(nnz / KUAIREC_SHAPE["nnz"]))
        shape["nnz"] = min(int(nnz), shape["n_users"] * shape["n_items"])
        matrix = kuairec_like(**shape, seed=SEED)
    sp.save_npz(path, matrix, compressed=False)
    log(f"scaling: generated {matrix.nnz:,} entries in {time.perf_counter() - t0:.1f} s")
    return {
        "target_nnz": int(nnz),
        "nnz": int(matrix.nnz),
        "shape": list(matrix.shape),
        "generate_s": time.perf_counter() - t0,
        "runs": {},
    }


def compile_time() -> dict:
    """``scripts/compile_time.py --json``: import and first fit, cold and warm Numba cache."""
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "compile_time.py"), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- markdown


def write_scaling(results, args, out: Path, plots_dir: Path, command: str) -> None:
    """Write the scaling block of ``out``/RESULTS.md and the raw results as JSON."""
    md = [
        HEADINGS[args.scaling_input],
        "",
        f"Generated {results['generated']} by {code(command)}; rewritten by that command.",
        "",
        load_line(results),
        INPUT_LINES[args.scaling_input] + f" factors={args.factors}, float32, all cores; median of "
        f"{args.sweep_iterations} callback timings per fit. Each library runs all sizes "
        "(smallest first) in a process of its own, the peak RSS reset before each fit.",
        "",
    ]
    table, plot_rows = scaling_rows(results, args)
    md.append(table)
    md += [f"- {n}" for n in results["notes"]] + ([""] if results["notes"] else [])
    figures = []
    tag = "" if args.scaling_input == "kuairec" else "_" + args.scaling_input.replace("-", "_")
    if not plots.HAVE_MATPLOTLIB:
        figures.append(("figures", "not drawn: matplotlib is not installed"))
    elif plot_rows:
        title = f"seconds per iteration vs stored entries (factors={args.factors})"
        if tag:
            title = title[:-1] + f", {tag[1:]} input)"
        png = plots_dir / f"scaling_nnz{tag}.png"
        figures.append((title, plots.seconds_vs_nnz(plot_rows, png, title)))
    md += figure_lines(figures, out, command)
    if "compile_time" in results:
        md += compile_time_lines(results["compile_time"])
    write_json(plots_dir / f"scaling{tag}.json", results)
    block = SCALING_BLOCK + ("" if not tag else "-" + args.scaling_input)
    write_block(out / "RESULTS.md", block, "\n".join(md))


HEADINGS = {
    "kuairec": "## Scaling with stored entries, and start-up cost (generated)",
    "power-law": "## Hundreds of millions of entries on one machine (generated)",
}
INPUT_LINES = {
    "kuairec": "`fastals.data.kuairec_like` at KuaiRec's density, both sides scaled by "
    "sqrt(nnz / 11.56M);",
    "power-law": f"`fastals.data.power_law`: {POWER_LAW_PER_USER} entries per user on average "
    "(a Pareto tail), ten users per item (at least 200 items), item popularity rank^-0.8, "
    "counts as values (half of them 1);",
}


def scaling_rows(results, args) -> tuple[str, list[dict]]:
    """(markdown table of every size and solver, rows for the figure)."""
    rows, plot_rows = [], []
    for p in results["points"]:
        for s in args.scaling_solvers:
            key = config_key(s, args.factors)
            f, i = (p["runs"][lib][key] for lib in LIBRARIES)
            rows.append(
                [
                    f"{p['nnz']:,}",
                    f"{p['shape'][0]:,} x {p['shape'][1]:,}",
                    s,
                    fmt_seconds(f["seconds"]),
                    fmt_seconds(i["seconds"]),
                    f"**{i['seconds'] / f['seconds']:.2f}x**",
                    fmt_bytes(f["peak_rss"]),
                    fmt_bytes(i["peak_rss"]),
                ]
            )
            for lib, r in zip(LIBRARIES, (f, i), strict=True):
                plot_rows.append(dict(library=lib, solver=s, nnz=p["nnz"], seconds=r["seconds"]))
    headers = [
        "stored entries",
        "users x items",
        "solver",
        "fastals s/iteration",
        "implicit s/iteration",
        "implicit / fastals",
        "fastals peak RSS",
        "implicit peak RSS",
    ]
    return md_table(headers, rows), plot_rows


def compile_time_lines(c: dict) -> list[str]:
    rows = [
        [
            "cold",
            fmt_seconds(c["cold_cache"]["import_s"]),
            fmt_seconds(c["cold_cache"]["first_fit_s"]),
            code("python scripts/compile_time.py"),
        ],
        [
            "warm",
            fmt_seconds(c["warm_cache"]["import_s"]),
            fmt_seconds(c["warm_cache"]["first_fit_s"]),
            "same",
        ],
    ]
    return [
        "### Start-up: JIT compile, cold vs warm Numba cache",
        "",
        "A fresh process imports fastals and fits a tiny matrix (CG and Cholesky, with "
        "the loss): nearly all of its time is compiling (cold, empty `NUMBA_CACHE_DIR`) "
        "or loading the cached kernels (warm, a second process).",
        "",
        md_table(["Numba cache", "import fastals", "first fit", "command"], rows),
    ]
