"""fastals and implicit with and without a busy neighbour process, in one run (issue 17).

Usage: python scripts/busy_neighbour.py [--scale 1.0] [--repeats 3] [--tasks fit,recommend,similar]

For each task both libraries run idle, then with one other process spinning on one core (a
Python busy loop: a browser tab, a test runner, a CI neighbour), on the same input; each figure
is the median of ``--repeats`` timed runs after an untimed warm-up (JIT compile excluded),
implicit with 1 BLAS thread. Prints a markdown table: seconds, implicit / fastals, and each
library's busy / idle growth. Tasks:

- fit: 15 CG iterations, KuaiRec-shaped (``fastals.data.kuairec_like``, factors=50)
- recommend: every user's top 10, liked items filtered, on seeded random factors (factors=50)
- similar: every item's 10 most similar items, same factors
"""

import argparse
import statistics
import time

import numpy as np
from per_iteration import busy_neighbour
from threadpoolctl import threadpool_limits

from fastals import AlternatingLeastSquares
from fastals.data import kuairec_like

FACTORS = 50


def libraries():
    from implicit.cpu.als import AlternatingLeastSquares as ImplicitALS

    return {"fastals": AlternatingLeastSquares, "implicit": ImplicitALS}


def tasks(matrix):
    """name -> (setup(cls) -> state, run(state))."""
    rng = np.random.default_rng(0)
    users = rng.standard_normal((matrix.shape[0], FACTORS)).astype(np.float32)
    items = rng.standard_normal((matrix.shape[1], FACTORS)).astype(np.float32)

    def served(cls):
        model = cls(factors=FACTORS)
        model.user_factors, model.item_factors = users.copy(), items.copy()
        return model

    all_users, all_items = np.arange(matrix.shape[0]), np.arange(matrix.shape[1])
    return {
        "fit": (
            lambda cls: cls,
            lambda cls: cls(factors=FACTORS, regularization=0.1, iterations=15, random_state=0).fit(
                matrix, show_progress=False
            ),
        ),
        "recommend": (served, lambda m: m.recommend(all_users, matrix, N=10)),
        "similar": (served, lambda m: m.similar_items(all_items, N=10)),
    }


def seconds(run, state, repeats):
    run(state)  # warm-up: JIT compile, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(state)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(matrix, names, repeats):
    """{(task, library, busy): seconds}; idle and busy runs of a task follow each other."""
    out = {}
    chosen = {name: task for name, task in tasks(matrix).items() if name in names}
    with threadpool_limits(1, "blas"):
        for task, (setup, run) in chosen.items():
            states = {lib: setup(cls) for lib, cls in libraries().items()}
            for busy in (False, True):
                with busy_neighbour(busy):
                    for lib, state in states.items():
                        out[task, lib, busy] = seconds(run, state, repeats)
    return out


def table(results, names):
    lines = [
        "| task | fastals idle / busy (s) | implicit idle / busy (s) "
        "| implicit / fastals idle, busy | busy / idle: fastals, implicit |",
        "|---|---|---|---|---|",
    ]
    for task in names:
        f0, f1 = results[task, "fastals", False], results[task, "fastals", True]
        i0, i1 = results[task, "implicit", False], results[task, "implicit", True]
        lines.append(
            f"| {task} | {f0:.3f} / {f1:.3f} | {i0:.3f} / {i1:.3f} | {i0 / f0:.2f}x, "
            f"**{i1 / f1:.2f}x** | **{f1 / f0:.2f}x**, {i1 / i0:.2f}x |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="kuairec_like scale per side")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", default="fit,recommend,similar")
    args = parser.parse_args()
    names = args.tasks.split(",")
    s = args.scale
    matrix = kuairec_like(
        n_users=int(7176 * s), n_items=int(10728 * s), nnz=int(11_564_987 * s * s), seed=0
    )
    results = measure(matrix, names, args.repeats)
    print(f"matrix {matrix.shape[0]} x {matrix.shape[1]}, nnz {matrix.nnz}, factors {FACTORS}")
    print(table(results, names))


if __name__ == "__main__":
    main()
