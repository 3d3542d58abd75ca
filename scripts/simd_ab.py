"""The SIMD layer's gathered rows on and off: ``rows.weighted_pass`` timed in child processes
that take turns (one with the IR, one with the loops), and the ratio.

Usage: python scripts/simd_ab.py [--factors 64 128] [--rounds 4] [--force] [--fit]
Rows of 800 all-weighted entries (the all-weighted input's long rows) against Y of 5,364 rows
(its item side at scale 0.5: 1.4 MB at k = 64), both halves of a CG step (residual and A_u p);
with ``--fit``, whole CG fits instead: ``per_iteration.py --uniform-values --scale 0.5``'s
input, 3 iterations, the median seconds per iteration (ratios printed per entry alike).
Off is ``FASTALS_SIMD=0``. ``--force`` compiles the 512-bit IR where the CPU has no AVX-512
(LLVM then lowers each <16 x float> to two 256-bit halves): a different question, whether it
would pay on such a CPU. Each child has a fresh Numba cache (the cache does not know the switch).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import sys, time
import numpy as np
from fastals._kernels.simd import gathered, switch
if sys.argv[2] == "force":
    gathered.WIDE = True  # read when the kernel compiles
from fastals._kernels.rows import weighted_pass
k = int(sys.argv[1])
if sys.argv[3] == "fit":
    from fastals import AlternatingLeastSquares
    from fastals.data import kuairec_like
    m = kuairec_like(n_users=3588, n_items=5364, nnz=2_891_246, seed=0)
    m.data = np.random.default_rng(0).uniform(0.5, 5.0, m.nnz).astype(np.float32)
    fit = lambda n, cb=None: AlternatingLeastSquares(
        factors=k, iterations=n, use_cg=True, random_state=0, regularization=0.1
    ).fit(m, show_progress=False, callback=cb)
    fit(1)
    times = []
    fit(3, lambda it, elapsed, loss: times.append(elapsed))
    print(sorted(times)[1], int(switch.ENABLED and gathered.WIDE))
    sys.exit()
rng = np.random.default_rng(0)
Y = rng.standard_normal((5364, k)).astype(np.float32)
rows = [np.sort(rng.choice(5364, 800, replace=False)).astype(np.int32) for _ in range(64)]
data = rng.uniform(0.5, 5, 800).astype(np.float32)
v, out, one = np.ones(k, np.float32), np.zeros(k, np.float32), np.float32(1)
def sweep():
    for indices in rows:
        weighted_pass(indices, data, 0, 800, Y, v, out, -one, True, one)
        weighted_pass(indices, data, 0, 800, Y, v, out, one, False, one)
sweep()
times = []
for _ in range(15):
    t = time.perf_counter(); sweep(); times.append(time.perf_counter() - t)
ns = min(times) / (64 * 2 * 800) * 1e9
print(ns, int(switch.ENABLED and gathered.WIDE))
"""


def run(k, on, force, fit):
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, FASTALS_SIMD="1" if on else "0")
        mode = ["force" if force and on else "-", "fit" if fit else "-"]
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(k), *mode],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    ns, ir = done.stdout.split()
    return float(ns), ir == "1"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--fit", action="store_true")
    args = parser.parse_args()
    for k in args.factors:
        ratios = []
        for r in range(args.rounds):
            order = (True, False) if r % 2 == 0 else (False, True)
            got = {on: run(k, on, args.force, args.fit) for on in order}
            (ns_on, ir), (ns_off, _) = got[True], got[False]
            ratios.append(ns_off / ns_on)
            unit = "s per iteration" if args.fit else "ns per entry"
            print(f"k={k} round {r}: on {ns_on:.3g} {unit} (IR {'used' if ir else 'NOT used'})"
                  f", off {ns_off:.3g}, off/on {ns_off / ns_on:.3f}")  # fmt: skip
        print(f"k={k}: off/on median {statistics.median(ratios):.3f}, "
              f"range {min(ratios):.3f}-{max(ratios):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
