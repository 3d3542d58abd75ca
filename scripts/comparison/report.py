"""The main comparison's generated block of RESULTS.md (and markdown shared with scaling).

``write_main`` puts the sections together in order; each section is a function returning
its markdown lines.
"""

from __future__ import annotations

from pathlib import Path

import plots
from harness.data import evaluation_module
from harness.models import LIBRARIES
from harness.report import fmt_bytes, fmt_seconds, machine_markdown, md_table, write_block

from .common import MAIN_BLOCK, METRICS, REGULARIZATION, SEED, SOLVERS, config_key, write_json


def write_main(results: dict, args, out: Path, plots_dir: Path, command: str) -> None:
    """Write the main block of ``out``/RESULTS.md and the raw results as JSON beside plots."""
    md = intro_lines(results, args, command) + dataset_lines(results)
    done = {n: d for n, d in results["datasets"].items() if "runs" in d}
    if done:
        md += seconds_lines(done, args)
        md += memory_lines(done, args)
        md += quality_lines(done)
        md += overlap_lines(done)
        md += loss_lines(done, args)
        sweep_rows(results, args)
        md += sweep_tables(results, args)
        md += ["### Figures", ""]
        md += figure_lines(make_main_plots(results, args, plots_dir), out, command)
    else:
        md += ["No dataset was available: nothing was measured.", ""]
    write_json(plots_dir / "compare_implicit.json", results)
    write_block(out / "RESULTS.md", MAIN_BLOCK, "\n".join(md))


def main_run(d: dict, library: str, solver: str, args) -> dict:
    """The main fit (all cores, ``args.factors``) of ``library`` on dataset entry ``d``."""
    return d["runs"][library][config_key(solver, args.factors)]


def main_seconds(d: dict, solver: str, args) -> tuple[float, float]:
    """(fastals, implicit) seconds per iteration of the main fits."""
    f, i = (main_run(d, lib, solver, args)["seconds"] for lib in LIBRARIES)
    return f, i


# ---------------------------------------------------------------- sections


def intro_lines(results: dict, args, command: str) -> list[str]:
    """Title, method, headline ratios, the machine and its load."""
    return [
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
        machine_markdown(results["machine"]),
        load_line(results),
    ]


def headline(results: dict, args) -> list[str]:
    """One line per dataset: the two solvers' ratios (implicit seconds / fastals seconds)."""
    lines = []
    for name, d in results["datasets"].items():
        if "runs" not in d:
            continue
        parts = []
        for s in SOLVERS:
            f, i = main_seconds(d, s, args)
            parts.append(f"{s} **{i / f:.2f}x**")
        lines.append(f"- {name} ({d['train_nnz']:,} train entries): " + ", ".join(parts))
    if not lines:
        return []
    return [
        "**Headline**: implicit seconds / fastals seconds per iteration "
        f"(factors={args.factors}; above 1 means fastals is faster):",
        "",
        *lines,
        "",
    ]


def dataset_lines(results: dict) -> list[str]:
    """The datasets table; a note for each dataset that was skipped."""
    md = ["### Datasets", ""]
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
            md_table(
                ["dataset", "users x items", "stored entries", "train", "test", "confidence"],
                rows,
            )
        )
    return md + notes + ([""] if notes else [])


def seconds_lines(done: dict, args) -> list[str]:
    rows = []
    for name, d in done.items():
        for s in SOLVERS:
            f, i = main_seconds(d, s, args)
            rows.append(
                [name, s, args.factors, fmt_seconds(f), fmt_seconds(i), f"**{i / f:.2f}x**"]
            )
    headers = ["dataset", "solver", "factors", "fastals", "implicit", "implicit / fastals"]
    return ["### Seconds per iteration", "", md_table(headers, rows)]


def memory_lines(done: dict, args) -> list[str]:
    md = [
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
            for lib in LIBRARIES:
                r = main_run(d, lib, s, args)
                cells += [fmt_bytes(r["peak_rss"]), fmt_bytes(r["peak_rss"] - r["rss_before"])]
            rows.append([name, s, *cells])
    headers = [
        "dataset",
        "solver",
        "fastals peak",
        "fastals increase",
        "implicit peak",
        "implicit increase",
    ]
    md.append(md_table(headers, rows))
    if not all(
        r.get("peak_reset", True)
        for d in done.values()
        for lib in d["runs"].values()
        for r in lib.values()
    ):
        md += ["Peak RSS could not be reset here: figures are peaks since process start.", ""]
    return md


def quality_lines(done: dict) -> list[str]:
    rows = []
    for name, d in done.items():
        for s in SOLVERS:
            for lib in LIBRARIES:
                m = d["quality"][s]["metrics"][lib]
                rows.append([name, s, lib, *(f"{m[k]:.4f}" for k in METRICS)])
    return [
        "### Ranking quality @10 on the held-out 20%",
        "",
        "`" + evaluation_module().__name__ + ".ranking_metrics_at_k` (K=10, train "
        "items filtered) on each library's own model.",
        "",
        md_table(["dataset", "solver", "library", *METRICS], rows),
    ]


def overlap_lines(done: dict) -> list[str]:
    rows = [
        [name, s, f"{d['quality'][s]['users']:,}", f"{d['quality'][s]['overlap']:.4f}"]
        for name, d in done.items()
        for s in SOLVERS
    ]
    return [
        "### Agreement of the two top-10 lists",
        "",
        "Mean over all users of |top-10 of fastals & top-10 of implicit| / 10 (train items "
        "filtered); 1.000 means identical lists.",
        "",
        md_table(["dataset", "solver", "users", "mean top-10 overlap"], rows),
    ]


def loss_lines(done: dict, args) -> list[str]:
    """One table per dataset: each (library, solver)'s training loss after each iteration."""
    md = [
        "### Training loss per iteration",
        "",
        "implicit's `calculate_loss` on each library's factors after each iteration.",
        "",
    ]
    keys = [(lib, s) for s in SOLVERS for lib in LIBRARIES]
    for name, d in done.items():
        losses = {k: main_run(d, k[0], k[1], args)["losses"] for k in keys}
        n_it = max(len(v) for v in losses.values())
        rows = [
            [it + 1, *(f"{losses[k][it]:.6f}" if it < len(losses[k]) else "-" for k in keys)]
            for it in range(n_it)
        ]
        md += [
            f"**{name}**",
            "",
            md_table(["iteration", *(f"{lib}-{s}" for lib, s in keys)], rows),
        ]
    return md


# ---------------------------------------------------------------- sweeps and figures


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
            out.append([solver, x, fmt_seconds(f), fmt_seconds(i), ratio])
        md += [
            f"### {title} ({sweeps['dataset']})",
            "",
            md_table(["solver", axis, "fastals", "implicit", "implicit / fastals"], out),
        ]
    if md:
        md.insert(
            0,
            f"Main fits reused where the setting matches; other points: median of "
            f"{args.sweep_iterations} iterations.\n",
        )
    return md


def make_main_plots(results, args, plots_dir: Path) -> list[tuple[str, Path | str]]:
    """[(caption, path or reason not drawn)]."""
    if not plots.HAVE_MATPLOTLIB:
        return [("figures", "not drawn: matplotlib is not installed (pip install matplotlib)")]
    figures = []
    for name, d in results["datasets"].items():
        if "runs" not in d:
            continue
        runs = {}
        for lib in LIBRARIES:
            for s in SOLVERS:
                r = main_run(d, lib, s, args)
                runs[lib, s] = (r["times"], r["losses"])
        title = f"{name}: training loss vs time (factors={args.factors})"
        figures.append(
            (title, plots.loss_vs_time(runs, plots_dir / f"loss_vs_time_{name}.png", title))
        )
    sweeps = results.get("sweeps") or {}
    if sweeps.get("factors_rows"):
        ds = sweeps["dataset"]
        title = f"{ds}: seconds per iteration vs factors ({sweeps['cores']} threads)"
        path = plots_dir / "seconds_vs_factors.png"
        figures.append((title, plots.seconds_vs_factors(sweeps["factors_rows"], path, title)))
    if sweeps.get("threads_rows"):
        ds = sweeps["dataset"]
        title = f"{ds}: speed vs threads (factors={args.factors})"
        path = plots_dir / "speed_vs_threads.png"
        figures.append((title, plots.speed_vs_threads(sweeps["threads_rows"], path, title)))
    return figures


# ---------------------------------------------------------------- shared with scaling


def code(command: str) -> str:
    return f"`{command}`"


def figure_lines(figures, out: Path, command: str) -> list[str]:
    lines = []
    for caption, path in figures:
        if isinstance(path, Path):
            rel = path.relative_to(out).as_posix()
            lines += [f"![{caption}]({rel})", "", f"*{caption}.* Command: {code(command)}", ""]
        else:
            lines += [f"*{caption}: {path}*", ""]
    return lines


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
