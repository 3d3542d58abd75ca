"""Exact solves for rows with few weighted entries, from one factorisation of A0 per sweep.

Row u's system is A_u = A0 + W^T D W: W holds the m item vectors y_a of the entries with
|c_a| != 1 and D = diag(|c_a| - 1) (implicit's objective; iALS's, where A_u adds w_a y_a y_a^T
for every stored entry, is the same with D = diag(w_a): ``shift`` 0 instead of 1). When
every such weight is positive and m is small against k, the Woodbury identity

    A_u^{-1} b = x0 - Z (D^{-1} + W Z)^{-1} W x0,   x0 = A0^{-1} b,  Z = A0^{-1} W^T

replaces the k^3/3 factorisation of A_u by an m x m one. Z's columns z_a = A0^{-1} y_a are
the same for every row, so they are solved once per sweep for every column of the other side
(``solve_columns``), and x0 = sum_{c > 0} c z_i is a sum of them. The m x m matrix
S = D^{-1} + W Z is symmetric positive definite (a positive diagonal plus a Gram matrix).

Everything here runs in float64: a float32 model gets its rows solved more accurately than a
float32 factorisation would (the identity subtracts nearly equal vectors when the weights are
large, which float64 absorbs).
"""

import numpy as np

from ._jit import jit
from .linalg import cholesky_solve, cholesky_substitute


@jit()
def solve_columns(i0, i1, L, Y, Z):
    """Z[i] = A0^{-1} y_i (float64) for the rows i0..i1-1 of ``Y``, from A0 = L L^T."""
    k = Y.shape[1]
    for i in range(i0, i1):
        z = Z[i]  # one view per column: Y has few rows next to the work per row (k^2)
        for j in range(k):
            z[j] = Y[i, j]
        cholesky_substitute(L, z)


@jit()
def low_rank_scratch(k, max_rank):
    """Scratch memory for ``low_rank_solve`` on rows of rank up to ``max_rank``."""
    return (
        np.empty(k, np.float64),
        np.empty(max_rank, np.int64),
        np.empty(max_rank, np.float64),
        np.empty(max_rank * max_rank, np.float64),
        np.empty(max_rank, np.float64),
    )


@jit()
def low_rank_solve(unit_run, weighted_run, u, Y, Z, max_rank, scratch, x, shift):
    """x = A_u^{-1} b_u by the Woodbury identity; False (x untouched) when it does not apply.

    ``unit_run``/``weighted_run`` are the sweep's runs
    (``rows`` module), ``u`` the row: passed whole, as a tuple of a row's slices built per row
    would update the shared arrays' reference counts from every thread. b_u = sum c y over
    both runs (c = 1 in the unit run); D's weights are |c| - ``shift``.
    It applies when the row has at most ``max_rank`` entries with |c| != shift in its weighted
    run and each of them has |c| > shift (a smaller weight would make S indefinite).
    """
    u_indices, u_starts, u_ends = unit_run
    w_indices, w_data, w_starts, w_ends = weighted_run
    u_start, u_end, w_start, w_end = u_starts[u], u_ends[u], w_starts[u], w_ends[u]
    k = Z.shape[1]
    m = 0
    for idx in range(w_start, w_end):
        weight = abs(np.float64(w_data[idx])) - shift
        if weight < 0.0:
            return False
        if weight > 0.0:
            m += 1
    if m > max_rank:
        return False
    x0, rows, inv_w, S_flat, t_flat = scratch
    x0[:] = 0.0
    for idx in range(u_start, u_end):  # b's c == 1 entries: x0 += z_i
        i = u_indices[idx]
        for j in range(k):
            x0[j] += Z[i, j]
    a = 0  # rows[a], inv_w[a]: the weighted entries' columns and 1 / weights
    for idx in range(w_start, w_end):
        c = np.float64(w_data[idx])
        if c > 0.0:
            i = w_indices[idx]
            for j in range(k):
                x0[j] += c * Z[i, j]
        if abs(c) != shift:
            rows[a] = w_indices[idx]
            inv_w[a] = 1.0 / (abs(c) - shift)
            a += 1
    if m > 0:
        S = S_flat[: m * m].reshape((m, m))  # lower: y_a . z_b (+ 1/w_a on the diagonal)
        t = t_flat[:m]
        for a in range(m):
            ia = rows[a]
            for b in range(a + 1):
                ib = rows[b]
                s = 0.0
                for j in range(k):
                    s += np.float64(Y[ia, j]) * Z[ib, j]
                S[a, b] = s
            S[a, a] += inv_w[a]
            s = 0.0
            for j in range(k):
                s += np.float64(Y[ia, j]) * x0[j]
            t[a] = s
        if cholesky_solve(S, t) != 0:
            return False
        for a in range(m):
            ia = rows[a]
            ta = t[a]
            for j in range(k):
                x0[j] -= ta * Z[ia, j]
    for j in range(k):
        x[j] = x0[j]
    return True
