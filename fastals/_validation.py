"""Input checks and conversion to canonical inputs. Every clear error message lives here."""

import numbers
import time
import warnings

import numpy as np
import scipy.sparse as sp

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INT32_MAX = np.iinfo(np.int32).max


class ParameterWarning(Warning):
    """An argument was accepted but converted (as ``implicit.utils.ParameterWarning``)."""


class NotFittedError(ValueError, AttributeError):
    """A serving call on a model without factors (as scikit-learn's NotFittedError)."""


class ModelFitError(Exception):
    """Training produced non-finite factors (as ``implicit.recommender_base.ModelFitError``)."""


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def check_finite_real(name, value, minimum=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if dt not in SUPPORTED_DTYPES:
        why = " (too little precision for the normal equations)" if dt == np.float16 else ""
        raise ValueError(f"dtype {dt.name} is not supported{why}: use float32 or float64")
    return dt


def check_num_threads(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"num_threads must be an integer >= 0 (0 = all cores), got {value!r}")
    return int(value)


def check_hyperparameters(model):
    """Validate the model's settings; called at construction and again at every fit."""
    check_positive_int("factors", model.factors)
    check_positive_int("iterations", model.iterations)
    check_positive_int("cg_steps", model.cg_steps)
    check_finite_real("regularization", model.regularization, minimum=0)
    check_finite_real("alpha", model.alpha)
    check_num_threads(model.num_threads)
    model.dtype = check_dtype(model.dtype)


def to_csr(matrix, name="user_items"):
    """Return ``matrix`` as a canonical ``csr_matrix`` without modifying the caller's object.

    Canonical: 2-D, at least one row and column, real numeric data, finite, duplicates summed,
    sorted indices, int32 indices/indptr (int64 only when nnz needs it). Any other sparse
    format, a ``csr_array`` or a dense array is converted with a ParameterWarning, as implicit
    does. Explicitly stored zeros are kept (they mean confidence 0).
    """
    if not (sp.issparse(matrix) and matrix.format == "csr" and isinstance(matrix, sp.csr_matrix)):
        matrix = _convert(matrix, name)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got {matrix.ndim}-D with shape {matrix.shape}")
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {matrix.shape}")
    kind = matrix.dtype.kind
    if kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {matrix.dtype}")
    _check_finite(matrix, name)
    if not matrix.has_canonical_format:
        matrix = matrix.copy()
        matrix.sum_duplicates()  # sums and sorts, keeps stored zeros
    index_dtype = np.int32 if matrix.nnz <= INT32_MAX else np.int64
    if matrix.indices.dtype != index_dtype or matrix.indptr.dtype != index_dtype:
        matrix = sp.csr_matrix(
            (matrix.data, matrix.indices.astype(index_dtype), matrix.indptr.astype(index_dtype)),
            shape=matrix.shape,
        )
    return matrix


def _convert(matrix, name):
    start = time.time()
    if sp.issparse(matrix):
        out = sp.csr_matrix(matrix)
    elif isinstance(matrix, np.ndarray) or hasattr(matrix, "__array__"):
        dense = np.asarray(matrix)
        if dense.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got {dense.ndim}-D with shape {dense.shape}")
        if dense.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers, got dtype {dense.dtype}")
        out = sp.csr_matrix(dense)
    else:
        raise TypeError(
            f"{name} must be a scipy.sparse matrix (users x items CSR), got {type(matrix).__name__}"
        )
    warnings.warn(
        f"Method expects CSR input, and was passed {type(matrix).__name__} instead. "
        f"Converting to CSR took {time.time() - start} seconds",
        ParameterWarning,
        stacklevel=4,
    )
    return out


def _check_finite(matrix, name):
    if matrix.dtype.kind != "f":
        return
    bad = ~np.isfinite(matrix.data)
    if not bad.any():
        return
    n_nan = int(np.isnan(matrix.data).sum())
    n_inf = int(bad.sum()) - n_nan
    first = int(np.flatnonzero(bad)[0])
    row = int(np.searchsorted(matrix.indptr, first, side="right") - 1)
    col = int(matrix.indices[first])
    raise ValueError(
        f"{name} contains {n_nan} NaN and {n_inf} infinite values; "
        f"the first is at (row {row}, column {col})"
    )


def confidences(matrix, alpha, dtype):
    """Stored confidences as fastals' kernels read them: a CSR sharing ``matrix``'s indices.

    Exactly implicit's rounding: data cast to float32, multiplied by ``alpha`` (float32
    product), then held in the factor dtype.
    """
    data = matrix.data.astype(np.float32, copy=False)  # the caller's array is only read
    if alpha != 1.0:
        with np.errstate(over="ignore"):
            data = (alpha * data).astype(np.float32)
    data = data.astype(dtype, copy=False)
    if not np.isfinite(data).all():
        raise ValueError(f"alpha={alpha} times the input overflows float32")
    return sp.csr_matrix((data, matrix.indices, matrix.indptr), shape=matrix.shape, copy=False)


def check_ids(ids, count, name, what, any_shape=False):
    """Return ``ids`` as an int64 array (1-D, or 0-D for a scalar) checked against ``count``.

    ``name`` is the argument ("userid"), ``what`` the plural noun ("users"); ``any_shape``
    accepts arrays of any dimension. Raises TypeError for non-integers and IndexError
    naming the first id out of range.
    """
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu" or (arr.ndim > 1 and not any_shape):
        if arr.ndim == 1 and arr.size == 0:
            return arr.astype(np.int64)
        raise TypeError(f"{name} must be an integer or a 1-D array of integers, got {ids!r:.80}")
    bad = (arr < 0) | (arr >= count)
    if bad.any():
        first = int(arr[bad].flat[0])
        raise IndexError(
            f"{name} {first} is out of range: the model has {count} {what} "
            f"(valid ids 0..{count - 1})"
        )
    return arr.astype(np.int64, copy=False)


def check_rows(matrix, n_rows, n_cols, name, row_what, col_what, full_count=None):
    """``matrix`` (one row per requested id) as canonical CSR, with its shape checked.

    Expected shape (n_rows, n_cols). A matrix whose shape is the transposed model shape
    is called transposed; one with ``full_count`` rows when fewer were expected is the full
    matrix passed where rows were expected.
    """
    if matrix is None:
        raise ValueError(f"{name} is required here: pass one row per requested {row_what[:-1]}")
    if sp.issparse(matrix) and matrix.format == "csr" and not isinstance(matrix, sp.csr_matrix):
        matrix = sp.csr_matrix(matrix)  # csr_array: accepted as is
    matrix = to_csr(matrix, name)
    rows, cols = matrix.shape
    if cols != n_cols:
        hint = ""
        if full_count is not None and rows == n_cols and cols == full_count:
            hint = f" It looks transposed ({col_what} x {row_what}): pass {row_what} x {col_what}."
        elif full_count is not None and cols == full_count:
            hint = (
                f" Its width is the model's number of {row_what} ({full_count}): the model looks"
                f" fitted on a transposed ({col_what} x {row_what}) matrix; fit expects"
                f" {row_what} x {col_what}."
            )
        raise ValueError(
            f"{name} has {cols} columns but the model has {n_cols} {col_what}: expected shape "
            f"({n_rows}, {n_cols}).{hint}"
        )
    if rows != n_rows:
        hint = ""
        if full_count is not None and rows == full_count:
            hint = (
                f" It looks like the full {row_what} x {col_what} matrix: pass only the requested"
                f" rows, e.g. {name}[{row_what[:-1]}id]."
            )
        raise ValueError(
            f"{name} must contain 1 row for every {row_what[:-1]} in {row_what[:-1]}ids: "
            f"expected {n_rows} rows, got {rows}.{hint}"
        )
    return matrix
