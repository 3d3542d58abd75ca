"""fastals and implicit with and without a busy neighbour process, in one run (issue 17).

Usage: python scripts/busy_neighbour.py [--inputs kuairec,lastfm] [--scale 1.0] [--repeats 3]
                                        [--tasks fit,recommend,similar] [--data-dir DIR]

For each input and task both libraries run idle, then with one other process spinning on one
core (a Python busy loop: a browser tab, a test runner, a CI neighbour), on the same input; each
figure is the median of ``--repeats`` timed runs after an untimed warm-up (JIT compile
excluded), implicit with 1 BLAS thread (``benchmarks/harness/busy.py``). Prints a markdown
table: seconds, implicit / fastals, and each library's busy / idle growth. Inputs:

- kuairec: ``fastals.data.kuairec_like`` (``--scale`` per side), factors=50
- lastfm: HetRec Last.fm 2K, values log1p(play count), factors=64 (skipped when absent)

``python scripts/compare_implicit.py --busy`` runs the same and writes it to RESULTS.md.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from harness import busy  # noqa: E402
from harness.data import DEFAULT_DATA_DIR  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", default=",".join(busy.INPUTS))
    parser.add_argument("--scale", type=float, default=1.0, help="kuairec_like scale per side")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", default=",".join(busy.TASKS))
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    args = parser.parse_args()
    chosen, notes = busy.inputs(args.inputs.split(","), args.scale, args.data_dir)
    for note in notes:
        print(note, file=sys.stderr)
    results = busy.measure(chosen, args.tasks.split(","), args.repeats)
    for label, (matrix, factors) in chosen.items():
        print(
            f"{label}: {matrix.shape[0]} x {matrix.shape[1]}, nnz {matrix.nnz}, factors {factors}"
        )
    print(busy.table(results))


if __name__ == "__main__":
    main()
