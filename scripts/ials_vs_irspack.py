"""Seconds per epoch of fastals' iALS solvers against irspack 0.5.2's, same objective, same start.

    python scripts/ials_vs_irspack.py --factors 64 256 --solvers cg ials++ cholesky --rounds 2

On the KuaiRec-shaped matrix (``fastals.data.kuairec_like()``, every stored value set to 1:
Rendle et al.'s binary setting), lambda=0.003, nu=1, alpha0=0.1, iALS++ blocks of 64.
Each round starts both libraries from irspack's initial factors and runs one epoch each, in
turns (fastals first), so the two see the same machine state; fastals' seconds are its
callback's (the epoch's sweeps: the fit's one-off set-up, transposing and checking the
input, is printed apart). The factors after the epoch are compared (max |difference|):
same objective, same start, so they agree to float32 rounding. Prints a markdown table.
"""

import argparse
import time

import numpy as np

from fastals import iALS
from fastals.data import kuairec_like

SOLVERS = {"cholesky": "CHOLESKY", "cg": "CG", "ials++": "IALSPP"}


def one_round(W, k, solver, threads, block):
    from irspack.recommenders.ials import IALSTrainer, str_to_loss_type, str_to_solver_type

    trainer = IALSTrainer(W, k, 0.1, 0.003, 1.0, 0.1, str_to_solver_type(SOLVERS[solver]), 3,
                          block, str_to_loss_type("IALSPP"), 0, threads, 5, 7)  # fmt: skip
    X0, Y0 = trainer.core_trainer.user.copy(), trainer.core_trainer.item.copy()
    model = iALS(factors=k, regularization=0.003, regularization_exp=1.0, unobserved_weight=0.1,
                 iterations=1, solver=solver, block_size=block, num_threads=threads)  # fmt: skip
    model.user_factors, model.item_factors = X0, Y0
    epochs = []
    start = time.perf_counter()
    model.fit(W, show_progress=False, callback=lambda i, seconds, loss: epochs.append(seconds))
    whole = time.perf_counter() - start
    start = time.perf_counter()
    trainer.run_epoch()
    irspack_seconds = time.perf_counter() - start
    diff = float(np.abs(model.user_factors - trainer.core_trainer.user).max())
    return epochs[0], whole - epochs[0], irspack_seconds, diff


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=list(SOLVERS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--block-size", type=int, default=64)
    args = parser.parse_args()
    W = kuairec_like()
    W.data[:] = 1
    print(f"KuaiRec shape {W.shape}, {W.nnz} entries, {args.threads} threads")
    print("| solver | factors | fastals s/epoch | irspack s/epoch | irspack / fastals "
          "| fastals set-up s | max abs diff |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for k in args.factors:
        for solver in args.solvers:
            rounds = [one_round(W, k, solver, args.threads, min(args.block_size, k))
                      for _ in range(args.rounds)]  # fmt: skip
            ours, setup, theirs, diff = (float(np.median(c)) for c in zip(*rounds, strict=True))
            print(f"| {solver} | {k} | {ours:.3f} | {theirs:.3f} | **{theirs / ours:.2f}x** | "
                  f"{setup:.2f} | {diff:.1e} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
