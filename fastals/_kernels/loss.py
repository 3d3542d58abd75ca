"""Training loss of implicit ALS, per row, without forming the dense n_users x n_items grid.

sum_i C_ui (p_ui - s_ui)^2 over all items of user u, with s_ui = x_u . y_i, expands to

    x_u^T (Y^T Y) x_u
      + sum_{stored} [ (C_ui - 1) s_ui^2 - 2 c_ui s_ui [c_ui > 0] + c_ui [c_ui > 0] ]

(absent cells have C = 1, p = 0 and are covered by the Gram term).
"""

import numpy as np

from ._jit import jit


@jit()
def loss_rows(u0, u1, indptr, indices, data, X, Y, G, out):
    """out[u] = the unregularised loss of row u of ``X`` (float64), for rows u0..u1-1.

    ``G`` is Y^T Y without regularisation. Summed outside in a fixed order, so the total
    does not depend on the thread count.
    """
    k = X.shape[1]
    for u in range(u0, u1):
        acc = 0.0
        for a in range(k):
            g = X.dtype.type(0)
            for j in range(k):
                g += G[a, j] * X[u, j]
            acc += np.float64(X[u, a]) * np.float64(g)
        for idx in range(indptr[u], indptr[u + 1]):
            c = np.float64(data[idx])
            i = indices[idx]
            s32 = X.dtype.type(0)
            for j in range(k):
                s32 += Y[i, j] * X[u, j]
            s = np.float64(s32)
            C = abs(c)
            acc += (C - 1.0) * s * s
            if c > 0.0:
                acc += c - 2.0 * c * s
        out[u] = acc
