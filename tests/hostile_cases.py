"""Hostile inputs for every public call of ``fastals.AlternatingLeastSquares`` (issue 14).

Run by ``tests/test_hostile.py`` in a child process, one case per process
(``python tests/hostile_cases.py CASE``), so that a segfault or an abort fails that test
instead of killing pytest. Each case is a hypothesis test; every generated call must end in

* a clear error: a documented type (ValueError, TypeError, IndexError; NotFittedError is a
  ValueError), a non-empty message raised by a fastals check (or one of the few library
  messages in CLEAR_LIBRARY), none of the raw phrases in RAW_MESSAGES; or
* the answer of a brute-force oracle: ``tests/test_serving.py``'s top-N oracle (implicit's
  heap and tie rule), ``fastals.reference.normal_equations`` solved by NumPy, exact dot
  products, fitting the canonical matrix, or numpy's own reading of a model file.

Whether a hostile input is valid is decided independently of fastals: ``meaning`` reads the
CSR/CSC/COO/BSR arrays the way the format defines them (exact integers, no wrap-around) and
returns the matrix they describe, or None when they describe none (then only an error is
acceptable). Before each call the case is written to $HOSTILE_TRACE, so that the parent can
name the input that crashed the process.
"""

import contextlib
import faulthandler
import functools
import io
import json
import math
import os
import re
import signal
import socket
import sys
import tempfile
import traceback
import warnings
import zipfile

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_serving import csr_rows, oracle

import fastals
from fastals import AlternatingLeastSquares
from fastals._validation import NotFittedError
from fastals.cli import main as cli_main
from fastals.model_files import FACTOR_KEYS, REQUIRED_KEYS, model_arrays
from fastals.reference import normal_equations

FASTALS_DIR = os.path.dirname(os.path.abspath(fastals.__file__)) + os.sep
DOCUMENTED = (ValueError, TypeError, IndexError)  # NotFittedError is a ValueError
RAW_MESSAGES = re.compile(
    "|".join(
        [
            r"out of bounds",
            r"vector::|_M_|std::",
            r"truth value of an array",
            r"unsized object",
            r"has no len\(\)",
            r"not supported between instances",
            r"unsupported operand",
            r"gufunc|matmul:",
            r"Unable to allocate",
            r"array is too big",
            r"Maximum allowed dimension",
            r"negative dimensions",
            r"setting an array element with a sequence",
            r"could not convert|invalid literal",
            r"only integer scalar arrays|only integers, slices",
            r"'NoneType' object|has no attribute|object is not (callable|iterable|subscriptable)",
            r"nopython|[Nn]umba|No implementation of function",
            r"Cannot cast|cannot be safely cast",
            r"unhashable",
        ]
    )
)
# numpy/scipy messages that name the problem well enough when they reach the caller
CLEAR_LIBRARY = re.compile(
    r"shape mismatch: objects cannot be broadcast"  # predict(userids, itemids) of other shapes
    r"|all index and data arrays must have the same length"  # scipy's own COO check
    r"|data, indices, and indptr should be 1-D"  # scipy's own CSR check
    r"|scipy.sparse does not support dtype"  # e.g. float16 data assigned to a CSR
)
N_STRUCTURE = 160  # examples per structure case
N_IDS = 400
N_FILES = 120

SETTINGS = settings(
    max_examples=N_STRUCTURE,
    deadline=None,
    derandomize=True,  # the same examples on every run and machine
    database=None,
    suppress_health_check=list(HealthCheck),
    # no shrinking: a failure's message already names the whole (small) call, and shrinking
    # a crash-prone input costs minutes
    phases=(Phase.explicit, Phase.generate),
)
CASES = {}
# HOSTILE_COLLECT=1: record every distinct failure and report them all at the end, instead
# of stopping (and shrinking) at the first one (a crash still ends the process)
COLLECT = os.environ.get("HOSTILE_COLLECT") == "1"
FAILURES = {}


def case(examples, *strategies, over=None):
    """Register ``test`` as a case run by name: a hypothesis test of ``examples`` examples
    drawn from ``strategies`` (a plain function without them). With ``over``, each
    strategy is a function of an item of ``over`` and every item gets its own hypothesis
    run, with an equal share of the examples (hypothesis' own choice would favour the
    first)."""

    def register(test):
        @functools.wraps(test)
        def checked(*args, **kwargs):
            try:
                test(*args, **kwargs)
            except AssertionError as failure:
                if not COLLECT:
                    raise
                text = str(failure)
                cause = failure.__cause__
                key = f"{type(cause).__name__}: {cause}" if cause else text.split(": ")[-1]
                key = re.sub(r"\d+", "#", key)[:160]
                FAILURES.setdefault(key, [0, text])[0] += 1

        if over is not None:
            share = settings(SETTINGS, max_examples=max(examples // len(over), 10))
            runs = [share(given(*(s(item) for s in strategies))(checked)) for item in over]

            def run_all():
                for run in runs:
                    run()

            CASES[test.__name__] = run_all
        elif strategies:
            CASES[test.__name__] = settings(SETTINGS, max_examples=examples)(
                given(*strategies)(checked)
            )
        else:
            CASES[test.__name__] = checked
        return test

    return register


# --------------------------------------------------------------------------------------
# Outcomes: a clear error or a result
# --------------------------------------------------------------------------------------
_TRACE = None


def trace(description):
    """Record the call about to run (the parent reports the last one after a crash)."""
    global _TRACE
    path = os.environ.get("HOSTILE_TRACE")
    if path is None:
        return
    if _TRACE is None:
        _TRACE = open(path, "a", buffering=1)  # noqa: SIM115 (open for the process's life)
    _TRACE.write(description.replace("\n", " ") + "\n")


def short(value, width=160):
    """A one-line repr of an argument, arrays with their dtype."""
    if isinstance(value, np.ndarray):
        text = f"array({np.array2string(value, threshold=20, separator=',')}, {value.dtype})"
    elif sp.issparse(value):
        parts = [f"{type(value).__name__}{value.shape}"]
        for name in ("indptr", "indices", "data", "row", "col"):
            if hasattr(value, name):
                parts.append(f"{name}={short(getattr(value, name), 80)}")
        text = " ".join(parts)
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def check_clear(exc, allowed=DOCUMENTED):
    """Fail unless ``exc`` is a clear error (see the module docstring)."""
    frames = traceback.extract_tb(exc.__traceback__)
    origin = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    message = str(exc)
    # a fastals message may quote the error it wraps (raise ... from exc): judge its own words
    own = message.replace(str(exc.__cause__), "") if exc.__cause__ is not None else message
    problems = []
    if not isinstance(exc, allowed):
        problems.append(f"not one of {[t.__name__ for t in allowed]}")
    if not own.strip(" :"):
        problems.append("empty message")
    if RAW_MESSAGES.search(own):
        problems.append("a raw numpy/scipy/Python message")
    if not origin.startswith(FASTALS_DIR) and not CLEAR_LIBRARY.search(message):
        problems.append(f"raised in {origin}, not by a fastals check")
    if problems:
        raise AssertionError(
            f"unclear error {type(exc).__name__}({message!r:.300}): {'; '.join(problems)}"
        ) from exc


def attempt(description, call, allowed=DOCUMENTED):
    """(result, None) or (None, exception), the exception checked to be clear."""
    trace(description)
    try:
        return call(), None
    except Exception as exc:  # noqa: BLE001 (every exception is judged by check_clear)
        try:
            check_clear(exc, allowed)
        except AssertionError as unclear:
            raise AssertionError(f"{description}: {unclear}") from exc
        return None, exc


def judged(desc, call, verdict):
    """``call``'s result where ``verdict`` expects one; None where it was refused (INVALID)
    or, under EITHER, raised a clear error instead."""
    if verdict == INVALID:
        refused(desc, call)
        return None
    result, exc = accepted(desc, call, tolerate=verdict == EITHER)
    return None if exc is not None else result


def refused(description, call):
    """Run ``call`` on input that has no valid meaning: it must raise a clear error."""
    result, exc = attempt(description, call)
    assert exc is not None, f"{description}: accepted, returned {short(result, 300)}"


def accepted(description, call, tolerate=False):
    """Run ``call`` on valid input: its result (None if ``tolerate`` and it raised)."""
    result, exc = attempt(description, call)
    if exc is not None and not tolerate:
        raise AssertionError(f"{description}: valid input refused: {exc!r}") from exc
    return result, exc


# --------------------------------------------------------------------------------------
# What a sparse structure means, read without fastals
# --------------------------------------------------------------------------------------
def _ints(array):
    """The entries of an integer array as exact Python ints; None unless 1-D integer."""
    array = np.asarray(array)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        return None
    return [int(v) for v in array.tolist()]


def _finite_reals(data):
    """Whether ``data`` holds real numbers, all finite (fastals checks every stored one)."""
    data = np.asarray(data)
    if data.dtype.kind not in "biuf":
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(data.astype(np.float64)).all())


def _summed(cells, data, shape, confidences):
    """(stored, values) of ``data`` at ``cells`` [(row, col), ...], duplicates summed in the
    data's dtype as scipy sums them (bool: or; int8: wraps); None when a sum float32 cannot
    hold and it is to become a confidence."""
    stored = np.zeros(shape, bool)
    acc = np.zeros(shape, dtype=data.dtype)
    with np.errstate(all="ignore"):
        for (r, c), v in zip(cells, data, strict=True):
            stored[r, c] = True
            acc[r, c] = acc[r, c] + v
        total = acc.astype(np.float64)
        if confidences and not np.isfinite(total.astype(np.float32)).all():
            return None
    return stored, total


def meaning(matrix, confidences=True):
    """(stored, values): the dense matrix a scipy sparse/dense input describes, stored
    explicit entries (zeros included) and their sums; None when the arrays are not a
    valid matrix of their format (index out of range, indptr decreasing or too short,
    non-real or non-finite data, sums float32 cannot hold as ``confidences``, ...)."""
    if not sp.issparse(matrix):
        dense = np.asarray(matrix)
        if dense.ndim != 2 or not _finite_reals(dense):
            return None
        cells = list(zip(*np.nonzero(dense), strict=True))  # CSR conversion drops zeros
        return _summed(cells, dense[dense != 0], dense.shape, confidences)
    shape = matrix.shape
    if matrix.format == "coo":
        row, col = (_ints(a) for a in matrix.coords)
        data = np.asarray(matrix.data)
        if row is None or col is None or data.ndim != 1 or not len(row) == len(col) == len(data):
            return None
        if not _finite_reals(data):
            return None
        if not all(0 <= r < shape[0] and 0 <= c < shape[1] for r, c in zip(row, col, strict=True)):
            return None
        return _summed(list(zip(row, col, strict=True)), data, shape, confidences)
    if matrix.format == "lil":
        cells = [(r, c) for r, cols in enumerate(matrix.rows) for c in cols]
        data = np.array([v for vals in matrix.data for v in vals], dtype=matrix.dtype)
        return _summed(cells, data, shape, confidences) if _finite_reals(data) else None
    if matrix.format not in ("csr", "csc", "bsr"):
        return None
    R, C = matrix.blocksize if matrix.format == "bsr" else (1, 1)
    major_shape = shape if matrix.format != "csc" else shape[::-1]
    n_major, n_minor = major_shape[0] // R, major_shape[1] // C
    indptr, indices = _ints(matrix.indptr), _ints(matrix.indices)
    data = np.asarray(matrix.data)
    if indptr is None or indices is None or len(indptr) != n_major + 1 or indptr[0] != 0:
        return None
    if any(b < a for a, b in zip(indptr, indptr[1:], strict=False)):
        return None
    nnz = indptr[-1]
    if data.ndim != (3 if matrix.format == "bsr" else 1) and data.size == 0:
        data = data.reshape((0, R, C) if matrix.format == "bsr" else 0)  # nothing stored
    if nnz > len(indices) or nnz > len(data) or data.ndim != (3 if matrix.format == "bsr" else 1):
        return None
    data = data[:nnz].reshape(nnz, R * C)  # one row of R*C values per block (1 for CSR/CSC)
    if not _finite_reals(data):
        return None
    cells, values = [], []
    for major in range(n_major):
        for p in range(indptr[major], indptr[major + 1]):
            if not 0 <= indices[p] < n_minor:
                return None
            for j in range(R * C):
                cell = (major * R + j // C, indices[p] * C + j % C)
                cells.append(cell if matrix.format != "csc" else cell[::-1])
                values.append(data[p, j])
    return _summed(cells, np.array(values, dtype=data.dtype), shape, confidences)


def canonical(stored, values):
    """The canonical CSR of a meaning (float32 data, stored zeros kept)."""
    return csr_rows(stored, values, stored.shape[1])


# --------------------------------------------------------------------------------------
# Hostile sparse inputs
# --------------------------------------------------------------------------------------
VALUES = st.sampled_from([-2.0, 1.0, 2.0, 4.0])  # confidence >= 1: A_u stays positive definite
NORMAL_INDEX = [np.int32, np.int64]
ODD_INDEX = [np.int8, np.int16, np.uint8, np.uint16, np.uint32, np.uint64]
CORRUPT = [
    "index_high",
    "index_negative",
    "index_any",
    "indptr_set",
    "indptr_swap",
    "indptr_append",
    "indptr_drop",
    "indices_short",
    "data_short",
]
REORDER = ["shuffle", "duplicate", "trailing"]
BAD_DATA = ["non_finite", "too_big", "data_dtype", "data_2d"]


@st.composite
def base_matrix(draw, n_rows, n_cols, values=VALUES):
    """(stored, values) dense: a valid matrix to start from."""
    stored = draw(hnp.arrays(np.bool_, (n_rows, n_cols)))
    vals = np.array(draw(st.lists(values, min_size=n_rows * n_cols, max_size=n_rows * n_cols)))
    return stored, np.where(stored, vals.reshape(n_rows, n_cols), 0.0)


def _fit_dtype(draw, values, dtype):
    """``values`` (Python ints) in ``dtype``: out-of-range values replaced by ones in range,
    often the extremes (where differences wrap around)."""
    info = np.iinfo(dtype)
    wrap = [info.min, info.max, info.min // 2 - 1, info.max // 2 + 1]
    extremes = st.sampled_from([v for v in wrap if info.min <= v <= info.max])
    in_range = extremes | st.integers(info.min, info.max)
    return np.array(
        [v if info.min <= v <= info.max else draw(in_range) for v in values], dtype=dtype
    )


@st.composite
def compressed_arrays(draw, n_major, n_minor, mutations, index_dtypes):
    """(data, indices, indptr) of a CSR-like structure, changed by ``mutations``."""
    stored, vals = draw(base_matrix(n_major, n_minor))
    rows, cols = np.nonzero(stored)
    data = [float(v) for v in vals[rows, cols]]
    indices = [int(c) for c in cols]
    indptr = [0] + np.cumsum(stored.sum(axis=1)).tolist()
    n_changes = draw(st.integers(1, 3))
    for name in draw(st.lists(st.sampled_from(mutations), min_size=n_changes, max_size=n_changes)):
        nnz = len(indices)
        intact = (
            len(indptr) == n_major + 1
            and indptr[0] == 0
            and indptr[-1] == nnz == len(data)
            and all(b >= a for a, b in zip(indptr, indptr[1:], strict=False))
        )
        if name in ("shuffle", "duplicate") and not intact:
            continue
        if name == "shuffle" and nnz:
            r = draw(st.integers(0, n_major - 1))
            lo, hi = indptr[r], indptr[r + 1]
            order = draw(st.permutations(range(lo, hi)))
            indices[lo:hi] = [indices[p] for p in order]
            data[lo:hi] = [data[p] for p in order]
        elif name == "duplicate" and nnz:
            p = draw(st.integers(0, nnz - 1))
            part = float(draw(st.integers(-3, 3)))
            data[p] -= part
            r = max(i for i in range(n_major) if indptr[i] <= p < indptr[i + 1])
            at = draw(st.integers(indptr[r], indptr[r + 1]))
            indices.insert(at, indices[p])
            data.insert(at, part)
            indptr = indptr[: r + 1] + [v + 1 for v in indptr[r + 1 :]]
        elif name == "trailing":
            extra = draw(st.integers(1, 3))
            indices += draw(st.lists(st.integers(-5, n_minor + 5), min_size=extra, max_size=extra))
            data += draw(
                st.lists(st.sampled_from([np.nan, 1.0, -np.inf]), min_size=extra, max_size=extra)
            )
        elif name == "index_high" and nnz:
            indices[draw(st.integers(0, nnz - 1))] = n_minor + draw(st.integers(0, 2**31 - 1))
        elif name == "index_negative" and nnz:
            indices[draw(st.integers(0, nnz - 1))] = -draw(st.integers(1, 2**31))
        elif name == "index_any" and nnz:
            indices[draw(st.integers(0, nnz - 1))] = draw(st.integers(-(2**63), 2**64 - 1))
        elif name == "indptr_set":
            at = draw(st.integers(0, len(indptr) - 1))
            near = st.integers(-2, nnz + 2)
            indptr[at] = draw(near | st.integers(-(2**63), 2**64 - 1))
        elif name == "indptr_swap" and len(indptr) > 2:
            i, j = draw(st.lists(st.integers(0, len(indptr) - 1), min_size=2, max_size=2))
            indptr[i], indptr[j] = indptr[j], indptr[i]
        elif name == "indptr_append":
            indptr.append(draw(st.integers(0, nnz + 2)))
        elif name == "indptr_drop" and indptr:
            indptr.pop(draw(st.sampled_from([0, -1])))
        elif name == "indices_short" and nnz:
            indices = indices[: draw(st.integers(0, nnz - 1))]
        elif name == "data_short" and nnz:
            data = data[: draw(st.integers(0, nnz - 1))]
    indptr = _fit_dtype(draw, indptr, draw(st.sampled_from(index_dtypes)))
    indices = _fit_dtype(draw, indices, draw(st.sampled_from(index_dtypes)))
    return np.array(data), indices, indptr


def _bad_data(draw, data):
    """``data`` made hostile: a NaN/inf, a value float32 cannot hold, a non-real dtype, 2-D."""
    kind = draw(st.sampled_from(BAD_DATA))
    data = data.copy()
    if kind == "non_finite" and data.size:
        data[draw(st.integers(0, data.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    elif kind == "too_big" and data.size:
        data[draw(st.integers(0, data.size - 1))] = draw(st.sampled_from([1e39, -1e300]))
    elif kind == "data_dtype":
        dtype = draw(st.sampled_from([np.complex128, object, str, np.bool_, np.float16, np.int8]))
        data = data.astype(dtype)
    elif kind == "data_2d":
        data = data.reshape(-1, 1)
    return data


def _stale_flags(draw, matrix):
    """Maybe claim sorted, duplicate-free indices whatever the arrays hold."""
    if draw(st.booleans()):
        matrix.has_sorted_indices = True
        matrix.has_canonical_format = True
    return matrix


@st.composite
def hostile_csr(draw, n_rows, n_cols, family):
    """A CSR matrix (csr_matrix or csr_array) of shape (n_rows, n_cols) for ``family``:
    "corrupt" (broken structure), "odd_dtypes" (index arrays of other integer dtypes,
    values that wrap around), "reordered" (valid: unsorted, duplicates, trailing junk,
    stale flags) or "bad_data" (non-finite, non-real or 2-D data)."""
    mutations, dtypes = {
        "corrupt": (CORRUPT + REORDER, NORMAL_INDEX),
        "odd_dtypes": (
            ["indptr_set", "indptr_set", "index_any", "shuffle", "duplicate"],
            ODD_INDEX,
        ),
        "reordered": (REORDER, NORMAL_INDEX),
        "bad_data": (REORDER, NORMAL_INDEX),
    }[family]
    data, indices, indptr = draw(compressed_arrays(n_rows, n_cols, mutations, dtypes))
    if family == "bad_data":
        data = _bad_data(draw, data)
    cls = draw(st.sampled_from([sp.csr_matrix, sp.csr_array]))
    if family != "odd_dtypes" and draw(st.booleans()):
        # scipy's unchecked constructor: it casts the index dtype and checks little
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return _stale_flags(draw, cls((data, indices, indptr), shape=(n_rows, n_cols)))
        except (ValueError, TypeError, OverflowError):
            pass  # scipy's own check caught it: put the arrays in afterwards instead
    matrix = cls((n_rows, n_cols), dtype=np.float32)
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    return _stale_flags(draw, matrix)


@st.composite
def hostile_other_format(draw, n_rows, n_cols):
    """CSC / COO / BSR with bad indices, or a dense or LIL input, valid or not."""
    formats = ["csc", "coo", "dense", "lil"] + (["bsr"] if n_rows and n_cols else [])
    fmt = draw(st.sampled_from(formats))
    if fmt == "csc":
        data, indices, indptr = draw(
            compressed_arrays(n_cols, n_rows, CORRUPT + REORDER, NORMAL_INDEX + ODD_INDEX)
        )
        matrix = sp.csc_matrix((n_rows, n_cols), dtype=np.float32)
        matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
        return _stale_flags(draw, matrix)
    stored, vals = draw(base_matrix(n_rows, n_cols))
    if fmt == "dense":
        dense = vals.astype(draw(st.sampled_from([np.float32, np.int8, np.bool_, object, str])))
        if draw(st.booleans()):
            dense = _bad_data(draw, dense.ravel().astype(np.float64)).reshape(n_rows, n_cols)
        return dense
    if fmt == "lil":
        return sp.lil_matrix(vals)
    if fmt == "coo":
        row, col = (np.array(a, dtype=np.int64) for a in np.nonzero(stored))
        data = vals[row, col]
        if len(data):
            which = draw(st.sampled_from(["row", "col", "data", "order"]))
            p = draw(st.integers(0, len(data) - 1))
            if which == "order":
                order = np.array(draw(st.permutations(range(len(data)))))
                row, col, data = row[order], col[order], data[order]
            elif which == "data":
                data = data[: draw(st.integers(0, len(data) - 1))]
            else:
                target = row if which == "row" else col
                extent = n_rows if which == "row" else n_cols
                target[p] = draw(st.sampled_from([-1, extent, extent + 10**6, -(2**40)]))
        matrix = sp.coo_matrix((n_rows, n_cols), dtype=np.float32)
        dtype = draw(st.sampled_from(NORMAL_INDEX))
        matrix.coords = (row.astype(dtype), col.astype(dtype))
        matrix.data = data
        return matrix
    # BSR: blocks of a divisor size, corrupted like CSR
    R = draw(st.sampled_from([d for d in range(1, n_rows + 1) if n_rows % d == 0]))
    C = draw(st.sampled_from([d for d in range(1, n_cols + 1) if n_cols % d == 0]))
    data, indices, indptr = draw(
        compressed_arrays(n_rows // R, n_cols // C, CORRUPT + ["shuffle"], NORMAL_INDEX)
    )
    blocks = np.repeat(np.abs(data)[:, None, None] + 1, R * C).reshape(len(data), R, C)
    matrix = sp.bsr_matrix((np.zeros((0, R, C)), [], [0] * (n_rows // R + 1)), shape=stored.shape)
    matrix.data, matrix.indices, matrix.indptr = blocks, indices, indptr
    return matrix


# --------------------------------------------------------------------------------------
# Models and oracles
# --------------------------------------------------------------------------------------
REGULARIZATION = 1.0


@st.composite
def integer_models(draw, max_users=6, max_items=8):
    """A fitted-looking model with small integer factors (scores exact in float32)."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n_users, n_items = draw(st.integers(1, max_users)), draw(st.integers(1, max_items))
    k = draw(st.integers(1, 3))
    small = st.integers(-3, 3)
    X = draw(hnp.arrays(np.int8, (n_users, k), elements=small)).astype(dtype)
    Y = draw(hnp.arrays(np.int8, (n_items, k), elements=small)).astype(dtype)
    model = AlternatingLeastSquares(factors=k, regularization=REGULARIZATION, dtype=dtype)
    model.user_factors, model.item_factors = X, Y
    return model


def solve_rows(stored, values, other, regularization=REGULARIZATION):
    """Exact factors for each row of a meaning against ``other`` factors, and whether every
    A_u is safely positive definite (else fastals may refuse it: Cholesky fails)."""
    other = np.asarray(other, np.float64)
    out, definite = [], True
    for r in range(stored.shape[0]):
        cols = np.flatnonzero(stored[r])
        A, b = normal_equations(other, regularization, cols, values[r, cols])
        eig = np.linalg.eigvalsh(A)
        definite &= bool(eig.min() > 1e-6 * max(eig.max(), 1.0))
        out.append(np.linalg.solve(A, b) if eig.min() > 0 else np.full(len(b), np.nan))
    return np.array(out).reshape(stored.shape[0], other.shape[1]), definite


def tolerance(dtype):
    return 2e-3 if np.dtype(dtype) == np.float32 else 1e-8


def assert_factors(got, expected, dtype, what):
    scale = max(float(np.abs(expected).max(initial=0.0)), 1.0)
    np.testing.assert_allclose(
        np.asarray(got, np.float64),
        expected,
        rtol=tolerance(dtype),
        atol=tolerance(dtype) * scale,
        err_msg=what,
    )


def assert_ranking(ids, scores, exact, N, excluded, dtype, what):
    """One row of a top-N answer against float64 ``exact`` scores of every candidate:
    rounding may reorder near-ties, nothing else."""
    n = len(exact)
    allowed = [j for j in range(n) if j not in excluded]
    ids = np.asarray(ids)
    assert ids.shape == np.shape(scores) == (min(N, n),), f"{what}: shape {ids.shape}"
    assert len(set(ids.tolist())) == len(ids), f"{what}: duplicate ids {ids}"
    head = ids[: min(len(ids), len(allowed))]
    assert set(head.tolist()) <= set(allowed), f"{what}: filtered ids ranked {ids}"
    assert set(ids[len(head) :].tolist()) <= set(excluded), f"{what}: tail {ids}"
    tol = tolerance(dtype)
    atol = tol * max(float(np.abs(exact).max(initial=0.0)), 1e-30)
    best = np.sort(exact[allowed])[::-1][: len(head)]
    np.testing.assert_allclose(exact[head], best, rtol=tol, atol=atol, err_msg=what)
    head_scores = np.asarray(scores, np.float64)[: len(head)]
    np.testing.assert_allclose(head_scores, exact[head], rtol=tol, atol=atol, err_msg=what)


def cosine(factors, query):
    """Cosine scores as fastals defines them (zero norms count as 1e-10)."""
    factors, query = np.asarray(factors, np.float64), np.asarray(query, np.float64)
    norms = np.linalg.norm(factors, axis=1)
    norms[norms == 0] = 1e-10
    q = np.linalg.norm(query) or 1e-10
    return factors @ query / norms / q


def recommend_oracle(model, users, stored, N, filter_items=(), items=None):
    """Expected (ids, scores) of recommend for ``users`` (test_serving's oracle), row r's
    stored items and ``filter_items`` excluded, N capped at the candidates."""
    X, Y = model.user_factors, model.item_factors
    n = min(int(N), len(Y) if items is None else len(items))
    rows = [
        oracle(
            X[u],
            Y,
            model.dtype,
            n,
            set(np.flatnonzero(stored[r]).tolist()) | set(filter_items),
            items=items,
        )
        if n
        else ([], [])
        for r, u in enumerate(users)
    ]
    ids = np.array([r[0] for r in rows], dtype=np.int64).reshape(len(rows), n)
    scores = np.array([r[1] for r in rows], dtype=model.dtype).reshape(len(rows), n)
    return ids, scores


def assert_same(got, expected, what, subset=False):
    """Exactly the oracle's ids and scores; ids int32 (from ``items`` with a subset)."""
    np.testing.assert_array_equal(got[0], expected[0], err_msg=what)
    np.testing.assert_array_equal(got[1], expected[1], err_msg=what)
    assert got[1].dtype == expected[1].dtype, what
    assert got[0].dtype.kind in "iu" if subset else got[0].dtype == np.int32, what


# --------------------------------------------------------------------------------------
# Calls that take a matrix
# --------------------------------------------------------------------------------------
ITEM_SIDE = ("recalculate_item", "partial_fit_items", "similar_items_recalculate")
SHAPE_KINDS = ["exact", "exact", "exact", "narrower", "wider", "rows", "transposed"]
MATRIX_CALLS = [
    "fit",
    "recommend",
    "recommend_recalculate",
    "recommend_all",
    "recalculate_user",
    "recalculate_item",
    "partial_fit_users",
    "partial_fit_items",
    "explain",
    "similar_items_recalculate",
]


@st.composite
def matrix_calls(draw, family, call):
    """(model, call, ids, matrix, N): ``call`` (one of MATRIX_CALLS) on a ``family`` matrix
    whose shape is usually the expected one, else narrower, wider, transposed or with a
    row too many or too few."""
    model = draw(integer_models())
    n_users, n_items = len(model.user_factors), len(model.item_factors)
    count, width = (n_items, n_users) if call in ITEM_SIDE else (n_users, n_items)
    if call == "fit":
        matrix = draw(hostile_matrix(family, st.integers(1, 6), st.integers(1, 8)))
        return model, call, None, matrix, 0
    kind = draw(st.sampled_from(SHAPE_KINDS))
    if call == "explain":
        ids = (draw(st.integers(0, n_users - 1)), draw(st.integers(0, n_items - 1)))
        rows = draw(st.integers(ids[0] + 1, n_users + 1))
    elif call == "recommend_all":
        ids = list(range(draw(st.integers(0, n_users))))
        rows = len(ids)
    else:
        top = count + 2 if call.startswith("partial_fit") else count - 1
        ids = draw(st.lists(st.integers(0, top), min_size=0, max_size=4, unique=True))
        rows = len(ids)
        if rows == 1 and draw(st.booleans()):
            ids = ids[0]  # a scalar id: 1-D results
    cols = width
    if kind == "narrower":
        cols = draw(st.integers(1, width))
    elif kind == "wider":
        cols = width + draw(st.integers(1, 3))
    elif kind == "rows":
        rows = max(0, rows + draw(st.sampled_from([-1, 1])))
    elif kind == "transposed":  # the whole matrix, transposed
        rows, cols = width, count
        if call not in ("explain", "recommend_all"):
            ids = list(range(rows))
    return (
        model,
        call,
        ids,
        draw(hostile_matrix(family, st.just(rows), st.just(cols))),
        draw(st.integers(0, 12)),
    )


@st.composite
def hostile_matrix(draw, family, rows, cols):
    shape = (draw(rows), draw(cols))
    if family == "other_formats":
        return draw(hostile_other_format(*shape))
    return draw(hostile_csr(*shape, family))


def _transposed(call, model, shape):
    """Whether fastals may call a narrower matrix transposed (its documented guess)."""
    n_users, n_items = len(model.user_factors), len(model.item_factors)
    if call == "fit":
        return False
    if call in ITEM_SIDE:
        return shape == (n_users, n_items) and n_items < n_users
    return shape == (n_items, n_users) and n_users < n_items


def _shape_refused(call, model, ids, shape):
    """Whether the shape (or, for recommend, an id) alone makes the call an error."""
    n_users, n_items = len(model.user_factors), len(model.item_factors)
    rows, cols = shape
    if call == "fit":
        return False
    if cols > (n_users if call in ITEM_SIDE else n_items):
        return True
    if call == "explain":
        return rows <= ids[0]
    if call == "recommend_all":
        return rows > n_users
    if call == "recommend" and np.any(np.asarray(ids, dtype=np.int64) >= n_users):
        return True
    return rows != (1 if np.ndim(ids) == 0 else len(ids))


def run_matrix_call(model, call, ids, matrix, N):
    """Run one matrix call; refused unless the matrix means something, else the oracle."""
    desc = f"{call}(ids={ids!r}, N={N}) on {short(matrix, 400)} dtype={model.dtype.name}"
    X, Y = model.user_factors.copy(), model.item_factors.copy()
    users = np.atleast_1d(np.asarray(ids, dtype=np.int64)) if ids is not None else None
    if call == "recommend_all":  # row r is user r
        users = np.arange(matrix.shape[0])
    calls = {
        "fit": lambda: fresh.fit(matrix, show_progress=False),
        "recommend": lambda: model.recommend(ids, matrix, N=N),
        "recommend_recalculate": lambda: model.recommend(
            ids, matrix, N=N, recalculate_user=True, filter_already_liked_items=False
        ),
        "recommend_all": lambda: model.recommend_all(matrix, N=N),
        "recalculate_user": lambda: model.recalculate_user(ids, matrix),
        "recalculate_item": lambda: model.recalculate_item(ids, matrix),
        "partial_fit_users": lambda: model.partial_fit_users(np.atleast_1d(ids), matrix),
        "partial_fit_items": lambda: model.partial_fit_items(np.atleast_1d(ids), matrix),
        "explain": lambda: model.explain(ids[0], matrix, ids[1], N=N),
        "similar_items_recalculate": lambda: model.similar_items(
            ids, N=N, recalculate_item=True, item_users=matrix
        ),
    }
    fresh = AlternatingLeastSquares(factors=2, iterations=2, random_state=0, dtype=model.dtype)
    # recommend only filters by the stored items and explain turns one row into
    # confidences: values float32 cannot hold elsewhere are no error there
    only_structure = call in ("recommend", "recommend_all", "explain")
    truth = meaning(matrix, confidences=not only_structure)
    if truth is None or _shape_refused(call, model, ids, matrix.shape):
        refused(desc, calls[call])
        return
    stored, values = truth
    n_users, n_items = len(X), len(Y)
    width = n_users if call in ITEM_SIDE else n_items
    if call != "fit" and stored.shape[1] < width:  # narrower: the missing columns are empty
        pad = width - stored.shape[1]
        stored, values = np.pad(stored, ((0, 0), (0, pad))), np.pad(values, ((0, 0), (0, pad)))
    other = X if call in ITEM_SIDE else Y
    solved, definite = (None, True) if call == "fit" else solve_rows(stored, values, other)
    empty = 0 in matrix.shape and (call in ("fit", "explain") or matrix.shape[1] == 0)
    tolerate = empty or not definite or _transposed(call, model, matrix.shape)
    if call == "explain":
        with np.errstate(over="ignore"):
            tolerate |= not np.isfinite(values[ids[0]].astype(np.float32)).all()
    # float16 values (which scipy.sparse refuses), an empty 2-D data array
    data = np.asarray(matrix.data if sp.issparse(matrix) else matrix)
    tolerate |= data.dtype == np.float16
    tolerate |= sp.issparse(matrix) and data.ndim != (3 if matrix.format == "bsr" else 1)
    result, exc = accepted(desc, calls[call], tolerate=tolerate)
    if exc is not None:
        return
    scalar = np.ndim(ids) == 0
    if call == "fit":
        expected = AlternatingLeastSquares(
            factors=2, iterations=2, random_state=0, dtype=fresh.dtype
        )
        expected.fit(canonical(stored, values), show_progress=False)
        np.testing.assert_array_equal(fresh.user_factors, expected.user_factors, err_msg=desc)
        np.testing.assert_array_equal(fresh.item_factors, expected.item_factors, err_msg=desc)
    elif call in ("recommend", "recommend_all"):
        expected = recommend_oracle(model, users, stored, N)
        if call == "recommend_all":
            np.testing.assert_array_equal(result, expected[0], err_msg=desc)
        else:
            assert_same(result, (expected[0][0], expected[1][0]) if scalar else expected, desc)
    elif call == "recommend_recalculate":
        ids_got, scores_got = (np.atleast_2d(a) for a in result)
        for r in range(len(users)):
            exact = np.asarray(Y, np.float64) @ solved[r]
            assert_ranking(ids_got[r], scores_got[r], exact, N, set(), model.dtype, desc)
    elif call in ("recalculate_user", "recalculate_item"):
        assert np.shape(result) == ((model.factors,) if scalar else solved.shape), desc
        assert_factors(np.atleast_2d(result), solved, model.dtype, desc)
    elif call.startswith("partial_fit"):
        before = X if call == "partial_fit_users" else Y
        after = model.user_factors if call == "partial_fit_users" else model.item_factors
        n_after = max([len(before), *(users + 1)])
        assert after.shape == (n_after, model.factors) and after.dtype == model.dtype, desc
        untouched = np.setdiff1d(np.arange(len(before)), users)
        np.testing.assert_array_equal(after[untouched], before[untouched], err_msg=desc)
        grown = np.setdiff1d(np.arange(len(before), n_after), users)
        assert not after[grown].any(), f"{desc}: grown rows not zero"
        assert_factors(after[users], solved, model.dtype, desc)
    elif call == "explain":
        check_explain(model, ids[0], ids[1], N, stored, values, result, desc)
    elif call == "similar_items_recalculate":
        ids_got, scores_got = (np.atleast_2d(a) for a in result)
        assert ids_got.shape[0] == len(users), desc
        for r in range(len(users)):
            exact = cosine(Y, solved[r])
            assert_ranking(ids_got[r], scores_got[r], exact, N, set(), model.dtype, desc)


def check_explain(model, userid, itemid, N, stored, values, result, desc):
    """explain's (total, top contributions, user_weights) against Hu et al.'s definition."""
    total, top, weights = result
    Y = np.asarray(model.item_factors, np.float64)
    cols = np.flatnonzero(stored[userid])
    A, b = normal_equations(Y, model.regularization, cols, values[userid, cols])
    weighted = np.linalg.solve(A, Y[itemid])
    keep = values[userid, cols] >= 0
    liked = cols[keep]
    contributions = Y[liked] @ weighted * values[userid, liked]
    scale = max(float(np.abs(contributions).max(initial=0.0)), 1.0)
    tol = tolerance(model.dtype)
    assert math.isclose(
        total, float(Y[itemid] @ np.linalg.solve(A, b)), rel_tol=tol, abs_tol=tol * scale
    ), desc
    assert len(top) == min(N, len(liked)), f"{desc}: {len(top)} contributions"
    got = dict(top)
    assert len(got) == len(top) and set(got) <= set(liked.tolist()), desc
    expected = dict(zip(liked.tolist(), contributions.tolist(), strict=True))
    for item, share in top:
        assert math.isclose(share, expected[item], rel_tol=tol, abs_tol=tol * scale), desc
    best = np.sort(contributions)[::-1][: len(top)]
    np.testing.assert_allclose([s for _, s in top], best, rtol=tol, atol=tol * scale, err_msg=desc)
    L = np.asarray(weights[0] if isinstance(weights, tuple) else weights, np.float64)
    L = np.tril(L)
    np.testing.assert_allclose(L @ L.T, A, rtol=tol, atol=tol * np.abs(A).max(), err_msg=desc)


@case(N_STRUCTURE, lambda call: matrix_calls("corrupt", call), over=MATRIX_CALLS)
def corrupt_csr_structure(args):
    """Index >= width or negative, indptr decreasing / too long / too short / beyond the
    arrays / not starting at 0, arrays too short; through scipy's unchecked constructor or
    assigned afterwards, with stale canonical flags, for every call that takes a matrix."""
    run_matrix_call(*args)


@case(N_STRUCTURE, lambda call: matrix_calls("odd_dtypes", call), over=MATRIX_CALLS)
def odd_index_dtypes(args):
    """indptr / indices of int8, int16, uint8, uint16, uint32 or uint64 (assigned after
    construction), values that wrap around in them: decreasing in exact arithmetic."""
    run_matrix_call(*args)


@case(N_STRUCTURE, lambda call: matrix_calls("reordered", call), over=MATRIX_CALLS)
def noncanonical_valid_matrices(args):
    """Unsorted and duplicate indices under stale has_canonical_format flags, trailing junk
    beyond indptr[-1], csr_array, narrower rows: valid, so the oracle's answer."""
    run_matrix_call(*args)


@case(N_STRUCTURE, lambda call: matrix_calls("bad_data", call), over=MATRIX_CALLS)
def bad_matrix_data(args):
    """NaN / inf, values float32 cannot hold, complex / object / str / bool / float16 /
    int8 data, 2-D data."""
    run_matrix_call(*args)


@case(N_STRUCTURE, lambda call: matrix_calls("other_formats", call), over=MATRIX_CALLS)
def other_sparse_formats(args):
    """CSC and BSR with corrupt structure, COO with bad row/col ids or lengths, dense
    arrays of any dtype, LIL: converted when valid, refused clearly otherwise."""
    run_matrix_call(*args)


# --------------------------------------------------------------------------------------
# Hostile ids, N, filters
# --------------------------------------------------------------------------------------
HUGE = [10**12, 2**31, 2**63 - 1, 2**63, 2**64 - 1, 10**30, -(10**30), -(2**63)]
ODD_SCALARS = [
    None,
    "0",
    b"0",
    "",
    1j,
    0.0,
    1.0,
    1.5,
    float("nan"),
    float("inf"),
    True,
    False,
    np.bool_(True),
    np.float32(1),
    np.array(0),
    np.array(1.0),
    (),
    {},
    object(),
    Ellipsis,
    slice(0, 2),
]
VALID, EITHER, INVALID = "valid", "either", "invalid"


def scalar_ids(count):
    """A user/item id: valid, out of range, huge, of another type."""
    valid = st.integers(0, max(count - 1, 0))
    return st.one_of(
        valid,
        valid.map(np.int64),
        valid.map(np.uint8),
        valid.map(np.array),  # a 0-d integer array
        st.sampled_from([count, count + 1, -1, -count - 1] + HUGE),
        st.sampled_from([np.int64(-1), np.uint64(2**64 - 1), np.int8(-128)]),
        st.sampled_from(ODD_SCALARS),
    )


def id_arrays(count):
    """A batch of ids: lists and arrays, valid or not, empty, 2-D, of any dtype."""
    valid = st.integers(0, max(count - 1, 0))
    dtypes = st.sampled_from(
        [np.int8, np.int32, np.int64, np.uint8, np.uint64, np.float64, np.bool_, object, "U2"]
    )
    return st.one_of(
        st.lists(valid, max_size=5),
        st.lists(valid, max_size=5).map(np.array),
        st.lists(valid | scalar_ids(count), max_size=4),
        hnp.arrays(dtypes, st.integers(0, 4)),
        hnp.arrays(np.int64, st.tuples(st.integers(0, 2), st.integers(0, 2)), elements=valid),
        st.sampled_from([[], np.array([]), np.empty(0, np.uint8), np.empty((0, 2), np.int64)]),
    )


def ns():
    """N: valid, negative, huge, or not an integer."""
    return st.one_of(
        st.integers(0, 12),
        st.integers(0, 12).map(np.int64),
        st.sampled_from([-1, -(10**12), 10**12, 2**63, 10**30, np.uint64(2**64 - 1)]),
        st.sampled_from([None, 1.0, 2.5, float("nan"), "3", True, np.array(3), [3]]),
    )


def is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def combine(*verdicts):
    """INVALID if any argument is, else EITHER if any may go both ways, else VALID."""
    for verdict in (INVALID, EITHER):
        if verdict in verdicts:
            return verdict
    return VALID


def _array(ids):
    try:
        return np.asarray(ids)
    except (ValueError, TypeError, OverflowError):
        return None


def id_verdict(ids, count, any_shape=False):
    """(verdict, scalar) for ids of ``count`` rows by fastals' documented contract: an int
    in range or a 1-D integer list/array in range (any shape with ``any_shape``) is VALID;
    a 0-d integer array, or a list numpy reads as integers (bools in it), EITHER (read so,
    or refused clearly); anything else INVALID."""
    if is_int(ids):
        return (VALID if 0 <= ids < count else INVALID), True
    arr = _array(ids) if isinstance(ids, (list, np.ndarray)) else None
    if arr is None:
        return INVALID, True
    if arr.ndim == 1 and arr.size == 0:
        return VALID, False
    in_range = arr.dtype.kind in "iu" and bool(((arr >= 0) & (arr < count)).all())
    if not in_range or (arr.ndim > 1 and not any_shape):
        return INVALID, arr.ndim == 0
    if arr.ndim == 0 and not any_shape:
        return EITHER, True
    if isinstance(ids, list) and not all(is_int(v) for v in ids):
        return EITHER, False
    return VALID, False


def filter_verdict(ids, count):
    """``filter_items``: None, empty, or integer ids in range of any shape."""
    if ids is None:
        return VALID
    arr = _array(ids)
    if arr is None:
        return INVALID
    if arr.size == 0:
        return VALID
    if arr.dtype.kind not in "iu" or not ((arr >= 0) & (arr < count)).all():
        return INVALID
    if isinstance(ids, list) and not all(is_int(v) for v in ids):
        return EITHER
    return VALID


def subset_verdict(ids, count):
    """``items`` / ``users``: None, or a non-empty 1-D array of distinct ids in range."""
    if ids is None:
        return VALID
    verdict, scalar = id_verdict(ids, count)
    if verdict == INVALID or scalar or len(ids) == 0:
        return INVALID
    return verdict if len(set(np.asarray(ids).tolist())) == len(ids) else INVALID


def n_verdict(N):
    return VALID if is_int(N) and N >= 0 else INVALID


def _rows_for(ui, ids):
    """One row of ``ui`` per requested id (the ids' count when it has one, else 1)."""
    verdict, scalar = id_verdict(ids, ui.shape[0])
    if verdict != INVALID:
        return ui[np.atleast_1d(np.asarray(ids, dtype=np.int64))]
    try:
        n = 1 if np.isscalar(ids) else len(ids)
    except TypeError:
        n = 1
    return ui[np.zeros(min(n, 50), dtype=np.int64)]


def _pf_rows(matrix, ids):
    """Rows for partial_fit: existing rows for known ids, an empty row for new ones."""
    arr = _array(ids)
    if arr is not None and arr.ndim == 1 and arr.size == 0:
        return matrix[:0]
    if arr is None or arr.ndim != 1 or arr.dtype.kind not in "iu":
        n = arr.size if arr is not None else 1
        return matrix[np.zeros(min(max(n, 1), 50), dtype=np.int64)]
    stacked = np.zeros((arr.size, matrix.shape[1]))
    for r, v in enumerate(arr.tolist()):
        if 0 <= v < matrix.shape[0]:
            stacked[r] = matrix[v].toarray()[0]
    return sp.csr_matrix(stacked)


def partial_fit_verdict(ids, count):
    """partial_fit ids: 1-D, integer, >= 0; new ids grow the model (absurd ones cannot);
    duplicates and lists numpy coerces may go either way."""
    arr = _array(ids)
    if arr is None or arr.ndim != 1:
        return INVALID
    if arr.size == 0:
        return VALID
    if arr.dtype.kind not in "iu" or arr.min() < 0 or int(arr.max()) >= count + 10:
        return INVALID
    if len(set(arr.tolist())) != arr.size:
        return EITHER
    if isinstance(ids, list) and not all(is_int(v) for v in ids):
        return EITHER
    return VALID


ID_CALLS = [
    "recommend",
    "recommend_items",
    "rank_items",
    "similar_items",
    "similar_users",
    "predict",
    "explain",
    "recalculate_user",
    "partial_fit_users",
    "partial_fit_items",
    "recommend_all",
]
# partial_fit ids no machine can allocate rows for (never ones that merely fill memory)
ABSURD = [2**50, 2**62, 2**63 - 1, 2**63, 2**64 - 1, 10**30, -1, -(2**63)]


def valid_ids(count, scalar=False):
    """Ids fastals documents as valid: an int, or a 1-D list/array of ints, in range."""
    one = st.integers(0, count - 1)
    scalars = one | one.map(np.int64) | one.map(np.uint32)
    if scalar:
        return scalars
    batches = st.lists(one, max_size=5)
    return scalars | batches | batches.map(lambda ids: np.array(ids, dtype=np.int64))


@st.composite
def id_calls(draw, call):
    """One call of ID_CALLS with each argument valid but (usually) one hostile."""
    model = draw(integer_models())
    n_users, n_items = len(model.user_factors), len(model.item_factors)
    truth = draw(base_matrix(n_users, n_items))
    bad = draw(st.sampled_from(["ids", "N", "items", "filter", "subset", None]))
    count = n_items if call == "similar_items" else n_users
    side = n_users if call == "similar_users" else n_items
    one = st.integers(0, side - 1)
    choices = {
        "ids": (valid_ids(count, scalar=call == "explain"), scalar_ids(count) | id_arrays(count)),
        "N": (st.integers(0, 12) | st.sampled_from([10**12, 2**63, np.uint64(2**64 - 1)]), ns()),
        "items": (
            valid_ids(n_items, scalar=call == "explain"),
            scalar_ids(n_items) | id_arrays(n_items),
        ),
        "filter": (st.none() | st.lists(one, max_size=side), id_arrays(side) | scalar_ids(side)),
        "subset": (
            st.none() | st.lists(one, min_size=1, max_size=side, unique=True),
            id_arrays(side) | scalar_ids(side),
        ),
    }
    args = {
        name: draw(hostile if name == bad else valid) for name, (valid, hostile) in choices.items()
    }
    if (
        call in ("similar_items", "similar_users")
        and args["subset"] is not None
        and bad != "filter"
    ):
        args["filter"] = None  # both: a ValueError (tested when one of them is hostile)
    if call.startswith("partial_fit"):
        count = n_users if call == "partial_fit_users" else n_items
        safe = st.lists(st.integers(0, count + 3), max_size=4, unique=True)
        mixed = st.lists(
            st.sampled_from(ABSURD) | st.integers(0, count + 3), min_size=1, max_size=3
        )
        ids = draw(mixed if bad == "ids" else safe)
        as_array = draw(st.booleans()) and _array(ids) is not None
        args["ids"] = np.asarray(ids) if as_array else ids
    if call == "recommend_all":
        hostile = st.sampled_from([-1, 10**12, 2**63, 1.0, None, "0", np.array(1)])
        args["ids"] = draw(hostile if bad == "ids" else st.integers(0, n_users))
    fitted = draw(st.sampled_from([True] * 9 + [False]))
    return model, call, args, truth, fitted


@case(N_IDS, id_calls, over=ID_CALLS)
def hostile_ids(args):
    """Out-of-range, negative, huge (10**12, 2**63, 2**64-1, 10**30), float, bool, str,
    None, 0-d, 2-D and object ids; N negative / huge / float / None; filter_items, items,
    users with bad ids; empty batches (userid=[] with a 0-row matrix: (0, N) results);
    users_items_offset; unfitted models (NotFittedError)."""
    model, call, a, (stored, values), fitted = args
    n_users, n_items = len(model.user_factors), len(model.item_factors)
    X, Y = model.user_factors.copy(), model.item_factors.copy()
    ui = canonical(stored, values)
    ids, N, items, filter_ids, subset = a["ids"], a["N"], a["items"], a["filter"], a["subset"]
    desc = (
        f"{call}(ids={short(ids)}, items={short(items)}, N={short(N)}, "
        f"filter={short(filter_ids)}, subset={short(subset)})"
    )
    rows = _rows_for(ui, ids)
    offset_ok = is_int(ids) and 0 <= ids <= n_users
    calls = {
        "recommend": lambda: model.recommend(ids, rows, N=N, filter_items=filter_ids),
        "recommend_items": lambda: model.recommend(ids, rows, N=N, items=subset),
        "rank_items": lambda: model.rank_items(ids, rows, subset),
        "similar_items": lambda: model.similar_items(
            ids, N=N, filter_items=filter_ids, items=subset
        ),
        "similar_users": lambda: model.similar_users(
            ids, N=N, filter_users=filter_ids, users=subset
        ),
        "predict": lambda: model.predict(ids, items),
        "explain": lambda: model.explain(ids, ui, items, N=N),
        "recalculate_user": lambda: model.recalculate_user(ids, rows),
        "partial_fit_users": lambda: model.partial_fit_users(ids, _pf_rows(ui, ids)),
        "partial_fit_items": lambda: model.partial_fit_items(ids, _pf_rows(ui.T.tocsr(), ids)),
        "recommend_all": lambda: model.recommend_all(
            ui[ids:] if offset_ok else ui, N=N, users_items_offset=ids
        ),
    }
    if not fitted:
        model.user_factors = model.item_factors = None
        result, exc = attempt(desc + " on an unfitted model", calls[call])
        assert exc is not None, f"{desc}: an unfitted model answered {short(result)}"
        assert isinstance(exc, NotFittedError) or call == "recommend_all", f"{desc}: {exc!r}"
        return

    if call == "recalculate_user":  # the ids only count the rows (new users have none)
        result, exc = attempt(desc, calls[call])
        if exc is None:
            solved, _ = solve_rows(*meaning(rows), Y)
            assert_factors(np.asarray(result).reshape(-1, model.factors), solved, model.dtype, desc)
        return

    if call.startswith("partial_fit"):
        count = n_users if call == "partial_fit_users" else n_items
        verdict = partial_fit_verdict(ids, count)
        if verdict == INVALID:
            refused(desc, calls[call])
            return
        _, exc = accepted(desc, calls[call], tolerate=verdict == EITHER)
        if exc is not None or verdict == EITHER:
            return
        users_side = call == "partial_fit_users"
        before, after = (X, model.user_factors) if users_side else (Y, model.item_factors)
        matrix = ui if users_side else ui.T.tocsr()
        solved, _ = solve_rows(*meaning(_pf_rows(matrix, ids)), Y if users_side else X)
        arr = np.asarray(ids, dtype=np.int64)
        assert after.shape == (max([len(before), *(arr + 1)]), model.factors), desc
        assert_factors(after[arr], solved, model.dtype, desc)
        return

    if call == "recommend_all":
        if not (offset_ok and n_verdict(N) == VALID):
            refused(desc, calls[call])
            return
        result, _ = accepted(desc, calls[call])
        users = np.arange(ids, n_users)
        expected = recommend_oracle(model, users, stored[ids:], N)[0]
        np.testing.assert_array_equal(result, expected, err_msg=desc)
        return

    if call == "predict":
        (uv, _), (iv, _) = id_verdict(ids, n_users, True), id_verdict(items, n_items, True)
        try:
            np.broadcast_shapes(np.shape(ids), np.shape(items))
            fits = VALID
        except (ValueError, TypeError):
            fits = INVALID
        verdict = combine(uv, iv, fits)
        if verdict == INVALID:
            refused(desc, calls[call])
            return
        result, exc = accepted(desc, calls[call], tolerate=verdict == EITHER)
        if exc is None:
            u, i = np.broadcast_arrays(np.asarray(ids, np.int64), np.asarray(items, np.int64))
            exact = np.einsum("...f,...f->...", X[u].astype(np.float64), Y[i].astype(np.float64))
            np.testing.assert_array_equal(np.asarray(result, np.float64), exact, err_msg=desc)
        return

    if call == "explain":
        # one user and one item; a 1-element batch may be read as that id
        (uv, u_scalar), (iv, i_scalar) = id_verdict(ids, n_users), id_verdict(items, n_items)
        uv = uv if u_scalar else combine(uv, EITHER if np.size(ids) == 1 else INVALID)
        iv = iv if i_scalar else combine(iv, EITHER if np.size(items) == 1 else INVALID)
        verdict = combine(uv, iv, n_verdict(N))
        if verdict == INVALID:
            refused(desc, calls[call])
            return
        result, exc = accepted(desc, calls[call], tolerate=verdict == EITHER)
        if exc is None:
            user, item = int(np.ravel(ids)[0]), int(np.ravel(items)[0])
            check_explain(model, user, item, N, stored, values, result, desc)
        return

    if call in ("similar_items", "similar_users"):
        factors = Y if call == "similar_items" else X
        count = len(factors)
        filters = filter_ids is not None and getattr(_array(filter_ids), "size", 1) > 0
        both = subset is not None and filters  # "Can't set both"
        uv, scalar = id_verdict(ids, count)
        verdict = combine(
            uv,
            n_verdict(N),
            INVALID if both else VALID,
            filter_verdict(filter_ids, count),
            subset_verdict(subset, count),
        )
        result = judged(desc, calls[call], verdict)
        if result is None:
            return
        queries = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        got_ids, got_scores = (np.atleast_2d(r) for r in result)
        assert got_ids.shape[0] == len(queries), desc
        assert verdict == EITHER or (result[0].ndim == 1) == scalar, f"{desc}: {result[0].ndim}-D"
        candidates = np.arange(count) if subset is None else np.sort(np.asarray(subset))
        excluded = set() if filter_ids is None else set(np.asarray(filter_ids).ravel().tolist())
        for r, q in enumerate(queries):
            positions = np.searchsorted(candidates, got_ids[r])
            assert np.array_equal(candidates[positions.clip(0, len(candidates) - 1)], got_ids[r]), (
                desc
            )
            exact = cosine(factors[candidates], factors[q])
            assert_ranking(positions, got_scores[r], exact, N, excluded, model.dtype, desc)
        return

    # recommend, recommend_items, rank_items
    uv, scalar = id_verdict(ids, n_users)
    if call == "recommend":
        verdict = combine(uv, n_verdict(N), filter_verdict(filter_ids, n_items))
    elif call == "recommend_items":
        verdict = combine(uv, n_verdict(N), subset_verdict(subset, n_items))
    else:
        verdict = combine(uv, subset_verdict(subset, n_items))
    result = judged(desc, calls[call], verdict)
    if result is None:
        return
    users = np.atleast_1d(np.asarray(ids, dtype=np.int64))
    liked = stored[users] if call != "rank_items" else np.zeros((len(users), n_items), bool)
    flat = [] if filter_ids is None or call != "recommend" else np.ravel(filter_ids).tolist()
    chosen = None if call == "recommend" else subset
    n = N if call != "rank_items" else 10
    expected = recommend_oracle(model, users, liked, n, flat, chosen)
    assert verdict == EITHER or (result[0].ndim == 1) == scalar, f"{desc}: {result[0].ndim}-D"
    if result[0].ndim == 1:
        expected = (expected[0][0], expected[1][0])
    assert_same(result, expected, desc, subset=chosen is not None)


# --------------------------------------------------------------------------------------
# explain: user_weights and N
# --------------------------------------------------------------------------------------
@st.composite
def explain_calls(draw):
    model = draw(integer_models())
    n_users, n_items, k = len(model.user_factors), len(model.item_factors), model.factors
    stored, values = draw(base_matrix(n_users, n_items))
    userid, itemid = draw(st.integers(0, n_users - 1)), draw(st.integers(0, n_items - 1))
    kind = draw(
        st.sampled_from(
            ["returned", "cho_factor", "shape", "non_finite", "dtype", "diagonal", "scale"]
        )
    )
    weights = None
    if kind == "shape":
        shape = draw(st.sampled_from([(k + 1, k + 1), (k,), (), (k, k, 1), (1, k), (0, 0)]))
        weights = np.eye(*shape[:1], *shape[1:2]) if len(shape) == 2 else np.ones(shape)
        weights = draw(st.sampled_from([weights, weights.tolist(), (weights, True)]))
    elif kind == "non_finite":
        weights = np.eye(k)
        weights[draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf])
        )
    elif kind == "dtype":
        weights = draw(
            st.sampled_from(
                [
                    np.eye(k).astype(complex),
                    np.eye(k).astype(object),
                    np.full((k, k), "a"),
                    "L",
                    (np.eye(k),),
                    (np.eye(k), True, 0),
                    [[1.0] * k, [1.0]],
                    {},
                ]
            )
        )
    elif kind == "diagonal":
        weights = np.eye(k) * draw(st.sampled_from([0.0, -1.0, -0.0]))
    elif kind == "scale":  # a valid-looking factor whose solve leaves float64's range
        weights = np.eye(k) * draw(st.sampled_from([1e-300, 1e-200, 1e200]))
    N = draw(ns())
    return model, (stored, values), userid, itemid, kind, weights, N


@case(N_STRUCTURE, explain_calls())
def explain_user_weights(args):
    """explain with its own user_weights (or scipy's cho_factor tuple) given back, or with
    weights of the wrong shape / dtype, non-finite, a non-positive diagonal, or so small
    that the solve overflows; N negative, huge, float."""
    model, (stored, values), userid, itemid, kind, weights, N = args
    ui = canonical(stored, values)
    desc = f"explain({userid}, ui, {itemid}, user_weights={kind}:{short(weights)}, N={short(N)})"
    if n_verdict(N) == INVALID:
        refused(desc, lambda: model.explain(userid, ui, itemid, N=N))
        return
    if kind in ("returned", "cho_factor"):
        first, _ = accepted(desc, lambda: model.explain(userid, ui, itemid, N=N))
        L = first[2]
        weights = L if kind == "returned" else (np.tril(L) + np.triu(L.T, 1), True)
        result, _ = accepted(
            desc, lambda: model.explain(userid, ui, itemid, user_weights=weights, N=N)
        )
        check_explain(model, userid, itemid, N, stored, values, result, desc)
        assert result[0] == first[0] and result[1] == first[1], desc
        return
    result, exc = attempt(
        desc, lambda: model.explain(userid, ui, itemid, user_weights=weights, N=N)
    )
    if exc is None:
        total, top, _ = result
        assert kind == "scale", f"{desc}: accepted, returned {short(result)}"
        # a valid factor, but not A_u's: whatever it answers must at least be numbers
        assert math.isfinite(total) and all(math.isfinite(s) for _, s in top), (
            f"{desc}: returned non-finite scores {short(result)}"
        )


# --------------------------------------------------------------------------------------
# partial_fit_items grows the model; rows narrower than it count as empty
# --------------------------------------------------------------------------------------
@st.composite
def grown_models(draw):
    model = draw(integer_models())
    n_users, n_items = len(model.user_factors), len(model.item_factors)
    new = draw(st.lists(st.integers(n_items, n_items + 4), min_size=1, max_size=3, unique=True))
    item_users = draw(base_matrix(len(new), n_users))
    old_rows = draw(base_matrix(n_users, n_items))
    N = draw(st.integers(0, n_items + 6))
    filter_liked = draw(st.booleans())
    filter_items = draw(st.none() | st.lists(st.integers(0, max(new)), max_size=3))
    items = None
    if not filter_items and draw(st.booleans()):
        items = draw(st.lists(st.integers(0, max(new)), min_size=1, max_size=5, unique=True))
    return model, new, item_users, old_rows, N, filter_liked, filter_items, items


@case(60, grown_models())
def recommend_after_partial_fit_items(args):
    """Rows from before partial_fit_items grew the model are narrower: the new items count
    as not liked, for filter_already_liked_items, filter_items and items alike."""
    model, new, (s_new, v_new), (stored, values), N, filter_liked, filter_items, items = args
    n_users = len(model.user_factors)
    desc = (
        f"partial_fit_items({new}) then recommend(N={N}, {filter_liked}, {filter_items}, {items})"
    )
    accepted(desc, lambda: model.partial_fit_items(new, canonical(s_new, v_new)))
    n_items = len(model.item_factors)
    assert n_items == max(new) + 1, desc
    # integer factors for the new items keep every score exact (partial_fit's own answer is
    # checked by the matrix cases)
    model.item_factors[new] = np.arange(len(new) * model.factors).reshape(len(new), -1) % 5 - 2
    rows = canonical(stored, values)  # narrower than the grown model
    users = np.arange(n_users)
    result, _ = accepted(
        desc,
        lambda: model.recommend(
            users,
            rows,
            N=N,
            filter_already_liked_items=filter_liked,
            filter_items=filter_items,
            items=items,
        ),
    )
    liked = np.pad(stored, ((0, 0), (0, n_items - stored.shape[1]))) if filter_liked else None
    liked = liked if filter_liked else np.zeros((n_users, n_items), bool)
    expected = recommend_oracle(model, users, liked, N, filter_items or (), items)
    assert_same(result, expected, desc, subset=items is not None)


# --------------------------------------------------------------------------------------
# Model files
# --------------------------------------------------------------------------------------
def saved_values(model):
    return {key: np.asanyarray(value) for key, value in model_arrays(model).items()}


HEADER = re.compile(rb"'shape': \([0-9, ]*\)")


def _with_header_shape(blob, member, shape):
    """The npz bytes ``blob`` with ``member``'s .npy header claiming ``shape``."""
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    raw = members[member]
    length = int.from_bytes(raw[8:10], "little")
    header = HEADER.sub(f"'shape': {tuple(shape)!r}".encode(), raw[10 : 10 + length])
    header = header.rstrip(b" \n").ljust(length - 1) + b"\n"
    members[member] = raw[:8] + len(header).to_bytes(2, "little") + header + raw[10 + length :]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


FILE_VALUES = st.one_of(
    hnp.arrays(
        st.sampled_from(["<f2", "<f4", ">f8", "<i8", "<c16", "?", "<U3", "<M8[s]"]),
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
    ),
    st.sampled_from(
        [
            np.array(None),
            np.array([1, "a"], dtype=object),
            np.array(float("nan")),
            np.array(-1),
            np.array(0),
            np.array(10**18),
            np.array("float16"),
            np.array("complex128"),
            np.array("object"),
            np.array("nonsense"),
            np.array(b"float32"),
            np.array(True),
        ]
    ),
)


@st.composite
def model_files(draw):
    """The bytes of a crafted model npz: keys replaced, removed, headers or bytes changed."""
    model = draw(integer_models())
    model.random_state = draw(st.none() | st.integers(0, 5))
    values = saved_values(model)
    edits = []
    for edit in draw(
        st.lists(st.sampled_from(["replace", "factor", "delete", "extra"]), max_size=3)
    ):
        key = draw(st.sampled_from(sorted(values) or ["factors"]))
        if edit == "replace":
            values[key] = draw(FILE_VALUES)
        elif edit == "factor":
            k = model.factors
            n = draw(st.integers(0, 6))
            shape = draw(st.sampled_from([(n, k), (n, k + 1), (k,), (n, k, 1), (0, 0)]))
            dtype = draw(st.sampled_from(["<f4", ">f8", "<f2", "<i4", "<c8", "O"]))
            key = draw(st.sampled_from(FACTOR_KEYS))
            values[key] = np.ones(shape, dtype)
        elif edit == "delete":
            values.pop(key, None)
        else:
            key = f"junk{len(values)}"
            values[key] = draw(FILE_VALUES)
        edits.append(f"{edit} {key}" + (f"={short(values[key], 60)}" if key in values else ""))
    buffer = io.BytesIO()
    np.savez(buffer, **values)  # pickles object arrays, as a hostile writer may
    blob = buffer.getvalue()
    damage = draw(st.sampled_from(["none", "truncate", "flip", "header"]))
    if damage == "truncate":
        blob = blob[: draw(st.integers(0, len(blob) - 1))]
    elif damage == "flip":
        at = draw(st.integers(0, len(blob) - 1))
        blob = blob[:at] + bytes([blob[at] ^ draw(st.integers(1, 255))]) + blob[at + 1 :]
    elif damage == "header" and values.get("user_factors") is not None:
        k = model.factors
        shape = draw(
            st.sampled_from(
                [(len(model.user_factors) + 1, k), (10**6, k), (2**45, 2**10), (2**62, 1), (0,)]
            )
        )
        blob = _with_header_shape(blob, "user_factors.npy", shape)
        damage = f"user_factors header claims shape {shape}"
    elif damage == "header":
        damage = "none"
    return blob, f"edits={edits} damage={damage}"


def read_model_file(blob):
    """What numpy (allow_pickle=False) reads in ``blob``: {key: array}, or None."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except Exception:  # noqa: BLE001 (unreadable, however numpy says it)
        return None


def expected_model(values):
    """The model a readable file describes by load's documented contract, or None."""
    if values is None or any(key not in values for key in REQUIRED_KEYS):
        return None
    params = {}
    for key in (*REQUIRED_KEYS, "random_state"):
        if key in values:
            array = values[key]
            if (
                not isinstance(array, np.ndarray)
                or array.shape != ()
                or array.dtype.kind not in "biufU"
            ):
                return None
            params[key] = array.item()
    try:
        model = AlternatingLeastSquares(**params)
    except (TypeError, ValueError):
        return None
    for key in FACTOR_KEYS:
        array = values.get(key)
        if array is not None:
            if array.dtype.kind != "f" or array.ndim != 2 or array.shape[1] != model.factors:
                return None
            array = np.ascontiguousarray(array, dtype=model.dtype)
        setattr(model, key, array)
    return model


@case(N_FILES, model_files(), st.booleans())
def crafted_model_files(file, as_object):
    """load of npz files with factor arrays of the wrong shape or dtype, object (pickled)
    arrays, bad hyper-parameters, missing keys, truncated or flipped bytes, .npy headers
    claiming other or astronomically large shapes: a ValueError or the file's model."""
    blob, what = file
    expected = expected_model(read_model_file(blob))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.npz")
        with open(path, "wb") as out:
            out.write(blob)
        source = io.BytesIO(blob) if as_object else path
        desc = f"load({'BytesIO' if as_object else 'path'}) of a file with {what}"
        if expected is None:
            refused(desc, lambda: AlternatingLeastSquares.load(source))
            return
        loaded, _ = accepted(desc, lambda: AlternatingLeastSquares.load(source))
    for key in ("factors", "regularization", "alpha", "iterations", "dtype", "random_state"):
        assert getattr(loaded, key) == getattr(expected, key), f"{desc}: {key}"
    for key in FACTOR_KEYS:
        got, want = getattr(loaded, key), getattr(expected, key)
        assert (got is None) == (want is None), f"{desc}: {key}"
        if want is not None:
            assert got.dtype == want.dtype, desc
            np.testing.assert_array_equal(got, want, err_msg=desc)


class Hang(BaseException):
    """A call that did not return within its alarm (not an Exception: ``attempt`` lets it
    through)."""


def _alarm(signum, frame):
    raise Hang("no answer within 5 s")


@case(1)
def special_files():
    """load of a directory, a FIFO without a writer (must not block), a Unix socket, a
    character device, an empty file and a missing path: a ValueError (FileNotFoundError for
    the missing one) within seconds."""
    signal.signal(signal.SIGALRM, _alarm)
    with tempfile.TemporaryDirectory() as folder:
        fifo = os.path.join(folder, "fifo.npz")
        os.mkfifo(fifo)
        sock_path = os.path.join(folder, "socket.npz")
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(sock_path)
        empty = os.path.join(folder, "empty.npz")
        open(empty, "wb").close()
        targets = [
            (folder, DOCUMENTED),
            (fifo, DOCUMENTED),
            (fifo[: -len(".npz")], DOCUMENTED),  # implicit-style path without the suffix
            (sock_path, DOCUMENTED),
            ("/dev/null", DOCUMENTED),
            (empty, DOCUMENTED),
            (os.path.join(folder, "missing"), (FileNotFoundError,)),
        ]
        failures = []
        try:
            for path, allowed in targets:
                signal.alarm(5)
                try:
                    try:
                        _, exc = attempt(
                            f"load({path!r})",
                            lambda p=path: AlternatingLeastSquares.load(p),
                            allowed,
                        )
                        if exc is None:
                            failures.append(f"load({path!r}) returned a model")
                    except Hang:
                        failures.append(f"load({path!r}) hung")
                    except AssertionError as error:
                        failures.append(str(error))
                finally:
                    signal.alarm(0)
        finally:
            sock.close()
    assert not failures, "\n".join(failures)


# --------------------------------------------------------------------------------------
# fastals recommend on a model file whose training matrix is corrupt
# --------------------------------------------------------------------------------------
SHAPES = st.sampled_from(
    ["right", "transposed", "three", "float", "negative", "huge", "0-d", "bool", "str"]
)


@st.composite
def cli_files(draw):
    model = draw(integer_models())
    n_users, n_items = len(model.user_factors), len(model.item_factors)
    family = draw(st.sampled_from(["corrupt", "odd_dtypes", "odd_dtypes", "reordered", "bad_data"]))
    matrix = draw(hostile_csr(n_users, n_items, family))
    train = {
        "train_indptr": matrix.indptr,
        "train_indices": matrix.indices,
        "train_data": matrix.data,
    }
    shape = draw(st.just("right") | SHAPES)
    train["train_shape"] = {
        "right": np.array([n_users, n_items]),
        "transposed": np.array([n_items, n_users]),
        "three": np.array([n_users, n_items, 1]),
        "float": np.array([n_users, n_items], dtype=float),
        "negative": np.array([-1, n_items]),
        "huge": np.array([10**12, n_items]),
        "0-d": np.array(n_users),
        "bool": np.array([True, True]),
        "str": np.array(["a", "b"]),
    }[shape]
    replaced = []
    for key in list(train) if draw(st.booleans()) else []:
        if draw(st.integers(0, 5)) == 0:
            replaced.append(key)
            train[key] = draw(
                st.sampled_from([np.array([1, None], dtype=object), np.zeros((2, 2))])
            )
    users = draw(st.lists(st.integers(0, n_users - 1), min_size=1, max_size=3, unique=True))
    N = draw(st.integers(1, n_items + 2))
    return (
        model,
        matrix,
        train,
        shape if not replaced else f"{shape}, {replaced} replaced",
        users,
        N,
    )


@case(N_FILES, cli_files())
def cli_recommend_corrupt_training_matrix(args):
    """``fastals recommend`` on a model file whose train_indptr / train_indices /
    train_data / train_shape are corrupt: exit code 2 and a one-line message; a valid
    (merely unsorted or duplicated) training matrix gives the oracle's recommendations."""
    model, matrix, train, shape, users, N = args
    n_users, n_items = len(model.user_factors), len(model.item_factors)
    raw_users = [100 + u for u in users]
    extra = {"user_ids": np.arange(100, 100 + n_users), "item_ids": np.arange(500, 500 + n_items)}
    stored_shape = np.asarray(train["train_shape"])
    right = stored_shape.dtype.kind in "iu" and stored_shape.tolist() == [n_users, n_items]
    # the training matrix only filters: any finite values will do
    truth = meaning(matrix, confidences=False) if right and "replaced" not in shape else None
    either = np.asarray(train["train_data"]).dtype == np.float16  # scipy has no float16
    desc = f"fastals recommend --users {raw_users} -N {N}, shape {shape}, {short(matrix, 300)}"
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.npz")
        np.savez(path, **saved_values(model), **extra, **train)
        argv = [
            "recommend",
            path,
            "--users",
            *map(str, raw_users),
            "-N",
            str(N),
            "--format",
            "json",
        ]
        out, err = io.StringIO(), io.StringIO()
        trace(desc)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli_main(argv)
        except SystemExit as exit_:
            code = exit_.code
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(f"{desc}: raised {exc!r} instead of exit code 2") from exc
    message = err.getvalue().strip()
    if either and code == 2:
        truth = None
    if truth is None:
        assert code == 2, f"{desc}: exit code {code}, stderr {message!r:.300}"
        assert message.startswith("fastals recommend: "), f"{desc}: {message!r:.300}"
        assert len(message.splitlines()) == 1, f"{desc}: not one line: {message!r:.500}"
        assert not RAW_MESSAGES.search(message), f"{desc}: raw message {message!r:.300}"
        return
    assert code == 0, f"{desc}: valid file refused: {code} {message!r:.300}"
    records = json.loads(out.getvalue())
    stored, _ = truth
    ids, scores = recommend_oracle(model, users, stored[users], N)
    # the command never prints a filtered (stored) item: each list stops before them
    expected = [
        (100 + u, rank + 1, 500 + int(i), float(s))
        for r, u in enumerate(users)
        for rank, (i, s) in enumerate(zip(ids[r], scores[r], strict=True))
        if not stored[u, i]
    ]
    got = [(r["user_id"], r["rank"], r["item_id"], r["score"]) for r in records]
    assert got == expected, f"{desc}: {got} != {expected}"


# --------------------------------------------------------------------------------------
def main(name):
    faulthandler.enable()
    warnings.simplefilter("ignore")  # ParameterWarning, UserWarning, DeprecationWarning, ...
    if name not in CASES:
        raise SystemExit(f"unknown case {name!r}; cases: {sorted(CASES)}")
    CASES[name]()
    for key, (count, example) in FAILURES.items():
        print(f"FAILED {count}x {key}\n    e.g. {example[:1500]}\n")
    if FAILURES:
        raise SystemExit(f"{name}: {len(FAILURES)} distinct failures")
    print(f"{name}: ok")


if __name__ == "__main__":
    main(sys.argv[1])
