"""The two libraries side by side: model classes, BLAS scoping, seeded factors, one ALS
iteration without per-fit set-up, and the pytest-benchmark timer."""

from __future__ import annotations

import contextlib

import numpy as np
import scipy.sparse as sp

from .data import canonical

LIBRARIES = ("fastals", "implicit")


def model_class(library: str):
    """``AlternatingLeastSquares`` of fastals or of implicit's CPU build."""
    if library == "fastals":
        from fastals import AlternatingLeastSquares
    elif library == "implicit":
        from implicit.cpu.als import AlternatingLeastSquares
    else:
        raise ValueError(f"library must be one of {LIBRARIES}, got {library!r}")
    return AlternatingLeastSquares


def blas_scope(library: str):
    """implicit wants single-threaded BLAS (it warns otherwise); fastals scopes its own."""
    if library == "implicit":
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=1, user_api="blas")
    return contextlib.nullcontext()


def random_factors(shape, factors: int = 50):
    """Seeded float32 standard-normal (user, item) factors for a (users, items) ``shape``,
    the factors both libraries serve in the serving benchmarks."""
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((shape[0], factors)).astype(np.float32),
        rng.standard_normal((shape[1], factors)).astype(np.float32),
    )


def model_with_factors(library: str, user_factors: np.ndarray, item_factors: np.ndarray):
    """A model of ``library`` serving the given factors (as if fitted)."""
    with blas_scope(library):  # implicit checks the BLAS threads when it is constructed
        model = model_class(library)(factors=user_factors.shape[1], dtype=user_factors.dtype)
    model.user_factors = np.ascontiguousarray(user_factors)
    model.item_factors = np.ascontiguousarray(item_factors)
    return model


class AlsIteration:
    """One ALS iteration (users half-sweep, then items) with the per-fit set-up done already.

    What ``fit`` does once (validation, confidences, transpose; fastals' row reordering) runs
    in ``__init__``; ``run()`` is what both libraries time per iteration in their callbacks.
    fastals runs under its own thread scope (Numba threads, BLAS at 1); implicit's kernels get
    ``num_threads`` directly. ``run`` updates the factors in place (a warm start, as in fit).
    """

    def __init__(
        self,
        library: str,
        user_items: sp.csr_matrix,
        factors: int,
        solver: str,
        regularization: float = 0.1,
        num_threads: int = 0,
        seed: int = 0,
    ):
        self.library = library
        model = model_class(library)(
            factors=factors,
            regularization=regularization,
            use_cg=solver == "cg",
            num_threads=num_threads,
            random_state=seed,
            iterations=1,
            dtype=np.float32,
        )
        rng = np.random.default_rng(seed)
        n_users, n_items = user_items.shape
        self.X = rng.random((n_users, factors), dtype=np.float32) * 0.01
        self.Y = rng.random((n_items, factors), dtype=np.float32) * 0.01
        if library == "fastals":
            from fastals import solvers
            from fastals._threads import thread_scope

            users = solvers.SweepMatrix(canonical(user_items))
            items = users.transpose()
            kwargs = dict(regularization=regularization, solver=solver, cg_steps=model.cg_steps)

            def run():
                with thread_scope(num_threads):
                    solvers.half_sweep(users, self.X, self.Y, **kwargs)
                    solvers.half_sweep(items, self.Y, self.X, **kwargs)

        else:
            Cui = canonical(user_items)
            Ciu = Cui.T.tocsr()
            solve = model.solver

            def run():
                with blas_scope("implicit"):
                    solve(Cui, self.X, self.Y, regularization, num_threads=num_threads)
                    solve(Ciu, self.Y, self.X, regularization, num_threads=num_threads)

        self.run = run


def timed(benchmark, fit_means, library, group, extra, call, rounds=5):
    """Time ``call`` with pytest-benchmark after one untimed warm-up (JIT compile, caches),
    implicit under 1 BLAS thread; record the mean for the fastals/implicit summary."""
    benchmark.group = group
    benchmark.extra_info.update(library=library, **extra)
    with blas_scope(library):
        call()
        result = benchmark.pedantic(call, rounds=rounds)
    if benchmark.stats is not None:
        fit_means.setdefault(group, {})[library] = benchmark.stats.stats.mean
    return result
