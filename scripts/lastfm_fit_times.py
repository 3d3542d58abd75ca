"""Wall seconds of whole 15-iteration fits on HetRec Last.fm 2K, idle or beside a busy process.

Usage: python scripts/lastfm_fit_times.py [--fits 5] [--busy] [--num-threads 0]
Values are log1p(play counts); factors=64, CG, float32, random_state=0. The first fit (JIT
load) is left out. Needs ../shared/data/hetrec2011-lastfm-2k (or --data DIR).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from harness.busy import busy_neighbour  # noqa: E402

from fastals import AlternatingLeastSquares  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hetrec2011-lastfm-2k"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--fits", type=int, default=5)
    parser.add_argument("--num-threads", type=int, default=0)
    parser.add_argument("--busy", action="store_true", help="one busy process alongside")
    args = parser.parse_args()
    plays = pd.read_csv(args.data / "user_artists.dat", sep="\t")
    users, items = pd.factorize(plays.userID)[0], pd.factorize(plays.artistID)[0]
    matrix = sp.csr_matrix((np.log1p(plays.weight.to_numpy()).astype(np.float32), (users, items)))
    seconds = []
    with busy_neighbour(args.busy):
        for _ in range(args.fits + 1):
            model = AlternatingLeastSquares(
                factors=64, iterations=15, random_state=0, num_threads=args.num_threads
            )
            start = time.perf_counter()
            model.fit(matrix, show_progress=False)
            seconds.append(time.perf_counter() - start)
    shown = ", ".join(f"{s:.3f}" for s in seconds[1:])
    print(f"Last.fm 2K fits{' (busy neighbour)' if args.busy else ''}: {shown} s")


if __name__ == "__main__":
    main()
