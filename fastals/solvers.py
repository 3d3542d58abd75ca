"""Which solver runs a half-sweep: "cg" or "cholesky", native (Numba) or reference (NumPy)."""

import numpy as np

from . import reference
from ._kernels.cg import cg_sweep
from ._kernels.cholesky import cholesky_sweep
from ._kernels.gram import gram
from ._kernels.loss import loss_rows

SOLVERS = ("cg", "cholesky")


def rounded_regularization(regularization, solver, dtype):
    """lambda as implicit rounds it.

    implicit's CG kernel takes lambda as a C float, so it is float32-rounded for every
    model dtype; its Cholesky kernel takes a double, rounded only by a float32 model.
    """
    lam = np.float32(regularization) if solver == "cg" else regularization
    return dtype.type(lam)


def shared_system(Y, lam):
    """A0 = Y^T Y + lambda I, shape (k, k), in Y's dtype."""
    A0 = gram(Y)
    A0 += lam * np.eye(Y.shape[1], dtype=Y.dtype)
    return A0


def half_sweep(Cui, X, Y, regularization, solver="cg", cg_steps=3, native=True):
    """Update every row of ``X`` in place against fixed ``Y``.

    ``Cui`` is a canonical CSR (n_rows x n_cols) whose data are the confidences in X's
    dtype; ``X`` (n_rows, k) and ``Y`` (n_cols, k) are C-contiguous in the model dtype.
    Raises ValueError naming the first row whose system is not positive definite.
    """
    lam = rounded_regularization(regularization, solver, X.dtype)
    if not native:
        X[:] = reference.half_sweep(Cui, X, Y, lam, solver == "cg", cg_steps)
        return
    A0 = shared_system(Y, lam)
    if solver == "cg":
        cg_sweep(Cui.indptr, Cui.indices, Cui.data, X, Y, A0, cg_steps)
        return
    status = np.zeros(X.shape[0], dtype=np.int32)
    cholesky_sweep(Cui.indptr, Cui.indices, Cui.data, X, Y, A0, status)
    failed = np.flatnonzero(status)
    if failed.size:
        row = int(failed[0])
        raise ValueError(
            f"Cholesky failed on row {row} (pivot {status[row]} not positive; "
            f"{failed.size} rows failed). Try increasing the regularization parameter."
        )


def training_loss(Cui, X, Y, regularization):
    """Normalised training loss (see ``fastals._kernels.loss``), as a Python float.

    implicit's formula and rounding (lambda as float32), except that a negative stored
    value does not add |c| to the numerator: implicit's constant offset is a bug.
    The denominator is the total confidence sum_{u,i} C_ui.
    """
    rows = loss_rows(Cui.indptr, Cui.indices, Cui.data, X, Y, gram(Y))
    lam = float(np.float32(regularization))
    norms = sum(np.einsum("ij,ij->", F, F, dtype=np.float64) for F in (X, Y))
    n_rows, n_cols = Cui.shape
    total_confidence = np.abs(Cui.data).sum(dtype=np.float64) + n_rows * n_cols - Cui.nnz
    if total_confidence == 0:  # every cell is a stored zero: nothing to fit
        return float("nan")
    return float((rows.sum() + lam * norms) / total_confidence)
