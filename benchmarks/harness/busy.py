"""Both libraries idle and beside a busy process (issue 17): the neighbour, the tasks, the table.

A busy neighbour is a second Python process spinning on one core (a browser tab, a test
runner, a CI neighbour) for as long as the ``with`` block runs. ``measure`` times every task of
every input for both libraries, idle and then busy, on the same matrix and factors, each figure
the median of ``repeats`` timed runs after an untimed warm-up (JIT compile excluded), implicit
with 1 BLAS thread.

Tasks: ``fit`` (15 CG iterations from the same seed), ``recommend`` (every user's top 10, liked
items filtered) and ``similar`` (every item's 10 most similar items), both on seeded random
factors.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from .data import DEFAULT_DATA_DIR, LASTFM_FILE, build_matrix, kuairec_input, load_lastfm
from .models import LIBRARIES, model_class, random_factors

TASKS = ("fit", "recommend", "similar")
INPUTS = ("kuairec", "lastfm")


@contextmanager
def busy_neighbour(enabled: bool = True):
    """A second process spinning on one core for the duration (nothing when not ``enabled``)."""
    if not enabled:
        yield
        return
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        process.kill()
        process.wait()


def lastfm_input(data_dir=DEFAULT_DATA_DIR):
    """HetRec Last.fm 2K, values log1p(play count), or None where the data is absent."""
    if not (data_dir / LASTFM_FILE).exists():
        return None
    plays = load_lastfm(data_dir)
    return build_matrix(plays, weight=np.log1p(plays["weight"].to_numpy()))


def inputs(names=INPUTS, scale: float = 1.0, data_dir=DEFAULT_DATA_DIR) -> tuple[dict, list]:
    """({label: (matrix, factors)} of the inputs ``names`` that are present, notes on the rest):
    "kuairec" (``kuairec_input(scale)``, factors=50), "lastfm" (``lastfm_input``, factors=64)."""
    out, notes = {}, []
    if "kuairec" in names:
        out["KuaiRec shape"] = (kuairec_input(scale), 50)
    if "lastfm" in names:
        matrix = lastfm_input(Path(data_dir))
        if matrix is None:
            notes.append(f"HetRec Last.fm 2K skipped: not found under {data_dir}")
        else:
            out["Last.fm 2K"] = (matrix, 64)
    return out, notes


def tasks(matrix, factors: int) -> dict:
    """name -> (setup(cls) -> state, run(state))."""
    users, items = random_factors(matrix.shape, factors)

    def served(cls):
        model = cls(factors=factors)
        model.user_factors, model.item_factors = users.copy(), items.copy()
        return model

    all_users, all_items = np.arange(matrix.shape[0]), np.arange(matrix.shape[1])

    def fit(cls):
        model = cls(factors=factors, regularization=0.1, iterations=15, random_state=0)
        model.fit(matrix, show_progress=False)

    return {
        "fit": (lambda cls: cls, fit),
        "recommend": (served, lambda m: m.recommend(all_users, matrix, N=10)),
        "similar": (served, lambda m: m.similar_items(all_items, N=10)),
    }


def seconds(run, state, repeats: int) -> float:
    run(state)  # warm-up: JIT compile, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(state)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(inputs: dict, names, repeats: int) -> dict:
    """{(input, task, library, busy): seconds} for ``inputs`` = {name: (matrix, factors)};
    the idle and busy runs of a task follow each other, the libraries taking turns."""
    out = {}
    with threadpool_limits(1, "blas"):
        for label, (matrix, factors) in inputs.items():
            for task, (setup, run) in tasks(matrix, factors).items():
                if task not in names:
                    continue
                states = {lib: setup(model_class(lib)) for lib in LIBRARIES}
                for busy in (False, True):
                    with busy_neighbour(busy):
                        for lib, state in states.items():
                            out[label, task, lib, busy] = seconds(run, state, repeats)
    return out


def table(results: dict) -> str:
    """Markdown: seconds idle / busy per library, implicit / fastals, and busy / idle growth."""
    lines = [
        "| input | task | fastals idle / busy (s) | implicit idle / busy (s) "
        "| implicit / fastals idle, busy | busy / idle: fastals, implicit |",
        "|---|---|---|---|---|---|",
    ]
    cases = dict.fromkeys((label, task) for label, task, _, _ in results)
    for label, task in cases:
        f0, f1 = results[label, task, "fastals", False], results[label, task, "fastals", True]
        i0, i1 = results[label, task, "implicit", False], results[label, task, "implicit", True]
        lines.append(
            f"| {label} | {task} | {f0:.3f} / {f1:.3f} | {i0:.3f} / {i1:.3f} "
            f"| {i0 / f0:.2f}x, **{i1 / f1:.2f}x** | **{f1 / f0:.2f}x**, {i1 / i0:.2f}x |"
        )
    return "\n".join(lines)
