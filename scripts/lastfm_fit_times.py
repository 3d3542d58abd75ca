"""Wall seconds of whole 15-iteration fits on HetRec Last.fm 2K, idle or beside a busy process.

Usage: python scripts/lastfm_fit_times.py [--fits 5] [--busy] [--num-threads 0] [--implicit]
[--data-dir DIR]. Values are log1p(play counts) (``harness.busy.lastfm_input``); factors=64,
CG, float32, random_state=0. The first fit (JIT load) is left out. ``--implicit`` times
implicit 0.7.3's ALS instead (1 BLAS thread, no loss), the same way. Needs
hetrec2011-lastfm-2k/ under --data-dir (default: $FASTALS_DATA_DIR, else ../shared/data).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from harness.busy import busy_neighbour, lastfm_input  # noqa: E402
from harness.data import DEFAULT_DATA_DIR  # noqa: E402

from fastals import AlternatingLeastSquares  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--fits", type=int, default=5)
    parser.add_argument("--num-threads", type=int, default=0)
    parser.add_argument("--busy", action="store_true", help="one busy process alongside")
    parser.add_argument("--implicit", action="store_true", help="time implicit's ALS instead")
    args = parser.parse_args()
    matrix = lastfm_input(args.data_dir)
    if matrix is None:
        parser.error(f"no hetrec2011-lastfm-2k/ under {args.data_dir}")
    if args.implicit:
        from implicit.cpu.als import AlternatingLeastSquares as Model

        matrix, options, limits = matrix.astype(np.float32), {"calculate_training_loss": False}, 1
    else:
        Model, options, limits = AlternatingLeastSquares, {}, None
    seconds = []
    with busy_neighbour(args.busy), threadpool_limits(limits, "blas"):
        for _ in range(args.fits + 1):
            model = Model(
                factors=64, iterations=15, random_state=0, num_threads=args.num_threads, **options
            )
            start = time.perf_counter()
            model.fit(matrix, show_progress=False)
            seconds.append(time.perf_counter() - start)
    shown = ", ".join(f"{s:.3f}" for s in seconds[1:])
    who = "implicit" if args.implicit else "fastals"
    print(f"Last.fm 2K fits, {who}{' (busy neighbour)' if args.busy else ''}: {shown} s")


if __name__ == "__main__":
    main()
