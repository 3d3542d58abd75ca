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
    """out = scale * A @ x for a dense (symmetric) k x k matrix ``A``."""
    k = x.shape[0]
    for a in range(k):
        out[a] = scale * dot(A[a], x)


@jit()
def cholesky_solve(A, b):
    """Solve A x = b for symmetric positive definite A, in place.

    Only the lower triangle of ``A`` is read; on return it holds L with A = L L^T and
    ``b`` holds x. Returns 0 on success, else j + 1 where the j-th pivot was not positive
    (LAPACK potrf's ``info`` convention).
    """
    k = b.shape[0]
    for j in range(k):
        Lj = A[j]
        s = Lj[j] - dot(Lj[:j], Lj[:j])
        if not s > 0.0:  # also catches NaN
            return j + 1
        d = np.sqrt(s)
        Lj[j] = d
        for i in range(j + 1, k):
            Li = A[i]
            Li[j] = (Li[j] - dot(Li[:j], Lj[:j])) / d
    # forward: L z = b
    for i in range(k):
        b[i] = (b[i] - dot(A[i, :i], b[:i])) / A[i, i]
    # backward: L^T x = z
    for i in range(k - 1, -1, -1):
        s = b[i]
        for m in range(i + 1, k):
            s -= A[m, i] * b[m]
        b[i] = s / A[i, i]
    return 0
