"""PNG figures for ``scripts/compare_implicit.py`` (matplotlib, Agg backend, no display).

Every function takes plain lists/dicts of measured numbers, writes one PNG and returns its
path. ``HAVE_MATPLOTLIB`` is False when matplotlib is not installed (``pip install
matplotlib``, or the ``bench`` extra); callers then skip the figures and say so.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

# matplotlib is imported on the first figure only (it costs ~0.5 s to import)
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
plt = None

# one colour per library, one line style per solver, everywhere
COLOURS = {"fastals": "#1f77b4", "implicit": "#d62728"}
STYLES = {"cg": "-", "cholesky": "--"}
MARKERS = {"cg": "o", "cholesky": "s"}


def _require():
    global plt
    if not HAVE_MATPLOTLIB:
        raise RuntimeError("matplotlib is not installed: pip install matplotlib")
    if plt is None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot

        plt = matplotlib.pyplot


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _label(library: str, solver: str) -> str:
    return f"{library}-{'CG' if solver == 'cg' else 'Cholesky'}"


def loss_vs_time(
    runs: Mapping[tuple[str, str], tuple[Sequence[float], Sequence[float]]],
    path: Path,
    title: str,
) -> Path:
    """Training loss after each iteration against cumulative solver seconds.

    ``runs[(library, solver)] = (seconds_per_iteration, loss_per_iteration)``.
    """
    _require()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for (library, solver), (seconds, losses) in sorted(runs.items()):
        elapsed, total = [], 0.0
        for s in seconds:
            total += s
            elapsed.append(total)
        ax.plot(
            elapsed,
            losses,
            STYLES.get(solver, "-"),
            marker=MARKERS.get(solver, "o"),
            markersize=3,
            color=COLOURS.get(library),
            label=_label(library, solver),
        )
    ax.set_xlabel("wall-clock seconds of training (loss evaluation excluded)")
    ax.set_ylabel("training loss")
    return _finish(fig, ax, title, path)


def _plot_series(ax, series, transform=None):
    """One line per (library, solver): colour by library, line style and marker by solver."""
    for (library, solver), (xs, ys) in series.items():
        ax.plot(
            xs,
            transform(ys) if transform else ys,
            STYLES.get(solver, "-"),
            marker=MARKERS.get(solver, "o"),
            color=COLOURS.get(library),
            label=_label(library, solver),
        )


def _finish(fig, ax, title, path, grid_which="major"):
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which=grid_which)
    ax.legend(fontsize=8)
    return _save(fig, path)


def seconds_vs_factors(rows: Iterable[Mapping], path: Path, title: str) -> Path:
    """Seconds per iteration against factors, one line per (library, solver).

    ``rows``: dicts with library, solver, factors, seconds.
    """
    _require()
    series = _series(rows, "factors", "seconds")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    _plot_series(ax, series)
    xs_all = sorted({x for xs, _ in series.values() for x in xs})
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs_all, [str(x) for x in xs_all])
    ax.set_yscale("log")
    ax.set_xlabel("factors")
    ax.set_ylabel("seconds per iteration (median)")
    return _finish(fig, ax, title, path, grid_which="both")


def speed_vs_threads(rows: Iterable[Mapping], path: Path, title: str) -> Path:
    """Iterations per second against threads, one line per (library, solver).

    ``rows``: dicts with library, solver, threads, seconds (per iteration).
    """
    _require()
    series = _series(rows, "threads", "seconds")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    _plot_series(ax, series, transform=lambda ys: [1.0 / y for y in ys])
    xs_all = sorted({x for xs, _ in series.values() for x in xs})
    ax.set_xticks(xs_all, [str(x) for x in xs_all])
    ax.set_xlabel("threads")
    ax.set_ylabel("iterations per second")
    ax.set_ylim(bottom=0)
    return _finish(fig, ax, title, path)


def seconds_vs_nnz(rows: Iterable[Mapping], path: Path, title: str) -> Path:
    """Seconds per iteration against stored entries (log-log), one line per (library, solver).

    ``rows``: dicts with library, solver, nnz, seconds.
    """
    _require()
    series = _series(rows, "nnz", "seconds")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    _plot_series(ax, series)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("stored entries (nnz)")
    ax.set_ylabel("seconds per iteration (median)")
    return _finish(fig, ax, title, path, grid_which="both")


def _series(rows: Iterable[Mapping], x: str, y: str) -> dict:
    """{(library, solver): (sorted xs, ys)} from flat rows, skipping missing values."""
    out: dict = {}
    for row in rows:
        if row.get(y) is None:
            continue
        out.setdefault((row["library"], row["solver"]), []).append((row[x], row[y]))
    return {k: tuple(map(list, zip(*sorted(v), strict=True))) for k, v in sorted(out.items())}
