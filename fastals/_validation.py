"""Input checks and conversion to canonical inputs. Every clear error message lives here."""

import numbers
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INT32_MAX = np.iinfo(np.int32).max


class ParameterWarning(Warning):
    """An argument was accepted but converted (as ``implicit.utils.ParameterWarning``).

    Warnings are raised as ``parameter_warning()``'s class: this one, or, once the calling
    program has imported implicit, a subclass of both this and implicit's class, so that
    filters and ``pytest.warns`` written for implicit catch them too.
    """


_BOTH_WARNINGS = {}


def parameter_warning():
    """The ParameterWarning class to raise: ours, or ours and implicit's when implicit is
    already imported (never imported here: fastals does not depend on it)."""
    theirs = getattr(sys.modules.get("implicit.utils"), "ParameterWarning", None)
    if not (isinstance(theirs, type) and issubclass(theirs, Warning)):
        return ParameterWarning
    if theirs not in _BOTH_WARNINGS:
        _BOTH_WARNINGS[theirs] = type(
            "ParameterWarning",
            (ParameterWarning, theirs),
            {"__module__": __name__, "__doc__": ParameterWarning.__doc__},
        )
    return _BOTH_WARNINGS[theirs]


class NotFittedError(ValueError, AttributeError):
    """A serving call on a model without factors (as scikit-learn's NotFittedError)."""


class ModelFitError(Exception):
    """Training produced non-finite factors (as ``implicit.recommender_base.ModelFitError``)."""


def check_positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


SEED_TYPES = (np.random.Generator, np.random.RandomState, np.random.BitGenerator)


def check_random_state(value):
    """``random_state``: None, an int >= 0, a Generator, RandomState, BitGenerator or
    SeedSequence (what ``np.random.default_rng`` takes, RandomState seeding a Generator)."""
    if value is None or isinstance(value, SEED_TYPES + (np.random.SeedSequence,)):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            "random_state must be None, an integer >= 0 or a numpy Generator/RandomState, "
            f"got {type(value).__name__} {value!r:.80}"
        )
    if value < 0:
        raise ValueError(f"random_state must be >= 0 (numpy seeds are non-negative), got {value}")
    return value


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
    check_positive_int("iterations", model.iterations, minimum=0)  # 0: initialise only
    check_positive_int("cg_steps", model.cg_steps)
    check_finite_real("regularization", model.regularization, minimum=0)
    check_finite_real("alpha", model.alpha)
    check_num_threads(model.num_threads)
    check_random_state(model.random_state)
    model.dtype = check_dtype(model.dtype)


def to_csr(matrix, name="user_items", allow_no_rows=False):
    """Return ``matrix`` as a canonical ``csr_matrix`` without modifying the caller's object.

    Canonical: 2-D, at least one row (none with ``allow_no_rows``) and column, a valid
    structure (``check_structure``), real numeric data, finite, duplicates summed,
    sorted indices, int32 indices/indptr (int64 only when nnz needs it). Any other sparse
    format, a ``csr_array`` or a dense array is converted with a ParameterWarning, as implicit
    does. Explicitly stored zeros are kept (they mean confidence 0).
    """
    if sp.issparse(matrix):
        matrix = check_structure(matrix, name)
    if not (sp.issparse(matrix) and matrix.format == "csr" and isinstance(matrix, sp.csr_matrix)):
        matrix = _convert(matrix, name)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got {matrix.ndim}-D with shape {matrix.shape}")
    if (matrix.shape[0] == 0 and not allow_no_rows) or matrix.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {matrix.shape}")
    kind = matrix.dtype.kind
    if kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {matrix.dtype}")
    _check_finite(matrix, name)
    if not _is_canonical(matrix.indptr, matrix.indices):
        matrix = matrix.copy()
        # scipy trusts its cached flags, which a caller's in-place edits can leave stale
        matrix.has_sorted_indices = False
        matrix.has_canonical_format = False
        matrix.sum_duplicates()  # sums and sorts, keeps stored zeros
    index_dtype = np.int32 if matrix.nnz <= INT32_MAX else np.int64
    if matrix.indices.dtype != index_dtype or matrix.indptr.dtype != index_dtype:
        matrix = sp.csr_matrix(
            (matrix.data, matrix.indices.astype(index_dtype), matrix.indptr.astype(index_dtype)),
            shape=matrix.shape,
        )
    return matrix


def check_structure(matrix, name="user_items"):
    """``matrix`` (scipy sparse) with its index arrays checked to describe a valid matrix.

    scipy does not check the arrays a CSR/CSC/COO/BSR matrix is built from (nor later edits
    of them), and its C++ routines read and write out of bounds on bad ones. This is the one
    check, O(nnz) and vectorised, after which the kernels may trust the indices: ``indptr``
    of length major + 1, starting at 0, never decreasing, ending within the stored arrays;
    every index in [0, minor). Index arrays longer than ``indptr[-1]`` are trimmed (views).
    Raises ValueError naming the first problem.
    """
    fmt = matrix.format
    if fmt in ("csr", "csc", "bsr"):
        label = f"{name} is not a valid {fmt.upper()} matrix:"
        indptr = _index_array(matrix.indptr, "indptr", label)
        indices = _index_array(matrix.indices, "indices", label)
        if indptr is not matrix.indptr or indices is not matrix.indices:
            parts = (matrix.data, indices, indptr)
            shape = matrix.shape
            matrix = type(matrix)(shape, dtype=matrix.dtype, **_blocksize(matrix))
            matrix.data, matrix.indices, matrix.indptr = parts  # checked below, not by scipy
        return _check_compressed(matrix, name)
    if fmt == "coo":
        coords = getattr(matrix, "coords", None) or (matrix.row, matrix.col)
        if len(coords) == 2:
            label = f"{name} is not a valid COO matrix:"
            for axis, (index, extent) in enumerate(zip(coords, matrix.shape, strict=True)):
                what = ("row", "column")[axis]
                index = _index_array(np.asarray(index), f"{what} indices", label)
                _check_index_range(index, extent, label[:-1], f"{what} index")
            if not len(coords[0]) == len(coords[1]) == len(matrix.data):
                raise ValueError(f"{label} row, col and data lengths differ")
    return matrix


def _blocksize(matrix):
    return {"blocksize": matrix.blocksize} if matrix.format == "bsr" else {}


def _index_array(array, what, label):
    """``array`` as int32/int64 for the checks: other integer dtypes (which wrap around in
    differences, or hold values past int64) are converted, exactly or with a ValueError."""
    if not isinstance(array, np.ndarray) or array.ndim != 1 or array.dtype.kind not in "iu":
        kind = getattr(array, "dtype", type(array).__name__)
        raise ValueError(f"{label} {what} must be a 1-D integer array, got {kind}")
    if array.dtype in (np.dtype(np.int32), np.dtype(np.int64)):
        return array
    if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{label} {what} holds {array.max()}, beyond any valid index")
    return array.astype(np.int64)


def csr_from_arrays(data, indices, indptr, shape, name):
    """A canonical CSR (``to_csr``) from stored arrays, e.g. read from a file: the shape, the
    arrays' dimensions and lengths checked here, the structure by ``check_structure``, so a
    crafted file gives a ValueError, never a crash."""
    shape = tuple(np.asarray(shape).tolist()) if np.ndim(shape) == 1 else shape
    if isinstance(shape, tuple):
        shape = tuple(int(n) if isinstance(n, numbers.Integral) else n for n in shape)
    if not (
        isinstance(shape, tuple)
        and len(shape) == 2
        and all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in shape)
        and min(shape) >= 0
    ):
        shown = repr(np.asarray(shape, dtype=object).tolist())[:80]
        raise ValueError(f"{name}: the shape must be two integers >= 0, got {shown}")
    arrays = [np.asarray(a) for a in (data, indices, indptr)]
    for array, what in zip(arrays, ("data", "indices", "indptr"), strict=True):
        if array.ndim != 1:
            raise ValueError(f"{name}: {what} must be 1-D, got shape {array.shape}")
    data, indices, indptr = arrays
    if len(indptr) != shape[0] + 1:  # before building on ``shape``: it may claim 10**12 rows
        raise ValueError(
            f"{name}: indptr has {len(indptr)} entries, expected {shape[0] + 1} (rows + 1)"
        )
    if len(indices) != len(data):
        raise ValueError(f"{name}: {len(indices)} indices but {len(data)} values")
    matrix = sp.csr_matrix(shape, dtype=data.dtype)  # then the arrays, unchecked by scipy
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    return to_csr(matrix, name, allow_no_rows=True)


def _check_compressed(matrix, name):
    fmt = matrix.format
    block = matrix.blocksize if fmt == "bsr" else (1, 1)
    major_axis = 1 if fmt == "csc" else 0
    n_major = matrix.shape[major_axis] // block[major_axis]
    n_minor = matrix.shape[1 - major_axis] // block[1 - major_axis]
    major, minor = ("column", "row") if fmt == "csc" else ("row", "column")
    label = f"{name} is not a valid {fmt.upper()} matrix:"
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    if not isinstance(data, np.ndarray) or data.ndim != 1:
        raise ValueError(f"{label} data must be a 1-D array, got shape {np.shape(data)}")
    if len(indptr) != n_major + 1:
        raise ValueError(
            f"{label} indptr has {len(indptr)} entries, expected {n_major + 1} "
            f"(the number of {major}s + 1)"
        )
    if indptr[0] != 0:
        raise ValueError(f"{label} indptr[0] is {indptr[0]}, expected 0")
    steps = np.diff(indptr)
    if steps.size and steps.min() < 0:
        at = int(np.argmax(steps < 0))
        raise ValueError(
            f"{label} indptr decreases at {major} {at} "
            f"(indptr[{at}] = {indptr[at]} > indptr[{at + 1}] = {indptr[at + 1]})"
        )
    nnz = int(indptr[-1])
    if nnz > len(indices) or nnz > len(data):
        raise ValueError(
            f"{label} indptr[-1] = {nnz} but only {len(indices)} indices and {len(data)} "
            "values are stored"
        )
    _check_index_range(indices[:nnz], n_minor, label[:-1], f"{minor} index", indptr, major)
    if len(indices) == nnz and len(data) == nnz:
        return matrix
    parts = (data[:nnz], indices[:nnz], indptr)
    return type(matrix)(parts, shape=matrix.shape, copy=False)


def _check_index_range(index, extent, label, what, indptr=None, major=None):
    if index.size == 0:
        return
    if index.dtype.kind not in "iu":
        raise ValueError(f"{label}: {what} array must be integer, got {index.dtype}")
    low, high = index.min(), index.max()
    if low >= 0 and high < extent:
        return
    at = int(np.argmax((index < 0) | (index >= extent)))
    where = ""
    if indptr is not None:
        where = f" ({major} {int(np.searchsorted(indptr, at, side='right') - 1)})"
    problem = "negative" if index[at] < 0 else f"out of range (valid 0..{extent - 1})"
    raise ValueError(f"{label}: {what} {index[at]} at position {at}{where} is {problem}")


def _is_canonical(indptr, indices):
    """Whether every row's indices strictly increase (sorted, no duplicates), computed
    (scipy's cached ``has_canonical_format`` goes stale when the arrays are edited)."""
    nnz = int(indptr[-1])
    if nnz < 2:
        return True
    increasing = indices[1:nnz] > indices[: nnz - 1]
    starts = indptr[1:-1]
    starts = starts[(starts > 0) & (starts < nnz)]
    increasing[starts - 1] = True  # a row's first entry need not exceed the last row's
    return bool(increasing.all())


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
        parameter_warning(),
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
    accepts arrays of any dimension; ``count=None`` checks the type only. Raises TypeError
    for non-integers and IndexError naming the first id out of range.
    """
    try:
        arr = np.asarray(ids)
    except ValueError:  # ragged nested sequences
        raise TypeError(f"{name} must be an integer or a 1-D array of integers") from None
    if arr.dtype.kind not in "iu" or (arr.ndim > 1 and not any_shape):
        if arr.ndim == 1 and arr.size == 0:
            return arr.astype(np.int64)
        raise TypeError(f"{name} must be an integer or a 1-D array of integers, got {ids!r:.80}")
    if count is None:
        return arr.astype(np.int64, copy=False)
    bad = (arr < 0) | (arr >= count)
    if bad.any():
        first = int(arr[bad].flat[0])
        raise IndexError(
            f"{name} {first} is out of range: the model has {count} {what} "
            f"(valid ids 0..{count - 1})"
        )
    return arr.astype(np.int64, copy=False)


def batch_shape(ids, name, what):
    """(scalar, count) of an id argument: one integer id (Python, NumPy or a 0-d array) or a
    1-D array of them, of any value >= 0 (new ids may grow a model); TypeError otherwise."""
    arr = check_ids(ids, None, name, what)
    return arr.ndim == 0, arr.size


def check_rows(matrix, n_rows, n_cols, name, row_what, col_what, full_count=None):
    """``matrix`` (one row per requested id) as canonical CSR, with its shape checked.

    Expected shape (n_rows, n_cols). A narrower matrix is accepted, its missing columns
    empty (as implicit: rows from before ``partial_fit_*`` grew the model); a wider one is
    an error. A matrix whose shape is the transposed model shape is called transposed; one
    with ``full_count`` rows when fewer were expected is the full matrix passed where rows
    were expected.
    """
    if matrix is None:
        raise ValueError(f"{name} is required here: pass one row per requested {row_what[:-1]}")
    if sp.issparse(matrix) and matrix.format == "csr" and not isinstance(matrix, sp.csr_matrix):
        matrix = sp.csr_matrix(check_structure(matrix, name))  # csr_array: accepted as is
    matrix = to_csr(matrix, name, allow_no_rows=n_rows == 0)
    rows, cols = matrix.shape
    transposed = full_count is not None and rows == n_cols and cols == full_count
    if cols > n_cols or (cols < n_cols and transposed):
        hint = ""
        if transposed:
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
    if cols < n_cols:  # columns added since: empty in these rows
        matrix = sp.csr_matrix(
            (matrix.data, matrix.indices, matrix.indptr), shape=(rows, n_cols), copy=False
        )
    return matrix
