"""Which solver runs a half-sweep: "cg" or "cholesky", native (Numba) or reference (NumPy)."""

import numpy as np

from . import reference
from ._kernels.cg import cg_gram_blocks, cg_sweep
from ._kernels.cholesky import cholesky_sweep
from ._kernels.gram import gram_blocks, sum_blocks
from ._kernels.layout import confidence_stats, split_runs, transpose_split
from ._kernels.linalg import cholesky_factor
from ._kernels.loss import loss_rows
from ._kernels.woodbury import solve_columns
from ._threads import parallel_for

NO_LOSS = np.empty(0, np.float64)
NO_COLUMNS = np.empty((0, 0), np.float64)
L2_BUDGET = 1 << 18  # bytes of Y gathered per block by rows.unit_sums (half a Zen 3 L2)
CG_GRAIN = 64  # rows per CG range at least: each range's unit sums walk every block of Y
ROW_GRAIN = 16  # rows per range at least (they share scratch memory)
GRAM_MAX_BLOCKS = 64  # fixed, so the summation order never depends on the thread count


class SweepMatrix:
    """One side's confidences, prepared once per fit as the kernels read them.

    Each row is a *unit* run, the column ids of its c == 1 entries (they feed b_u only), an
    (indices, start, end) tuple, and a *weighted* run of the entries that change A_u, an
    (indices, data, start, end) tuple (``_kernels/layout.py``, ``_kernels/rows.py``):

    - built from a CSR (the users side): when most entries have |c| != 1 the caller's arrays
      are the weighted run as they are, with no copy, and the unit run is empty (c == 1
      entries there add 0 to A_u and their c to b_u, exactly); otherwise the |c| != 1
      entries and the c == 1 column ids are copied out (``layout.split_runs``);
    - ``transpose()`` builds the other side's two runs straight from this CSR
      (``layout.transpose_split``): 8 bytes per weighted entry and 4 per unit entry, where
      implicit's transposed copy costs 8 per entry.

    ``indptr`` counts every stored entry of a row (an empty row's factors are 0); ``csr`` is a
    plain CSR of the same entries, for the reference path and for transposing (built on
    first use on a transposed side).
    """

    def __init__(self, confidences, *, whole_rows=None):
        # whole_rows: the layout choice above; None decides from these entries (a block of a
        # bigger matrix takes the whole matrix's choice: ``fastals.distributed``)
        self.shape = confidences.shape
        self._csr = confidences
        indptr, indices, data = confidences.indptr, confidences.indices, confidences.data
        starts, ends = indptr[:-1], indptr[1:]
        abs_sum, n_weighted = confidence_stats(data)
        if whole_rows is None:
            whole_rows = n_weighted * 2 > len(data)
        if whole_rows:  # mostly weighted: no copy
            self.unit_run = (indices, starts, starts)
            self.weighted_run = (indices, data, starts, ends)
        else:
            self._set_runs(*split_runs(indptr, indices, data))
        self.indptr = indptr
        # sum_{u,i} C_ui: |c| of the stored cells plus 1 for every absent one
        n_rows, n_cols = self.shape
        self.total_confidence = float(abs_sum + n_rows * n_cols - len(data))

    def _set_runs(self, weighted, unit):
        (w_indptr, w_indices, w_data), (u_indptr, u_indices) = weighted, unit
        self.weighted_run = (w_indices, w_data, w_indptr[:-1], w_indptr[1:])
        self.unit_run = (u_indices, u_indptr[:-1], u_indptr[1:])

    def transpose(self):
        csr = self.csr
        T = object.__new__(SweepMatrix)
        T.shape = self.shape[::-1]
        T._csr, T._source = None, csr
        T.indptr, weighted, unit = transpose_split(self.shape[1], csr.indptr, csr.indices, csr.data)
        T._set_runs(weighted, unit)
        T.total_confidence = self.total_confidence  # the same entries
        return T

    @property
    def csr(self):
        if self._csr is None:
            self._csr = self._source.T.tocsr()
        return self._csr


def gram(Y):
    """Y^T Y, shape (k, k), in Y's dtype, for ``Y`` of shape (n, k), exactly symmetric.

    Rows are cut into at most GRAM_MAX_BLOCKS blocks (a number that depends on n only);
    the blocks' Gram matrices are computed in parallel and summed in block order.
    """
    Y = np.ascontiguousarray(Y)
    n_blocks, size = gram_partition(Y.shape[0])
    partial = np.empty((n_blocks, Y.shape[1], Y.shape[1]), Y.dtype)
    parallel_for(gram_blocks, n_blocks, Y, size, partial)
    return sum_blocks(partial)


def gram_partition(n):
    """(blocks, rows per block) of ``gram`` for n rows: fixed by n alone."""
    n_blocks = max(1, min(GRAM_MAX_BLOCKS, (n + 63) // 64))
    return n_blocks, -(-n // n_blocks)


def rounded_regularization(regularization, solver, dtype):
    """lambda as implicit rounds it in its solvers (the one place fastals keeps those rules).

    implicit's CG kernel takes lambda as a C float, so it is float32-rounded for every
    model dtype; its Cholesky kernel takes a double, rounded only by a float32 model. Its
    loss always takes a C float: ``loss_regularization``.
    """
    lam = np.float32(regularization) if solver == "cg" else regularization
    return dtype.type(lam)


def loss_regularization(regularization):
    """lambda as implicit's loss takes it: a C float, as a Python float."""
    return float(np.float32(regularization))


def shared_system(Y, lam, YtY=None):
    """A0 = Y^T Y + lambda I, shape (k, k), in Y's dtype (``YtY``: a cached Y^T Y)."""
    A0 = gram(Y) if YtY is None else np.array(YtY, dtype=Y.dtype)
    A0 += lam * np.eye(Y.shape[1], dtype=Y.dtype)
    return A0


def half_sweep(
    M,
    X,
    Y,
    regularization,
    *,
    solver="cg",
    cg_steps=3,
    native=True,
    with_loss=False,
    YtY=None,
    low_rank=None,
    next_gram=False,
):
    """Update every row of ``X`` in place against fixed ``Y``.

    ``M`` is a SweepMatrix (n_rows x n_cols) whose data are the confidences in X's dtype;
    ``X`` (n_rows, k) and ``Y`` (n_cols, k) are C-contiguous in the model dtype. With
    ``with_loss`` returns sum_u [x_u^T A0 x_u + stored terms] (``_kernels.rows.row_loss``),
    the loss numerator less lambda |Y|^2. Raises ValueError naming the first row whose
    system is not positive definite. ``low_rank`` forces ``low_rank_columns``' choice (None:
    decided from ``M``; a block of rows takes the whole side's choice). With ``next_gram``
    returns (that loss or None, X^T X of the new X): ``gram(X)`` bit for bit, for the other
    side's half-sweep (``YtY``); CG computes it in the same parallel step as the rows. The
    reference path (``native=False``) forms its own Gram matrices and returns None for it.
    """
    loss, gram_X = _half_sweep(
        M, X, Y, regularization, solver, cg_steps, native, with_loss, YtY, low_rank, next_gram
    )
    if not next_gram:
        return loss
    if gram_X is None and native:
        gram_X = gram(X)
    return loss, gram_X


def _half_sweep(M, X, Y, regularization, solver, cg_steps, native, with_loss, YtY, low_rank,
                next_gram):  # fmt: skip
    """``half_sweep``: (loss or None, X^T X where CG computed it with the rows, else None)."""
    lam = rounded_regularization(regularization, solver, X.dtype)
    if not native:
        X[:] = reference.half_sweep(M.csr, X, Y, lam, solver == "cg", cg_steps)
        if with_loss:
            return _unregularised_loss(M, X, Y) + float(lam) * _sq_norm(X), None
        return None, None
    A0 = shared_system(Y, lam, YtY)
    loss = np.zeros(X.shape[0]) if with_loss else NO_LOSS
    rows = (M.indptr, M.unit_run, M.weighted_run)
    gram_X = None
    if solver == "cg":
        k = X.shape[1]
        block_rows = max(256, L2_BUDGET // (k * X.dtype.itemsize))
        sweep = (rows, block_rows, X, Y, A0, cg_steps, loss)
        if next_gram:
            n_blocks, size = gram_partition(X.shape[0])
            partial = np.empty((n_blocks, k, k), X.dtype)
            parallel_for(cg_gram_blocks, n_blocks, size, sweep, partial)
            gram_X = sum_blocks(partial)
        else:
            parallel_for(cg_sweep, X.shape[0], *sweep, grain=CG_GRAIN)
    else:
        status = np.zeros(X.shape[0], dtype=np.int32)
        Z, max_rank = low_rank_columns(M, Y, A0, low_rank)
        parallel_for(
            cholesky_sweep, X.shape[0], rows, X, Y, A0, (Z, max_rank), (status, loss),
            grain=ROW_GRAIN,
        )  # fmt: skip
        failed = np.flatnonzero(status)
        if failed.size:
            row = int(failed[0])
            raise ValueError(
                f"Cholesky failed on row {row} (pivot {status[row]} not positive; "
                f"{failed.size} rows failed). Try increasing the regularization parameter."
            )
    return (float(loss.sum()) if with_loss else None), gram_X


def low_rank_columns(M, Y, A0, low_rank=None):
    """(Z, max_rank) for ``woodbury.low_rank_solve``, or an empty Z where it does not pay.

    Only float32 models take the Woodbury path (it runs in float64, closer to the exact
    solution than a float32 factorisation; float64 models keep implicit's arithmetic), and
    only when the factorisations it saves (k^3/3 each, rows with <= k/2 weighted entries)
    outweigh solving A0 z = y for every column (k^2 each). ``low_rank`` (bool) overrides
    that count.
    """
    k = A0.shape[0]
    max_rank = k // 2
    if A0.dtype != np.float32:  # A0 is in the model's dtype
        return NO_COLUMNS, max_rank
    if low_rank is None:
        low_rank = low_rank_pays(low_rank_rows(M, max_rank), k, Y.shape[0])
    if not low_rank:
        return NO_COLUMNS, max_rank
    return solved_columns(A0, Y), max_rank


def solved_columns(A0, Y):
    """Z = A0^{-1} Y^T as (n_cols, k) float64, from one float64 factorisation of ``A0``
    (``woodbury.solve_columns``); NO_COLUMNS where A0 is not positive definite."""
    L = A0.astype(np.float64)
    if cholesky_factor(L) != 0:
        return NO_COLUMNS
    Z = np.empty(Y.shape, np.float64)
    parallel_for(solve_columns, Y.shape[0], L, Y, Z, grain=16)
    return Z


def low_rank_rows(M, max_rank):
    """Non-empty rows of ``M`` with at most ``max_rank`` weighted entries."""
    _, _, w_start, w_end = M.weighted_run
    nonempty = M.indptr[1:] > M.indptr[:-1]
    return int(np.count_nonzero(nonempty & (w_end - w_start <= max_rank)))


def low_rank_pays(n_low, k, n_cols):
    """Whether ``n_low`` Woodbury rows save more than solving A0 z = y for ``n_cols`` columns."""
    return n_low * k >= 3 * n_cols


def _sq_norm(F):
    return float(np.einsum("ij,ij->", F, F, dtype=np.float64))


def _unregularised_loss(M, X, Y):
    csr = M.csr
    out = np.empty(X.shape[0], np.float64)
    parallel_for(loss_rows, X.shape[0], csr.indptr, csr.indices, csr.data, X, Y, gram(Y), out)
    return float(out.sum())


def training_loss(Cui, X, Y, regularization):
    """Normalised training loss of factors X, Y on confidences ``Cui`` (CSR or SweepMatrix).

    implicit's formula and rounding (lambda as float32), except that a negative stored
    value does not add |c| to the numerator: implicit's constant offset is a bug.
    The denominator is the total confidence sum_{u,i} C_ui.
    """
    M = Cui if isinstance(Cui, SweepMatrix) else SweepMatrix(Cui)
    lam = loss_regularization(regularization)
    return finish_loss(_unregularised_loss(M, X, Y) + lam * _sq_norm(Y), M, X, regularization)


def finish_loss(numerator, M, X, regularization):
    """The normalised loss from a numerator that lacks only lambda |X|^2 (e.g. the item
    sweep's fused ``half_sweep(with_loss=True)``, X the user factors); M either side."""
    lam = loss_regularization(regularization)
    return normalise_loss(numerator + lam * _sq_norm(X), M)


def normalise_loss(numerator, M):
    if M.total_confidence == 0:  # every cell is a stored zero: nothing to fit
        return float("nan")
    return numerator / M.total_confidence
