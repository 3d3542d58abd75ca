"""Which solver runs a half-sweep: "cg" or "cholesky", native (Numba) or reference (NumPy)."""

import numpy as np
import scipy.sparse as sp

from . import reference
from ._kernels.cg import cg_sweep
from ._kernels.cholesky import cholesky_sweep
from ._kernels.gram import gram
from ._kernels.layout import partition_rows, transpose_partitioned
from ._kernels.loss import loss_rows

SOLVERS = ("cg", "cholesky")
NO_LOSS = np.empty(0, np.float64)


class SweepMatrix:
    """A confidence CSR prepared once per fit: rows reordered by ``partition_rows``.

    ``csr`` views the same arrays as a plain (row-unsorted) CSR, for the reference path;
    ``transpose()`` gives the other side's SweepMatrix directly (no scipy transpose).
    """

    def __init__(self, confidences=None, *, parts=None, shape=None):
        if confidences is not None:
            shape = confidences.shape
            indices, data, w_end, p_end = partition_rows(
                confidences.indptr, confidences.indices, confidences.data
            )
            parts = (confidences.indptr, indices, data, w_end, p_end)
        self.shape = shape
        self.indptr, self.indices, self.data, self.w_end, self.p_end = parts
        # sum_{u,i} C_ui: |c| of the stored cells plus 1 for every absent one
        n_rows, n_cols = self.shape
        absent = n_rows * n_cols - len(self.data)
        self.total_confidence = float(np.abs(self.data).sum(dtype=np.float64) + absent)

    def transpose(self):
        parts = transpose_partitioned(self.shape[1], self.indptr, self.indices, self.data)
        return SweepMatrix(parts=parts, shape=self.shape[::-1])

    @property
    def csr(self):
        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)


def rounded_regularization(regularization, solver, dtype):
    """lambda as implicit rounds it.

    implicit's CG kernel takes lambda as a C float, so it is float32-rounded for every
    model dtype; its Cholesky kernel takes a double, rounded only by a float32 model.
    """
    lam = np.float32(regularization) if solver == "cg" else regularization
    return dtype.type(lam)


def shared_system(Y, lam, YtY=None):
    """A0 = Y^T Y + lambda I, shape (k, k), in Y's dtype (``YtY``: a cached Y^T Y)."""
    A0 = gram(Y) if YtY is None else np.array(YtY, dtype=Y.dtype)
    A0 += lam * np.eye(Y.shape[1], dtype=Y.dtype)
    return A0


def half_sweep(
    M, X, Y, regularization, solver="cg", cg_steps=3, native=True, with_loss=False, YtY=None
):
    """Update every row of ``X`` in place against fixed ``Y``.

    ``M`` is a SweepMatrix (n_rows x n_cols) whose data are the confidences in X's dtype;
    ``X`` (n_rows, k) and ``Y`` (n_cols, k) are C-contiguous in the model dtype. With
    ``with_loss`` returns sum_u [x_u^T A0 x_u + stored terms] (``_kernels.rows.row_loss``),
    the loss numerator less lambda |Y|^2. Raises ValueError naming the first row whose
    system is not positive definite.
    """
    lam = rounded_regularization(regularization, solver, X.dtype)
    if not native:
        X[:] = reference.half_sweep(M.csr, X, Y, lam, solver == "cg", cg_steps)
        if with_loss:
            return _unregularised_loss(M, X, Y) + float(lam) * _sq_norm(X)
        return None
    A0 = shared_system(Y, lam, YtY)
    loss = np.zeros(X.shape[0]) if with_loss else NO_LOSS
    args = (M.indptr, M.w_end, M.p_end, M.indices, M.data, X, Y, A0)
    if solver == "cg":
        cg_sweep(*args, cg_steps, loss)
    else:
        status = np.zeros(X.shape[0], dtype=np.int32)
        cholesky_sweep(*args, status, loss)
        failed = np.flatnonzero(status)
        if failed.size:
            row = int(failed[0])
            raise ValueError(
                f"Cholesky failed on row {row} (pivot {status[row]} not positive; "
                f"{failed.size} rows failed). Try increasing the regularization parameter."
            )
    return float(loss.sum()) if with_loss else None


def _sq_norm(F):
    return float(np.einsum("ij,ij->", F, F, dtype=np.float64))


def _unregularised_loss(M, X, Y):
    return float(loss_rows(M.indptr, M.indices, M.data, X, Y, gram(Y)).sum())


def training_loss(Cui, X, Y, regularization):
    """Normalised training loss of factors X, Y on confidences ``Cui`` (CSR or SweepMatrix).

    implicit's formula and rounding (lambda as float32), except that a negative stored
    value does not add |c| to the numerator: implicit's constant offset is a bug.
    The denominator is the total confidence sum_{u,i} C_ui.
    """
    M = Cui if isinstance(Cui, SweepMatrix) else SweepMatrix(Cui)
    lam = float(np.float32(regularization))
    numerator = _unregularised_loss(M, X, Y) + lam * (_sq_norm(X) + _sq_norm(Y))
    return normalise_loss(numerator, M)


def normalise_loss(numerator, M):
    if M.total_confidence == 0:  # every cell is a stored zero: nothing to fit
        return float("nan")
    return numerator / M.total_confidence
