"""Per-row pieces shared by the CG and Cholesky half-sweeps (see ``layout.py`` for the runs)."""

import numpy as np

from ._jit import jit
from .linalg import axpy, dot


@jit()
def rhs(indices, data, start, w_end, p_end, Y, b):
    """b = sum_{c > 0} c y_i over the row; returns sum_{c > 0} c as float64."""
    zero = b.dtype.type(0)
    b[:] = zero
    total = 0.0
    for idx in range(start, w_end):
        c = data[idx]
        if c > zero:
            axpy(c, Y[indices[idx]], b)
            total += c
    for idx in range(w_end, p_end):  # c == 1
        y = Y[indices[idx]]
        for j in range(b.shape[0]):
            b[j] += y[j]
    return total + (p_end - w_end)


@jit()
def add_weighted_projection(indices, data, start, w_end, Y, v, out, sign):
    """out += sign * sum_{|c| != 1} (|c| - 1) (y_i . v) y_i."""
    one = out.dtype.type(1)
    for idx in range(start, w_end):
        y = Y[indices[idx]]
        axpy(sign * (abs(data[idx]) - one) * dot(y, v), y, out)


@jit()
def row_loss(indices, data, start, w_end, Y, A0, x, b, c_pos_sum, scratch):
    """This row's share of the loss numerator (float64), given b and sum_{c>0} c.

    x^T A0 x + sum_{|c| != 1} (|c| - 1) s_i^2 - 2 x . b + sum_{c > 0} c, with s_i = y_i . x;
    A0 includes lambda I, so lambda |x|^2 is included.
    """
    k = x.shape[0]
    acc = c_pos_sum
    for a in range(k):
        scratch[a] = dot(A0[a], x)
    for a in range(k):
        acc += np.float64(x[a]) * (np.float64(scratch[a]) - 2.0 * np.float64(b[a]))
    one = x.dtype.type(1)
    for idx in range(start, w_end):
        s = np.float64(dot(Y[indices[idx]], x))
        acc += np.float64(abs(data[idx]) - one) * s * s
    return acc
