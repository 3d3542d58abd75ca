"""Seconds per CG half-sweep, users and items, on the KuaiRec-shaped input (issue 17's target).

Usage: python scripts/half_sweep_times.py [--threads 2] [--factors 50] [--repeats 5]

Runs ``solvers.half_sweep`` on ``harness.data.kuairec_input()`` (confidences 1 or 41) from
seeded factors, one warm-up, then prints the min and median of ``--repeats`` timings per side.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from harness.data import kuairec_input  # noqa: E402

from fastals._threads import thread_scope  # noqa: E402
from fastals.solvers import SweepMatrix, half_sweep  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--factors", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    matrix = kuairec_input()
    users = SweepMatrix(matrix)
    items = users.transpose()
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((matrix.shape[0], args.factors)) * 0.01).astype(np.float32)
    Y = (rng.standard_normal((matrix.shape[1], args.factors)) * 0.01).astype(np.float32)
    times = {"users": [], "items": []}
    with thread_scope(args.threads):
        for repeat in range(args.repeats + 1):
            start = time.perf_counter()
            half_sweep(users, X, Y, 0.1)
            middle = time.perf_counter()
            half_sweep(items, Y, X, 0.1)
            end = time.perf_counter()
            if repeat:  # the first is a warm-up
                times["users"].append(middle - start)
                times["items"].append(end - middle)
    for side, seconds in times.items():
        print(f"{side}: min {min(seconds):.3f} s, median {np.median(seconds):.3f} s")


if __name__ == "__main__":
    main()
