"""Row layouts for the solvers: entries that change A_u apart from those that only feed b_u.

A stored confidence c with |c| == 1 adds (|c| - 1) y y^T = 0 to A_u: it only feeds b_u
(when c == +1) or nothing at all (c == -1, which is the same as an absent cell except
that it makes the row non-empty). A side is kept as two compact runs per row, each in
column order:

    weighted run   entries with |c| != 1, ids and values   (weight w = |c| - 1 on y y^T)
    unit run       ids of the entries with c == +1           (b_u += y)

CG then touches only the weighted run in every A_u p product, which for KuaiRec's data (94%
ones) is most of the work saved, and sums the unit run once per sweep reading ids only: 8
bytes per weighted entry and 4 per unit entry. ``split_runs`` builds them from a CSR,
``transpose_split`` from a CSR's transpose.
"""

import numpy as np

from ._jit import jit


@jit()
def transpose_split(n_cols, indptr, indices, data):
    """The transpose of a CSR as ``split_runs`` lays out a side (two counting-sort passes).

    Returns (indptr, (weighted indptr, indices, data), (unit indptr, indices)) of the
    n_cols x n_rows matrix: ``indptr`` counts every entry of a row (c == -1 ones included:
    they make a row non-empty), the weighted run holds its |c| != 1 entries, the unit run the
    ids of its c == 1 entries; within each run the (new) column ids ascend.
    """
    n_rows = indptr.shape[0] - 1
    one = data.dtype.type(1)
    all_indptr = np.zeros(n_cols + 1, indptr.dtype)
    w_indptr = np.zeros(n_cols + 1, indptr.dtype)
    u_indptr = np.zeros(n_cols + 1, indptr.dtype)
    for idx in range(indices.shape[0]):
        c = data[idx]
        j = indices[idx] + 1
        all_indptr[j] += 1
        w_indptr[j] += abs(c) != one
        u_indptr[j] += c == one
    for j in range(n_cols):
        all_indptr[j + 1] += all_indptr[j]
        w_indptr[j + 1] += w_indptr[j]
        u_indptr[j + 1] += u_indptr[j]
    w_indices = np.empty(w_indptr[n_cols], indices.dtype)
    w_data = np.empty(w_indptr[n_cols], data.dtype)
    u_indices = np.empty(u_indptr[n_cols], indices.dtype)
    w_fill = w_indptr[:-1].copy()
    u_fill = u_indptr[:-1].copy()
    for u in range(n_rows):
        for idx in range(indptr[u], indptr[u + 1]):
            c = data[idx]
            j = indices[idx]
            if abs(c) != one:
                w_indices[w_fill[j]] = u
                w_data[w_fill[j]] = c
                w_fill[j] += 1
            elif c == one:
                u_indices[u_fill[j]] = u
                u_fill[j] += 1
    return all_indptr, (w_indptr, w_indices, w_data), (u_indptr, u_indices)


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
