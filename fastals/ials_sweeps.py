"""iALS's sides, systems and epochs: what ``iALS.fit`` runs, solver by solver.

``Side`` holds one side's stored weights (a CSR of w_ui in the model dtype) with the slots of
the shared prediction cache, and its rows' unobserved-weight scale s_u and regularisation
lambda_u (``_kernels/ials.py`` states the system). ``epoch`` runs one iteration of a solver.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import solvers
from ._kernels.ials import ials_cg_sweep, ials_cholesky_sweep
from ._kernels.subspace import block_step, cd_sweep, predictions
from ._threads import parallel_for
from .solvers import NO_COLUMNS, gram

SOLVERS = ("cholesky", "cg", "ials++", "cd")
CACHED_SOLVERS = ("ials++", "cd")  # keep a cache of the predictions on the stored pairs
BLOCK_ORDERS = ("sides", "interleaved")
ROW_GRAIN = 16


@dataclass
class Side:
    """One side's rows: ``rows`` = (indptr, indices, data) of the CSR of weights, ``slots``
    (nnz,) the prediction-cache slot of each entry, ``scale`` and ``reg`` (n_rows,)."""

    rows: tuple
    slots: np.ndarray
    scale: np.ndarray
    reg: np.ndarray

    @property
    def n_rows(self):
        return len(self.rows[0]) - 1


def item_weights(counts, unobserved_weight, popularity_exp, normaliser=None):
    """Each item's unobserved weight c_i (float64) and the normaliser used.

    ``popularity_exp`` None: ``unobserved_weight`` (alpha0) for every item. Else eALS's
    popularity weighting (He et al. 2016, c_i = c0 f_i^e / sum_j f_j^e with f_i the item's
    count) with c0 = alpha0 |I|, i.e. c_i = alpha0 f_i^e / mean_j f_j^e: the mean weight
    stays alpha0. ``normaliser`` (mean_j f_j^e over the training items) is computed from
    ``counts`` unless given (folding new items in keeps the training one).
    """
    counts = np.asarray(counts, np.float64)
    if popularity_exp is None:
        return np.full(len(counts), float(unobserved_weight)), None
    powered = counts**popularity_exp
    if normaliser is None:
        normaliser = float(powered.mean()) or 1.0
    return unobserved_weight * powered / normaliser, normaliser


def row_regularization(regularization, exponent, counts, unobserved_total):
    """lambda_u = lambda (|I_u| + unobserved weight summed over the row's cells)^nu, as
    google-research's ``ials`` computes it (Rendle et al. 2022, eq. 5)."""
    return regularization * (np.asarray(counts, np.float64) + unobserved_total) ** exponent


def build_sides(W, model, c):
    """The users' and items' ``Side`` for the weights ``W`` (users x items CSR, w >= 0, no
    stored zeros, data in the model dtype) and item weights ``c`` (float64)."""
    n_users, n_items = W.shape
    dtype = W.dtype
    nnz = W.nnz
    slot_dtype = np.int32 if nnz < 2**31 else np.int64
    user_slots = np.arange(nnz, dtype=slot_dtype)
    T = sp.csr_matrix((user_slots, W.indices, W.indptr), shape=W.shape).T.tocsr()
    item_slots = np.ascontiguousarray(T.data, dtype=slot_dtype)
    item_rows = (T.indptr, T.indices, np.ascontiguousarray(W.data[item_slots]))
    user_counts, item_counts = np.diff(W.indptr), np.diff(T.indptr)
    lam, nu = model.regularization, model.regularization_exp
    uniform = model.popularity_exp is None
    alpha0 = model.unobserved_weight
    users = Side(
        (W.indptr, W.indices, W.data),
        user_slots,
        np.full(n_users, alpha0 if uniform else 1.0, dtype),
        row_regularization(lam, nu, user_counts, c.sum()).astype(dtype),
    )
    items = Side(
        item_rows,
        item_slots,
        c.astype(dtype) if not uniform else np.full(n_items, alpha0, dtype),
        row_regularization(lam, nu, item_counts, c * n_users).astype(dtype),
    )
    return users, items


def gram_matrix(F, c=None):
    """F^T diag(c) F (k, k) in F's dtype (F^T F when ``c`` is None)."""
    if c is None:
        return gram(F)
    return gram(np.ascontiguousarray(F * np.sqrt(c).astype(F.dtype)[:, None]))


def exact_sweep(side, X, Y, G, solver, cg_steps, low_rank=False):
    """Solve every row of ``X`` against fixed ``Y`` (G: the shared Gram); in place.
    ``low_rank`` (Cholesky): solve short rows by Woodbury (``takes_low_rank`` decides)."""
    system = (G, side.scale, side.reg)
    if solver == "cg":
        parallel_for(ials_cg_sweep, side.n_rows, side.rows, X, Y, system, cg_steps, grain=ROW_GRAIN)
        return
    status = np.zeros(side.n_rows, np.int32)
    Z = low_rank_columns(side, Y, G) if low_rank else NO_COLUMNS
    parallel_for(ials_cholesky_sweep, side.n_rows, side.rows, X, Y, system,
                 (Z, X.shape[1] // 2), status, grain=ROW_GRAIN)  # fmt: skip
    _raise_on_failure(status)


def _exact_side(side, X, Y, G, model):
    low_rank = model.solver == "cholesky" and takes_low_rank(
        np.diff(side.rows[0]), side.scale, side.reg, X.shape[1], len(Y), X.dtype
    )
    exact_sweep(side, X, Y, G, model.solver, model.cg_steps, low_rank)


def takes_low_rank(counts, scale, reg, k, n_cols, dtype):
    """Whether a Cholesky half-sweep takes the Woodbury path for its short rows (as ALS's
    ``solvers.low_rank_columns`` decides): float32 models only, every row with the same
    s_u and lambda_u (so A0 = s G + lambda I is shared: nu = 0, no popularity weights on the
    item side), and rows of at most k/2 entries saving more than the k^2 per column that
    Z = A0^{-1} Y^T costs. ``counts``, ``scale``, ``reg``: the whole side's."""
    if np.dtype(dtype) != np.float32 or len(scale) == 0:
        return False
    if np.any(scale != scale[0]) or np.any(reg != reg[0]):
        return False
    n_low = int(np.count_nonzero((counts > 0) & (counts <= k // 2)))
    return solvers.low_rank_pays(n_low, k, n_cols)


def low_rank_columns(side, Y, G):
    """Z = A0^{-1} Y^T (n_cols, k) float64 for A0 = s G + lambda I in Y's dtype (the rows'
    shared s and lambda), as ``solvers.low_rank_columns``; NO_COLUMNS if A0 is singular."""
    A0 = side.scale[0] * G
    A0[np.diag_indices_from(A0)] += side.reg[0]
    return solvers.solved_columns(A0, Y)


def epoch(model, users, items, X, Y, c):
    """One iteration of ``model.solver`` on the factors ``X`` (users) and ``Y`` (items), in
    place; ``c``: item unobserved weights (None when uniform, folded into the scales)."""
    solver = model.solver
    if solver in ("cholesky", "cg"):
        _exact_side(users, X, Y, gram_matrix(Y, c), model)
        _exact_side(items, Y, X, gram_matrix(X), model)
        return
    pred = fresh_predictions(users, X, Y)  # fresh each epoch: no drift across epochs
    GY = gram_matrix(Y, c)
    if solver == "cd" or model.block_order == "sides":  # all users, then all items (irspack)
        cached_sweep(users, X, Y, GY, solver, model.block_size, pred)
        cached_sweep(items, Y, X, gram_matrix(X), solver, model.block_size, pred)
        return
    k, GX = X.shape[1], gram_matrix(X)
    for b0 in range(0, k, model.block_size):  # "interleaved": each block, users then items
        b1 = min(k, b0 + model.block_size)  # (google-research)
        _block(users, X, Y, GY, b0, b1, pred)
        _update_gram_block(GX, X, None, b0, b1)
        _block(items, Y, X, GX, b0, b1, pred)
        _update_gram_block(GY, Y, c, b0, b1)


def fresh_predictions(side, X, Y):
    """The prediction cache x_u.y_i of ``side``'s stored pairs (at their slots)."""
    pred = np.empty(len(side.slots), X.dtype)
    parallel_for(predictions, side.n_rows, side.rows, side.slots, X, Y, pred, grain=64)
    return pred


def cached_sweep(side, X, Y, G, solver, block_size, pred):
    """One side's pass of "ials++" (its blocks of ``block_size`` dimensions in turn) or "cd"
    against fixed ``Y`` (G: its Gram), reading and updating the cache ``pred``; in place."""
    if solver == "cd":
        parallel_for(cd_sweep, side.n_rows, side.rows, side.slots, X, Y,
                     (G, side.scale, side.reg), pred, grain=ROW_GRAIN)  # fmt: skip
        return
    k = X.shape[1]
    for b0 in range(0, k, block_size):
        _block(side, X, Y, G, b0, min(k, b0 + block_size), pred)


def _block(side, X, Y, G, b0, b1, pred):
    status = np.zeros(side.n_rows, np.int32)
    YB = np.ascontiguousarray(Y[:, b0:b1])
    parallel_for(block_step, side.n_rows, side.rows, side.slots, X, YB,
                 (G, side.scale, side.reg), b0, pred, status, grain=ROW_GRAIN)  # fmt: skip
    _raise_on_failure(status)


def _update_gram_block(G, F, c, b0, b1):
    """Rows and columns b0..b1-1 of G = F^T diag(c) F after F's columns b0..b1-1 changed.

    BLAS (held to one thread by ``thread_scope``, so the result does not depend on the
    thread count); cost n k (b1 - b0) instead of n k^2 for the whole Gram."""
    left = F[:, b0:b1] if c is None else F[:, b0:b1] * c.astype(F.dtype)[:, None]
    block = left.T @ F
    G[b0:b1, :] = block
    G[:, b0:b1] = block.T


def _raise_on_failure(status):
    failed = np.flatnonzero(status)
    if failed.size:
        row = int(failed[0])
        raise ValueError(
            f"Cholesky failed on row {row} (pivot {status[row]} not positive; {failed.size} "
            "rows failed): the system is singular. Use regularization > 0 or "
            "unobserved_weight > 0."
        )


def objective(W, X, Y, model, c):
    """Rendle et al.'s loss L (eqs. 2-5), in float64, for weights ``W`` (users x items CSR)
    and item weights ``c`` (float64, (n_items,)):

    sum_{(u,i) stored} w (x_u.y_i - 1)^2 + sum_{u,i} c_i (x_u.y_i)^2
    + lambda (sum_u nu_u |x_u|^2 + sum_i nu_i |y_i|^2).

    The all-pairs term is trace(X^T X Y^T diag(c) Y), computed without the n_users x n_items
    scores."""
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    n_users, n_items = W.shape
    pred = np.empty(W.nnz, np.float64)
    slots = np.arange(W.nnz, dtype=np.int64)
    rows = (W.indptr, W.indices, W.data)
    parallel_for(predictions, n_users, rows, slots, X64, Y64, pred, grain=64)
    observed = float(np.sum(W.data.astype(np.float64) * (pred - 1.0) ** 2))
    all_pairs = float(np.sum((X64.T @ X64) * ((Y64 * c[:, None]).T @ Y64)))
    lam, nu = model.regularization, model.regularization_exp
    user_counts = np.diff(W.indptr)
    item_counts = np.bincount(W.indices, minlength=n_items)
    reg_u = row_regularization(lam, nu, user_counts, c.sum())
    reg_i = row_regularization(lam, nu, item_counts, c * n_users)
    penalty = float(
        reg_u @ np.einsum("ij,ij->i", X64, X64) + reg_i @ np.einsum("ij,ij->i", Y64, Y64)
    )
    return observed + all_pairs + penalty
