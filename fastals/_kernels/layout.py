"""Row layouts for the solvers: entries that change A_u apart from those that only feed b_u.

A stored confidence c with |c| == 1 adds (|c| - 1) y y^T = 0 to A_u: it only feeds b_u
(when c == +1) or nothing at all (c == -1, which is the same as an absent cell except
that it makes the row non-empty). Row u of the result holds, in this order:

    [indptr[u], w_end[u])   entries with |c| != 1   (weight w = |c| - 1 on y y^T)
    [w_end[u], p_end[u])    entries with c == +1    (b_u += y)
    [p_end[u], indptr[u+1]) entries with c == -1    (no effect)

each run in the original (sorted) column order. CG then touches only the first run in
every A_u p product, which for KuaiRec's data (94% ones) is most of the work saved.
``transpose_partitioned`` builds the transposed side in this order; ``split_runs`` copies
out the |c| != 1 entries and the c == 1 column ids of a side given in one run.
"""

import numpy as np

from ._jit import jit


@jit()
def transpose_partitioned(n_cols, indptr, indices, data):
    """The transpose of a CSR, each row already in the three runs (one counting-sort pass).

    Returns (indptr, indices, data, w_end, p_end) of the n_cols x n_rows matrix, each row in
    the three runs above; within each run the (new) column ids ascend.
    """
    n_rows = indptr.shape[0] - 1
    one = data.dtype.type(1)
    counts = np.zeros((n_cols, 3), indptr.dtype)  # per column: |c| != 1, c == 1, c == -1
    for idx in range(indices.shape[0]):
        c = data[idx]
        run = 0 if abs(c) != one else (1 if c == one else 2)
        counts[indices[idx], run] += 1
    out_indptr = np.zeros(n_cols + 1, indptr.dtype)
    cursor = np.empty((n_cols, 3), indptr.dtype)
    w_end = np.empty(n_cols, indptr.dtype)
    p_end = np.empty(n_cols, indptr.dtype)
    for j in range(n_cols):
        start = out_indptr[j]
        cursor[j, 0] = start
        cursor[j, 1] = start + counts[j, 0]
        cursor[j, 2] = cursor[j, 1] + counts[j, 1]
        w_end[j] = cursor[j, 1]
        p_end[j] = cursor[j, 2]
        out_indptr[j + 1] = p_end[j] + counts[j, 2]
    out_indices = np.empty(indices.shape[0], indices.dtype)
    out_data = np.empty(indices.shape[0], data.dtype)
    for u in range(n_rows):
        for idx in range(indptr[u], indptr[u + 1]):
            c = data[idx]
            j = indices[idx]
            run = 0 if abs(c) != one else (1 if c == one else 2)
            pos = cursor[j, run]
            out_indices[pos] = u
            out_data[pos] = c
            cursor[j, run] = pos + 1
    return out_indptr, out_indices, out_data, w_end, p_end


@jit()
def split_runs(indptr, indices, data):
    """Each row's |c| != 1 entries and its c == 1 entries, as two compact CSRs:
    (weighted indptr, indices, data) and (unit indptr, indices); c == -1 entries are in neither."""
    n_rows = indptr.shape[0] - 1
    one = data.dtype.type(1)
    w_indptr = np.zeros(n_rows + 1, indptr.dtype)
    u_indptr = np.zeros(n_rows + 1, indptr.dtype)
    for u in range(n_rows):
        n_w = n_u = 0
        for idx in range(indptr[u], indptr[u + 1]):
            c = data[idx]
            n_w += abs(c) != one
            n_u += c == one
        w_indptr[u + 1] = w_indptr[u] + n_w
        u_indptr[u + 1] = u_indptr[u] + n_u
    w_indices = np.empty(w_indptr[n_rows], indices.dtype)
    w_data = np.empty(w_indptr[n_rows], data.dtype)
    u_indices = np.empty(u_indptr[n_rows], indices.dtype)
    for u in range(n_rows):
        w = w_indptr[u]
        p = u_indptr[u]
        for idx in range(indptr[u], indptr[u + 1]):
            c = data[idx]
            if abs(c) != one:
                w_indices[w] = indices[idx]
                w_data[w] = c
                w += 1
            elif c == one:
                u_indices[p] = indices[idx]
                p += 1
    return (w_indptr, w_indices, w_data), (u_indptr, u_indices)


@jit()
def confidence_stats(data):
    """(sum of |c| as float64, number of entries with |c| != 1), in one pass, no temporaries."""
    one = data.dtype.type(1)
    total = 0.0
    weighted = 0
    for idx in range(data.shape[0]):
        c = abs(data[idx])
        total += c
        if c != one:
            weighted += 1
    return total, weighted
