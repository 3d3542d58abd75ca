"""iALS Cholesky with and without the Woodbury path for short rows (nu = 0), one process.

    python scripts/ials_woodbury.py [--factors 64 128] [--rounds 2] [--users 200000]

Input: ``fastals.data.power_law(users, users // 10, 10 * users)`` (200,000 users by default)
with every weight 1 (about ten entries per user, a hundred per item),
iALS(regularization_exp=0, solver="cholesky"), float32, 3 epochs from the same seed, all
cores. "plain" forces every row through its own
factorisation (``ials_sweeps.takes_low_rank`` patched to False). Prints seconds per epoch
(median of the callback's, then of ``--rounds``) and the largest difference of the user
factors after the three epochs.
"""

import argparse
import statistics

import numpy as np

from fastals import iALS, ials_sweeps
from fastals.data import power_law


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--users", type=int, default=200_000)
    args = parser.parse_args()
    W = power_law(args.users, args.users // 10, 10 * args.users, seed=0)
    W.data[:] = 1
    real = ials_sweeps.takes_low_rank
    seconds, factors = {}, {}
    for _ in range(args.rounds):
        for name in ("woodbury", "plain"):
            ials_sweeps.takes_low_rank = real if name == "woodbury" else (lambda *a: False)
            for k in args.factors:
                params = dict(factors=k, regularization_exp=0.0, solver="cholesky")
                iALS(**params, iterations=1).fit(W[:300], show_progress=False)  # compile
                times = []
                model = iALS(**params, iterations=3, random_state=0)
                model.fit(W, show_progress=False, callback=lambda i, e, loss, t=times: t.append(e))
                seconds.setdefault((k, name), []).append(statistics.median(times))
                factors[(k, name)] = model.user_factors
    ials_sweeps.takes_low_rank = real
    print("| factors | Woodbury s/epoch | plain s/epoch | plain / Woodbury | max abs diff |")
    print("|---|---|---|---|---|")
    for k in args.factors:
        w, p = (statistics.median(seconds[(k, n)]) for n in ("woodbury", "plain"))
        diff = np.abs(factors[(k, "woodbury")] - factors[(k, "plain")]).max()
        print(f"| {k} | {w:.3f} | {p:.3f} | **{p / w:.2f}x** | {diff:.1e} |")


if __name__ == "__main__":
    main()
