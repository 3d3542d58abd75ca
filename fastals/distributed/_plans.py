"""What each model keeps on the workers and solves there: ALS's and iALS's plans.

A plan turns the raw CSR blocks into prepared blocks (ALS: ``solvers.SweepMatrix``; iALS:
``ials_sweeps.Side``) with every choice that depends on the whole matrix made once on the
driver and passed to every block, so a block's rows come out bit for bit as the
single-machine sweep computes them:

- ALS: the users' layout (``SweepMatrix``'s ``whole_rows``), the Woodbury choice of float32
  Cholesky (``half_sweep``'s ``low_rank``), the total confidence of the loss;
- iALS: the item weights c_i and every row's scale and lambda_u (from all rows' counts).

The Gram of the fixed side is computed on the driver (``solvers.gram``) and shipped, never
recomputed per block. Functions whose names start with ``w_`` run on the workers.
"""

import types
from dataclasses import dataclass

import numpy as np
from dask.sizeof import sizeof
from distributed import get_worker

from .. import ials_sweeps, solvers
from .._kernels.layout import confidence_stats
from .._kernels.subspace import predictions
from .._threads import parallel_for, thread_scope
from .._validation import check_hyperparameters, confidences
from ..als import AlternatingLeastSquares
from ..factorization import warn_if_over_parameterised
from ..ials import iALS


@dataclass
class Block:
    """A prepared block on a worker, sized for Dask's scheduler (so it is never moved
    lightly: solves go to the block, not the block to the solves)."""

    data: object
    nbytes: int
    summary: tuple = ()


@sizeof.register(Block)
def _sizeof_block(block):
    return block.nbytes


def _nbytes(*arrays):
    """Bytes held by the distinct arrays among ``arrays``."""
    return int(sum(a.nbytes for a in {id(a): a for a in arrays}.values()))


def plan_for(model):
    if isinstance(model, AlternatingLeastSquares):
        return AlsPlan(model)
    if isinstance(model, iALS):
        return IalsPlan(model)
    raise TypeError(
        "model must be a fastals.AlternatingLeastSquares or fastals.iALS, got "
        f"{type(model).__module__}.{type(model).__name__}"
    )


def worker_threads(num_threads):
    """The model's ``num_threads``, or (0) the worker's own thread count."""
    if num_threads > 0:
        return num_threads
    try:
        return max(1, get_worker().state.nthreads)
    except ValueError:  # not on a worker
        return 1


def _writable(array):
    """A writable C-contiguous copy where deserialisation gave a read-only array (Numba
    compiles read-only arrays as another type)."""
    if array.flags.writeable and array.flags.c_contiguous:
        return array
    return np.array(array, order="C")


def _solve_rows(solve, X_block, n_rows, k, dtype, num_threads, *args):
    if X_block is None:
        X = np.zeros((n_rows, k), dtype)
    else:
        X = np.array(X_block, order="C")  # ours to overwrite
    with thread_scope(worker_threads(num_threads), work=n_rows * k * k):
        extra = solve(X, *args)
    return X, extra


# ---------------------------------------------------------------------- ALS


class AlsPlan:
    """Hu et al.'s objective (``AlternatingLeastSquares``); solvers "cg" and "cholesky"."""

    def __init__(self, model):
        check_hyperparameters(model)
        if not model.use_native:
            raise ValueError(
                "fastals.distributed.fit runs the Numba kernels: set use_native=True "
                "(the NumPy reference is for teaching, on one machine)"
            )
        self.model = model
        self.warm = model.solver == "cg"  # CG starts from the current rows; Cholesky does not

    def prepare(self, client, raw):
        model = self.model
        n_users, n_items = len_of(raw["user"]), len_of(raw["item"])
        warn_if_over_parameterised(model.factors, n_users, n_items, stacklevel=3)
        alpha, dtype, max_rank = model.alpha, np.dtype(model.dtype), model.factors // 2
        stats = client.gather(
            [client.submit(w_als_stats, f, alpha, dtype, pure=False) for f in raw["user"].futures]
        )
        n_weighted, nnz = sum(s[0] for s in stats), sum(s[1] for s in stats)
        whole_rows = n_weighted * 2 > nnz  # SweepMatrix's choice, for the whole matrix
        sides = {}
        for side, layout in (("user", whole_rows), ("item", "transposed")):
            futures = [
                client.submit(w_als_prepare, f, alpha, dtype, layout, max_rank, pure=False)
                for f in raw[side].futures
            ]
            sides[side] = (raw[side].bounds, futures)
        summaries = {
            side: client.gather([client.submit(_summary, f, pure=False) for f in futures])
            for side, (_, futures) in sides.items()
        }
        k = model.factors
        n_low = {side: sum(s[0] for s in summaries[side]) for side in sides}
        self.low_rank = {
            "user": solvers.low_rank_pays(n_low["user"], k, n_items),
            "item": solvers.low_rank_pays(n_low["item"], k, n_users),
        }
        abs_sum = sum(s[1] for s in summaries["item"])  # the items' sum, as fit takes it
        self.total = types.SimpleNamespace(
            total_confidence=float(abs_sum + n_users * n_items - nnz)
        )
        self.nnz = nnz
        return sides

    def fitted(self):
        pass

    def sweep_args(self, side, with_loss):
        model = self.model
        run = dict(regularization=model.regularization, solver=model.solver,
                   cg_steps=model.cg_steps)  # fmt: skip
        return (w_als_solve, run, self.low_rank[side], with_loss, model.num_threads)

    def gram(self, side, factors):
        return solvers.gram(factors)

    def loss(self, extras, X, Y):
        """The training loss from the item sweep's per-block numerators."""
        if extras[0] is None:
            return None
        return solvers.finish_loss(float(sum(extras)), self.total, X, self.model.regularization)

    wants_loss_in_item_sweep = True


def len_of(blocks):
    return int(blocks.bounds[-1])


def w_als_stats(raw, alpha, dtype):
    """(entries with |c| != 1, entries) of a user block's confidences."""
    data = confidences(raw, alpha, dtype).data
    return int(confidence_stats(data)[1]), len(data)


def w_als_prepare(raw, alpha, dtype, layout, max_rank):
    """The block's ``SweepMatrix``: users laid out as the whole matrix chose (``layout``:
    whole_rows), items as ``SweepMatrix.transpose`` lays out its rows (split runs)."""
    C = confidences(raw, alpha, dtype)
    M = solvers.SweepMatrix(C, whole_rows=False if layout == "transposed" else layout)
    arrays = [C.indptr, C.indices, C.data, *M.weighted_run[:2], M.unit_run[0]]
    abs_sum = float(confidence_stats(C.data)[0])
    return Block(M, _nbytes(*arrays), (solvers.low_rank_rows(M, max_rank), abs_sum))


def _summary(block):
    return block.summary


def w_als_solve(block, X_block, Y, G, run, low_rank, with_loss, num_threads):
    M = block.data
    Y, G = _writable(Y), _writable(G)

    def solve(X):
        return solvers.half_sweep(M, X, Y, **run, with_loss=with_loss, YtY=G, low_rank=low_rank)

    return _solve_rows(solve, X_block, M.shape[0], Y.shape[1], Y.dtype, num_threads)


# ---------------------------------------------------------------------- iALS


class IalsPlan:
    """Rendle et al.'s objective (``iALS``), every solver. "ials++" and "cd" keep a cache of
    the predictions on the stored pairs; one machine updates it through the users' pass and
    reads it in the items' pass, a block recomputes it for its own pairs at the start of
    each half-sweep (the same values up to rounding), so only factors and the Gram move.
    "ials++" needs ``block_order="sides"``: interleaved blocks would exchange the cache."""

    wants_loss_in_item_sweep = False

    def __init__(self, model):
        model._check_hyperparameters()
        if model.solver == "ials++" and model.block_order != "sides":
            raise ValueError(
                "fastals.distributed.fit runs iALS's 'ials++' with block_order='sides' (all "
                "users' blocks, then all items'); block_order='interleaved' alternates sides "
                "block by block and would move the prediction cache of every stored pair"
            )
        self.model = model
        self.warm = model.solver != "cholesky"  # the others start from the current rows

    def prepare(self, client, raw):
        model = self.model
        bare = bare_model(model)
        weights = {
            side: [client.submit(w_ials_weights, f, bare, pure=False) for f in raw[side].futures]
            for side in raw
        }
        counts = {
            side: np.concatenate(client.gather([client.submit(_summary, f) for f in futures]))
            for side, futures in weights.items()
        }
        n_users = len(counts["user"])
        warn_if_over_parameterised(model.factors, n_users, len(counts["item"]), stacklevel=3)
        uniform = model.popularity_exp is None
        c, normaliser = ials_sweeps.item_weights(
            counts["item"], model.unobserved_weight, model.popularity_exp
        )
        self.c, self.normaliser = c, normaliser
        self.c_gram = None if uniform else c
        dtype = np.dtype(model.dtype)
        lam, nu = model.regularization, model.regularization_exp
        alpha0 = model.unobserved_weight
        rows = {
            "user": (
                np.full(n_users, alpha0 if uniform else 1.0, dtype),
                ials_sweeps.row_regularization(lam, nu, counts["user"], c.sum()).astype(dtype),
            ),
            "item": (
                np.full(len(c), alpha0, dtype) if uniform else c.astype(dtype),
                ials_sweeps.row_regularization(lam, nu, counts["item"], c * n_users).astype(dtype),
            ),
        }
        self.counts = counts
        self.nnz = int(counts["user"].sum())
        n_other = {"user": len(c), "item": n_users}
        self.low_rank = {  # Woodbury for short rows: the whole side's choice, as fit's
            side: model.solver == "cholesky"
            and ials_sweeps.takes_low_rank(
                counts[side], *rows[side], model.factors, n_other[side], dtype
            )  # fmt: skip
            for side in rows
        }
        sides = {}
        for side, futures in weights.items():
            scale, reg = rows[side]
            cached = model.solver in ials_sweeps.CACHED_SOLVERS
            prepared = [
                client.submit(w_ials_side, f, scale[r0:r1], reg[r0:r1], cached, pure=False)
                for f, (r0, r1) in zip(futures, raw[side].ranges(), strict=True)
            ]
            sides[side] = (raw[side].bounds, prepared)
        return sides

    def fitted(self):
        """Set what ``iALS.fit`` sets beside the factors."""
        self.model.item_unobserved_weights = self.c
        self.model._popularity_normaliser = self.normaliser

    def sweep_args(self, side, with_loss):
        model = self.model
        run = dict(solver=model.solver, cg_steps=model.cg_steps, block_size=model.block_size,
                   low_rank=self.low_rank[side])  # fmt: skip
        return (w_ials_solve, run, model.num_threads)

    def gram(self, side, factors):
        return ials_sweeps.gram_matrix(factors, self.c_gram if side == "user" else None)

    def loss(self, observed, X, Y):
        """Rendle et al.'s L as ``ials_sweeps.objective`` computes it, from the user blocks'
        observed terms."""
        model = self.model
        X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
        all_pairs = float(np.sum((X64.T @ X64) * ((Y64 * self.c[:, None]).T @ Y64)))
        lam, nu = model.regularization, model.regularization_exp
        n_users = len(X)
        reg_u = ials_sweeps.row_regularization(lam, nu, self.counts["user"], self.c.sum())
        reg_i = ials_sweeps.row_regularization(lam, nu, self.counts["item"], self.c * n_users)
        penalty = float(
            reg_u @ np.einsum("ij,ij->i", X64, X64) + reg_i @ np.einsum("ij,ij->i", Y64, Y64)
        )
        return float(sum(observed)) + all_pairs + penalty


def bare_model(model):
    """A copy of ``model`` without factors or caches: what a task needs of it."""
    bare = type(model).__new__(type(model))
    bare.__dict__.update(model.__dict__)
    bare.user_factors = bare.item_factors = None
    bare._YtY = bare._XtX = bare._user_norms = bare._item_norms = None
    bare.loss_history, bare.fit_callback = [], None
    return bare


def w_ials_weights(raw, bare):
    """The block's weights as ``iALS.fit`` takes them (model dtype, zeros dropped, negative
    weights refused), with its rows' counts as summary."""
    W = bare._weights(raw, "interactions")
    return Block(W, _nbytes(W.indptr, W.indices, W.data), np.diff(W.indptr))


def w_ials_side(weights, scale, reg, cached):
    """The block's ``ials_sweeps.Side``; ``cached``: with its own cache slots 0..nnz-1."""
    W = weights.data
    slots = np.arange(W.nnz, dtype=W.indptr.dtype) if cached else None
    side = ials_sweeps.Side((W.indptr, W.indices, W.data), slots, scale, reg)
    return Block(side, weights.nbytes + (0 if slots is None else slots.nbytes))


def w_ials_solve(block, X_block, Y, G, run, num_threads):
    side = block.data
    Y, G = _writable(Y), _writable(G)
    solver = run["solver"]

    def solve(X):
        if solver in ials_sweeps.CACHED_SOLVERS:
            pred = ials_sweeps.fresh_predictions(side, X, Y)
            ials_sweeps.cached_sweep(side, X, Y, G, solver, run["block_size"], pred)
        else:
            ials_sweeps.exact_sweep(side, X, Y, G, solver, run["cg_steps"], run["low_rank"])

    return _solve_rows(solve, X_block, side.n_rows, Y.shape[1], Y.dtype, num_threads)


def w_ials_observed(block, X_block, Y, num_threads):
    """sum over the block's stored pairs of w (x_u.y_i - 1)^2, in float64 (the observed term
    of ``ials_sweeps.objective``)."""
    indptr, indices, data = block.data.rows
    X64, Y64 = np.asarray(X_block, np.float64), np.asarray(Y, np.float64)
    pred = np.empty(len(data), np.float64)
    slots = np.arange(len(data), dtype=np.int64)
    with thread_scope(worker_threads(num_threads)):
        parallel_for(predictions, len(indptr) - 1, (indptr, indices, data), slots, X64, Y64,
                     pred, grain=64)  # fmt: skip
    return float(np.sum(data.astype(np.float64) * (pred - 1.0) ** 2))
