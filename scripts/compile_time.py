"""Measure fastals' start-up cost: import + first fit in a cold and a warm Numba cache.

Usage: python scripts/compile_time.py [--json]
Each figure is a fresh Python process fitting a tiny matrix (CG and Cholesky, float32,
with the loss) so that nearly all of its time is compiling or loading the kernels.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import time
t0 = time.perf_counter()
import numpy as np, scipy.sparse as sp
from fastals import AlternatingLeastSquares
t1 = time.perf_counter()
m = sp.random(50, 40, density=0.2, format="csr", random_state=0, dtype=np.float32)
for use_cg in (True, False):
    AlternatingLeastSquares(factors=8, iterations=1, use_cg=use_cg, calculate_training_loss=True
                            ).fit(m, show_progress=False)
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
"""


def run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    return {"import_s": float(out[0]), "first_fit_s": float(out[1])}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        result = {"cold_cache": run(cache), "warm_cache": run(cache)}
    if args.json:
        print(json.dumps(result))
    else:
        for name, r in result.items():
            print(
                f"{name:>10}: import {r['import_s']:.2f} s, first fit (CG + Cholesky + loss) "
                f"{r['first_fit_s']:.2f} s"
            )


if __name__ == "__main__":
    main()
