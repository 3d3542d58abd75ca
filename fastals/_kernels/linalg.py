"""Small dense linear algebra on one row's k x k system, written out (no LAPACK)."""

import numpy as np

from ._jit import jit


@jit()
def dot(a, b):
    """a . b in the dtype of ``a`` (float32 models accumulate in float32, as BLAS sdot)."""
    s = a.dtype.type(0)
    for j in range(a.shape[0]):
        s += a[j] * b[j]
    return s


@jit()
def axpy(alpha, x, y):
    """y += alpha * x, in place."""
    for j in range(x.shape[0]):
        y[j] += alpha * x[j]


@jit()
def symv(A, x, out, scale):
    """out = scale * A @ x for a symmetric k x k matrix ``A``.

    Summed as columns (A[:, j] = A[j, :] by symmetry), four at a time: each loaded and
    stored element of ``out`` takes four multiply-adds, so the loop is no longer bound by
    loads and stores; no reductions, no views.
    """
    k = x.shape[0]
    out[:] = 0
    tail = k - k % 4
    for j in range(0, tail, 4):
        x0, x1 = scale * x[j], scale * x[j + 1]
        x2, x3 = scale * x[j + 2], scale * x[j + 3]
        for a in range(k):
            out[a] += x0 * A[j, a] + x1 * A[j + 1, a] + x2 * A[j + 2, a] + x3 * A[j + 3, a]
    for j in range(tail, k):
        xj = scale * x[j]
        for a in range(k):
            out[a] += xj * A[j, a]


@jit()
def cholesky_factor(A):
    """Factor symmetric positive definite A = L L^T in place (lower triangle; upper unread).

    Left-looking, row-major: L[i, j] = (A[i, j] - L[i, :j] . L[j, :j]) / L[j, j]. The dot
    products of four rows i are computed together (one load of L[j, m] for four FMAs, four
    independent reductions in flight). Returns 0 on success, else j + 1 where the j-th
    pivot was not positive (LAPACK potrf's ``info`` convention).
    """
    k = A.shape[0]
    for j in range(k):
        s = A[j, j]
        for m in range(j):
            s -= A[j, m] * A[j, m]
        if not s > 0.0:  # also catches NaN
            return j + 1
        d = np.sqrt(s)
        A[j, j] = d
        i = j + 1
        while i + 4 <= k:
            t0, t1, t2, t3 = A[i, j], A[i + 1, j], A[i + 2, j], A[i + 3, j]
            for m in range(j):
                ljm = A[j, m]
                t0 -= A[i, m] * ljm
                t1 -= A[i + 1, m] * ljm
                t2 -= A[i + 2, m] * ljm
                t3 -= A[i + 3, m] * ljm
            A[i, j] = t0 / d
            A[i + 1, j] = t1 / d
            A[i + 2, j] = t2 / d
            A[i + 3, j] = t3 / d
            i += 4
        while i < k:
            t = A[i, j]
            for m in range(j):
                t -= A[i, m] * A[j, m]
            A[i, j] = t / d
            i += 1
    return 0


@jit()
def cholesky_substitute(L, b):
    """Solve L L^T x = b in place in ``b``, for the lower-triangular L of ``cholesky_factor``."""
    k = b.shape[0]
    for i in range(k):  # forward: L z = b
        s = b[i]
        for m in range(i):
            s -= L[i, m] * b[m]
        b[i] = s / L[i, i]
    for i in range(k - 1, -1, -1):  # backward: L^T x = z
        s = b[i]
        for m in range(i + 1, k):
            s -= L[m, i] * b[m]
        b[i] = s / L[i, i]


@jit()
def cholesky_solve(A, b):
    """Solve A x = b for symmetric positive definite A, in place.

    Only the lower triangle of ``A`` is read; on return it holds L with A = L L^T and
    ``b`` holds x. Returns ``cholesky_factor``'s status (0 on success).
    """
    info = cholesky_factor(A)
    if info == 0:
        cholesky_substitute(A, b)
    return info
