"""One harness for every solver: fastals' iALS solvers and implicit's objective (fastals' and,
when installed, implicit's own CG and Cholesky), timed per epoch on one split.

Each run records per epoch: the epoch's seconds (the solver's sweeps only, as the libraries'
callbacks time them), the cumulative seconds, the training objective (Rendle et al.'s for
iALS, implicit's normalised loss for implicit's objective), and Recall@20, Recall@50 and
NDCG@100 of the held-out users (``protocol``). Objective and metrics are computed between
epochs, outside the timing.
"""

import copy
import os
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from . import protocol, solvers
from ._validation import confidences
from .als import AlternatingLeastSquares
from .ials import iALS

IALS_SOLVERS = ("cholesky", "cg", "ials++", "cd")
IMPLICIT_SOLVERS = ("cg", "cholesky")
# irspack 0.5.2's solvers of the same objective (its IALSPP sweeps all users' blocks, then
# all items': fastals' block_order="sides")
IRSPACK_SOLVERS = {"cholesky": "CHOLESKY", "cg": "CG", "ials++": "IALSPP"}


def runs(libraries=("fastals", "implicit", "irspack"), ials_solvers=IALS_SOLVERS):
    """(library, objective, solver) triples to time: fastals' iALS solvers and irspack's
    (when installed), then implicit's objective solved by fastals and by implicit (when
    installed)."""
    out = [("fastals", "ials", s) for s in ials_solvers]
    if "irspack" in libraries and available("irspack"):
        out += [("irspack", "ials", s) for s in ials_solvers if s in IRSPACK_SOLVERS]
    for library in ("fastals", "implicit"):
        if library in libraries and (library == "fastals" or available("implicit")):
            out += [(library, "implicit", s) for s in IMPLICIT_SOLVERS]
    return out


def available(module):
    """Whether the optional reference library ``module`` imports."""
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def run(split, library, objective, solver, factors, epochs, settings, num_threads=0):
    """Fit one solver for ``epochs`` on ``split.train``; returns one record per epoch.

    ``settings``: {"ials": iALS keywords (regularization, regularization_exp,
    unobserved_weight, block_size, ...), "implicit": AlternatingLeastSquares keywords
    (regularization, alpha)}. Every library's factors are scored by fastals (objective,
    fold-in and ranking), so the numbers compare.
    """
    kwargs = dict(factors=factors, num_threads=num_threads, iterations=epochs, random_state=0)
    if objective == "ials":
        server = iALS(solver=solver, **kwargs, **settings["ials"])

        def value(X, Y):
            return server.objective(split.train)

    else:
        server = AlternatingLeastSquares(use_cg=solver == "cg", **kwargs, **settings["implicit"])
        Cui = confidences(split.train, server.alpha, np.dtype(np.float32))

        def value(X, Y):
            return solvers.training_loss(Cui, X, Y, server.regularization)

    records = []

    def record(epoch, seconds, X, Y):
        server.user_factors = np.ascontiguousarray(X)
        server.item_factors = np.ascontiguousarray(Y)
        server._YtY = server._XtX = server._user_norms = server._item_norms = None
        total = seconds + (records[-1]["cumulative_seconds"] if records else 0.0)
        records.append(
            dict(
                library=library,
                objective=objective,
                solver=solver,
                factors=factors,
                epoch=epoch,
                seconds=seconds,
                cumulative_seconds=total,
                training_objective=value(X, Y),
                **protocol.evaluate(server, split.validation),
            )
        )

    with threadpool_limits(limits=1, user_api="blas"):  # implicit's advice; fastals does it too
        if library == "irspack":
            _run_irspack(split.train, server, solver, epochs, num_threads, record)
            return records
        model = server  # fastals trains the model it scores
        if library == "fastals":  # compile (or load) the kernels outside the timing
            warm = copy.copy(server)
            warm.iterations = 1
            with warnings.catch_warnings():  # a 64-row slice may be over-parameterised
                warnings.simplefilter("ignore")
                warm.fit(split.train[: min(64, split.train.shape[0])], show_progress=False)
        if library == "implicit":
            from implicit.cpu.als import AlternatingLeastSquares as Implicit

            model = Implicit(use_cg=solver == "cg", **kwargs, **settings["implicit"])

        def callback(iteration, seconds, _loss):
            record(iteration + 1, seconds, model.user_factors, model.item_factors)

        model.fit(split.train, show_progress=False, callback=callback)
    return records


def _run_irspack(train, server, solver, epochs, num_threads, record):
    """irspack's trainer on the same objective (its reg is lambda as is: the factors match
    fastals' Cholesky and CG iterates from the same start to float32 rounding)."""
    from irspack.recommenders.ials import IALSTrainer, str_to_loss_type, str_to_solver_type

    trainer = IALSTrainer(
        train,
        server.factors,
        server.unobserved_weight,
        server.regularization,
        server.regularization_exp,
        server.init_stddev,
        str_to_solver_type(IRSPACK_SOLVERS[solver]),
        server.cg_steps,
        server.block_size,
        str_to_loss_type("IALSPP"),
        0,
        num_threads or os.cpu_count(),
        5,
        7,
    )
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        trainer.run_epoch()
        seconds = time.perf_counter() - start
        record(epoch, seconds, trainer.core_trainer.user, trainer.core_trainer.item)


def summary(records):
    """Per (library, objective, solver, factors): median seconds per epoch (first epoch left
    out when there are more: it may include set-up) and the last epoch's scores."""
    groups = {}
    for r in records:
        groups.setdefault((r["library"], r["objective"], r["solver"], r["factors"]), []).append(r)
    rows = []
    for key, group in groups.items():
        seconds = [r["seconds"] for r in group]
        steady = seconds[1:] if len(seconds) > 1 else seconds
        last = group[-1]
        rows.append(
            dict(
                zip(("library", "objective", "solver", "factors"), key, strict=True),
                seconds_per_epoch=float(np.median(steady)),
                epochs=len(group),
                **{k: last[k] for k in last if k.startswith(("recall", "ndcg"))},
                training_objective=last["training_objective"],
            )
        )
    return rows


def markdown(rows):
    """The summary as a markdown table."""
    head = (
        "library",
        "objective",
        "solver",
        "factors",
        "s/epoch",
        "epochs",
        "objective value",
        "Recall@20",
        "Recall@50",
        "NDCG@100",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        scores = [f"{r[key]:.4f}" for key in ("recall@20", "recall@50", "ndcg@100")]
        cells = (
            r["library"],
            r["objective"],
            r["solver"],
            r["factors"],
            f"{r['seconds_per_epoch']:.4f}",
            r["epochs"],
            f"{r['training_objective']:.6g}",
            *scores,
        )
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


def plot(records, out):
    """Figures in the folder ``out``: per factor count, the objectives and validation
    NDCG@100 against seconds; seconds per epoch against factors (iALS++'s figure 1).
    Returns the files written ([] without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    label = lambda r: f"{r['library']} {r['objective']} {r['solver']}"  # noqa: E731
    for factors in sorted({r["factors"] for r in records}):
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        groups = {}
        for r in records:
            if r["factors"] == factors:
                groups.setdefault(label(r), []).append(r)
        for name, group in groups.items():
            t = [r["cumulative_seconds"] for r in group]
            panel = 0 if group[0]["objective"] == "ials" else 1
            axes[panel].plot(t, [r["training_objective"] for r in group], marker=".", label=name)
            axes[2].plot(t, [r["ndcg@100"] for r in group], marker=".", label=name)
        titles = ("iALS objective", "implicit's objective (normalised)", "validation NDCG@100")
        for ax, title in zip(axes, titles, strict=True):
            ax.set_title(f"{title}, factors={factors}")
            ax.set_xlabel("seconds")
            ax.legend(fontsize=7)
        fig.tight_layout()
        written.append(out / f"solvers_k{factors}.png")
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    by_solver = {}
    for row in summary(records):
        by_solver.setdefault(label(row), []).append((row["factors"], row["seconds_per_epoch"]))
    for name, points in by_solver.items():
        points.sort()
        ax.plot(*zip(*points, strict=True), marker="o", label=name)
    ax.set(xscale="log", yscale="log", xlabel="factors", ylabel="seconds per epoch")
    ax.legend(fontsize=7)
    fig.tight_layout()
    written.append(out / "seconds_per_epoch.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    return written
