"""One harness for every solver: fastals' iALS solvers and implicit's objective (fastals' and,
when installed, implicit's own CG and Cholesky), timed per epoch on one split.

Each run records per epoch: the epoch's seconds (the solver's sweeps only, as the libraries'
callbacks time them), the cumulative seconds, the training objective (Rendle et al.'s for
iALS, implicit's normalised loss for implicit's objective), and Recall@20, Recall@50 and
NDCG@100 of the held-out users (``protocol``). Objective and metrics are computed between
epochs, outside the timing.
"""

import time

import numpy as np
from threadpoolctl import threadpool_limits

from . import protocol, solvers
from ._validation import confidences
from .als import AlternatingLeastSquares
from .ials import iALS

IALS_SOLVERS = ("cholesky", "cg", "ials++", "cd")
IMPLICIT_SOLVERS = ("cg", "cholesky")


def runs(libraries=("fastals", "implicit"), ials_solvers=IALS_SOLVERS):
    """(library, objective, solver) triples to time: fastals' iALS solvers, then implicit's
    objective solved by fastals and by implicit (skipped when not installed)."""
    out = [("fastals", "ials", s) for s in ials_solvers]
    for library in libraries:
        if library == "implicit" and not implicit_available():
            continue
        out += [(library, "implicit", s) for s in IMPLICIT_SOLVERS]
    return out


def implicit_available():
    try:
        import implicit.cpu.als  # noqa: F401
    except ImportError:
        return False
    return True


def run(split, library, objective, solver, factors, epochs, settings, num_threads=0):
    """Fit one solver for ``epochs`` on ``split.train``; returns one record per epoch.

    ``settings``: {"ials": iALS keywords (regularization, unobserved_weight, ...),
    "implicit": AlternatingLeastSquares keywords (regularization, alpha)}.
    """
    train = split.train
    records = []
    if objective == "ials":
        model = iALS(factors=factors, solver=solver, iterations=epochs, num_threads=num_threads,
                     random_state=0, **settings["ials"])  # fmt: skip

        def score():
            return model.objective(train), protocol.evaluate(model, split.validation)

    else:
        model = _implicit_objective_model(library, factors, solver, epochs, settings, num_threads)
        server = AlternatingLeastSquares(factors=factors, num_threads=num_threads,
                                         **settings["implicit"])  # fmt: skip
        Cui = confidences(train, server.alpha, np.dtype(np.float32))

        def score():
            server.user_factors = np.ascontiguousarray(model.user_factors)
            server.item_factors = np.ascontiguousarray(model.item_factors)
            server._YtY = server._XtX = None
            loss = solvers.training_loss(Cui, server.user_factors, server.item_factors,
                                         server.regularization)  # fmt: skip
            return loss, protocol.evaluate(server, split.validation)

    total = [0.0]

    def callback(iteration, seconds, _loss):
        total[0] += seconds
        value, metrics = score()
        records.append(dict(library=library, objective=objective, solver=solver,
                            factors=factors, epoch=iteration + 1, seconds=seconds,
                            cumulative_seconds=total[0], training_objective=value,
                            **metrics))  # fmt: skip

    started = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):  # implicit's advice; fastals does it too
        model.fit(train, show_progress=False, callback=callback)
    if not records:
        raise RuntimeError(f"{library} {solver}: no epoch ran in {time.perf_counter() - started}s")
    return records


def _implicit_objective_model(library, factors, solver, epochs, settings, num_threads):
    if library == "implicit":
        from implicit.cpu.als import AlternatingLeastSquares as Reference
    else:
        Reference = AlternatingLeastSquares
    with threadpool_limits(limits=1, user_api="blas"):  # implicit checks BLAS when created
        return Reference(factors=factors, use_cg=solver == "cg", iterations=epochs,
                         num_threads=num_threads, random_state=0,
                         **settings["implicit"])  # fmt: skip


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
        rows.append(dict(zip(("library", "objective", "solver", "factors"), key, strict=True),
                         seconds_per_epoch=float(np.median(steady)), epochs=len(group),
                         **{k: last[k] for k in last if k.startswith(("recall", "ndcg"))},
                         training_objective=last["training_objective"]))  # fmt: skip
    return rows


def markdown(rows):
    """The summary as a markdown table."""
    head = ("library", "objective", "solver", "factors", "s/epoch", "epochs", "objective value",
            "Recall@20", "Recall@50", "NDCG@100")  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        scores = [f"{r[key]:.4f}" for key in ("recall@20", "recall@50", "ndcg@100")]
        cells = (r["library"], r["objective"], r["solver"], r["factors"],
                 f"{r['seconds_per_epoch']:.4f}", r["epochs"], f"{r['training_objective']:.6g}",
                 *scores)  # fmt: skip
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)
