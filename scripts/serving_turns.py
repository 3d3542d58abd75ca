"""Serving calls timed with the libraries taking turns: fastals vs implicit, same factors.

Usage: python scripts/serving_turns.py [--rounds 11] [--calls recommend,similar]

Both models serve the same seeded random factors (factors=50, float32) for the
``fastals.data.kuairec_like`` shape; ``recommend`` is for every user (N=10, liked items
filtered), ``similar`` is ``similar_items`` for every item (N=10). Each round times one call
of each library back to back, so both see the same phases of a noisy machine; the ids of the
two libraries are checked equal first. Prints the median seconds and two ratios: of the
medians, and the median of the per-round ratios.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from harness.models import blas_scope, model_with_factors, random_factors  # noqa: E402

from fastals.data import kuairec_like  # noqa: E402

FACTORS = 50


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--calls", default="recommend,similar")
    args = parser.parse_args(argv)

    matrix = kuairec_like()
    n_users, n_items = matrix.shape
    factors = random_factors(matrix.shape, FACTORS)
    models = {lib: model_with_factors(lib, *factors) for lib in ("fastals", "implicit")}
    every_user, every_item = np.arange(n_users), np.arange(n_items)
    calls = {
        "recommend": lambda model: model.recommend(every_user, matrix, N=10),
        "similar": lambda model: model.similar_items(every_item, N=10),
    }
    for name in args.calls.split(","):
        call = calls[name]
        ids = {}
        for lib, model in models.items():  # the first call compiles / warms up
            with blas_scope(lib):
                ids[lib] = call(model)[0]
        times = {lib: [] for lib in models}
        for _ in range(args.rounds):
            for lib, model in models.items():
                with blas_scope(lib):
                    start = time.perf_counter()
                    call(model)
                    times[lib].append(time.perf_counter() - start)
        ours, theirs = times["fastals"], times["implicit"]
        per_round = [t / o for o, t in zip(ours, theirs, strict=True)]
        print(
            f"{name}: ids equal {np.array_equal(ids['fastals'], ids['implicit'])}; "
            f"median fastals {statistics.median(ours):.3f} s, "
            f"implicit {statistics.median(theirs):.3f} s; "
            f"ratio of medians {statistics.median(theirs) / statistics.median(ours):.2f}x, "
            f"median per-round ratio {statistics.median(per_round):.2f}x "
            f"({args.rounds} rounds)"
        )


if __name__ == "__main__":
    main()
