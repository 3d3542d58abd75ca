"""Per-row pieces shared by the CG and Cholesky half-sweeps.

A row is given as two runs (``solvers.SweepMatrix`` builds them): the *unit* run, the
column ids of its entries with c == 1 (they feed b_u only), and the *weighted* run of entries
with |c| != 1 (and, on a side kept as given, possibly some c == 1 entries, which add exactly
0 to A_u and their c to b_u).

Hot loops index ``Y[i, j]`` directly instead of taking a row view ``Y[i]`` per entry (a view
per stored entry costs Numba a reference-count update on Y), and the weighted run is walked
eight, then four, then one entry at a time, so that many independent dot products are in
flight and ``out`` is loaded and stored once per eight (four) entries. The three loops repeat
one body on purpose: written as a helper per entry, the call spilled the dot products'
registers, so the unrolling is spelled out. What each gained: benchmarks/RESULTS.md,
"Adopted levers".
"""

import numpy as np

from ._jit import jit
from .simd import gathered_axpy, gathered_dots, span


@jit()
def add_rows(indices, idx, stop, below, Y, b):
    """b += Y[indices[idx]] for the entries from ``idx`` on, up to ``stop`` or the first id
    >= ``below``; returns where it stopped.

    Eight entries at a time where it can: their loads are independent and b is loaded and
    stored once per eight (1.7x faster than one entry at a time on KuaiRec's c == 1 sums).
    """
    k = Y.shape[1]
    while idx + 8 <= stop and indices[idx + 7] < below:
        i0, i1, i2, i3 = indices[idx], indices[idx + 1], indices[idx + 2], indices[idx + 3]
        i4, i5, i6, i7 = indices[idx + 4], indices[idx + 5], indices[idx + 6], indices[idx + 7]
        for j in range(k):
            b[j] += ((Y[i0, j] + Y[i1, j]) + (Y[i2, j] + Y[i3, j])) + (
                (Y[i4, j] + Y[i5, j]) + (Y[i6, j] + Y[i7, j])
            )
        idx += 8
    while idx < stop and indices[idx] < below:
        i = indices[idx]
        for j in range(k):
            b[j] += Y[i, j]
        idx += 1
    return idx


@jit()
def unit_sum(indices, start, end, Y, b):
    """b = sum of y_i over the unit run [start, end) (column ids of c == 1 entries).

    Returns their number, as float64 (their share of sum_{c > 0} c in the loss).
    """
    b[:] = 0
    add_rows(indices, start, end, Y.shape[0], Y, b)
    return np.float64(end - start)


@jit()
def weighted_pass(indices, data, start, w_end, Y, v, out, sign, with_rhs, offset):
    """out += sum over the run of |c| != 1 entries of t_i y_i, where

    t_i = sign * (|c_i| - offset) * (y_i . v)  (+ max(c_i, 0) when ``with_rhs``).

    With sign=+1 this adds the weighted part of A_u v; with sign=-1 and ``with_rhs`` it adds
    the weighted part of b_u - A_u v (the CG residual), in one pass. ``offset`` is 1 for
    implicit's objective (the stored cells' C - 1) and 0 for iALS's (their weight w).
    """
    zero = out.dtype.type(0)
    k = v.shape[0]
    s = span(Y, v, out)  # factors 0..s-1 of the eight-entry blocks: 512-bit IR (``simd.gathered``)
    idx = start
    while idx + 8 <= w_end:
        i0, i1, i2, i3 = indices[idx], indices[idx + 1], indices[idx + 2], indices[idx + 3]
        i4, i5, i6, i7 = indices[idx + 4], indices[idx + 5], indices[idx + 6], indices[idx + 7]
        d0, d1, d2, d3, d4, d5, d6, d7 = gathered_dots(Y, indices, idx, v)
        for j in range(s, k):
            vj = v[j]
            d0 += Y[i0, j] * vj
            d1 += Y[i1, j] * vj
            d2 += Y[i2, j] * vj
            d3 += Y[i3, j] * vj
            d4 += Y[i4, j] * vj
            d5 += Y[i5, j] * vj
            d6 += Y[i6, j] * vj
            d7 += Y[i7, j] * vj
        c0, c1, c2, c3 = data[idx], data[idx + 1], data[idx + 2], data[idx + 3]
        c4, c5, c6, c7 = data[idx + 4], data[idx + 5], data[idx + 6], data[idx + 7]
        t0 = sign * (abs(c0) - offset) * d0
        t1 = sign * (abs(c1) - offset) * d1
        t2 = sign * (abs(c2) - offset) * d2
        t3 = sign * (abs(c3) - offset) * d3
        t4 = sign * (abs(c4) - offset) * d4
        t5 = sign * (abs(c5) - offset) * d5
        t6 = sign * (abs(c6) - offset) * d6
        t7 = sign * (abs(c7) - offset) * d7
        if with_rhs:
            t0 += max(c0, zero)
            t1 += max(c1, zero)
            t2 += max(c2, zero)
            t3 += max(c3, zero)
            t4 += max(c4, zero)
            t5 += max(c5, zero)
            t6 += max(c6, zero)
            t7 += max(c7, zero)
        gathered_axpy(Y, indices, idx, (t0, t1, t2, t3, t4, t5, t6, t7), out)
        for j in range(s, k):
            out[j] += (t0 * Y[i0, j] + t1 * Y[i1, j] + t2 * Y[i2, j] + t3 * Y[i3, j]) + (
                t4 * Y[i4, j] + t5 * Y[i5, j] + t6 * Y[i6, j] + t7 * Y[i7, j]
            )
        idx += 8
    while idx + 4 <= w_end:
        i0, i1, i2, i3 = indices[idx], indices[idx + 1], indices[idx + 2], indices[idx + 3]
        d0 = zero
        d1 = zero
        d2 = zero
        d3 = zero
        for j in range(k):
            vj = v[j]
            d0 += Y[i0, j] * vj
            d1 += Y[i1, j] * vj
            d2 += Y[i2, j] * vj
            d3 += Y[i3, j] * vj
        c0, c1, c2, c3 = data[idx], data[idx + 1], data[idx + 2], data[idx + 3]
        t0 = sign * (abs(c0) - offset) * d0
        t1 = sign * (abs(c1) - offset) * d1
        t2 = sign * (abs(c2) - offset) * d2
        t3 = sign * (abs(c3) - offset) * d3
        if with_rhs:
            t0 += max(c0, zero)
            t1 += max(c1, zero)
            t2 += max(c2, zero)
            t3 += max(c3, zero)
        for j in range(k):
            out[j] += t0 * Y[i0, j] + t1 * Y[i1, j] + t2 * Y[i2, j] + t3 * Y[i3, j]
        idx += 4
    while idx < w_end:
        i = indices[idx]
        c = data[idx]
        d = zero
        for j in range(k):
            d += Y[i, j] * v[j]
        t = sign * (abs(c) - offset) * d
        if with_rhs:
            t += max(c, zero)
        for j in range(k):
            out[j] += t * Y[i, j]
        idx += 1


@jit()
def rhs(u_indices, u_start, u_end, w_indices, w_data, w_start, w_end, Y, b):
    """b = sum_{c > 0} c y_i over the row: its c == 1 entries plus its weighted run."""
    zero = b.dtype.type(0)
    k = b.shape[0]
    unit_sum(u_indices, u_start, u_end, Y, b)
    for idx in range(w_start, w_end):
        c = w_data[idx]
        if c > zero:
            i = w_indices[idx]
            for j in range(k):
                b[j] += c * Y[i, j]


@jit()
def row_loss(indices, data, start, w_end, n_unit, Y, A0, x, b_unit, scratch):
    """This row's share of the loss numerator (float64) at ``x``:

    x^T A0 x + sum_{stored} [ (|c| - 1) s_i^2 - 2 max(c, 0) s_i + max(c, 0) ], s_i = y_i . x,

    with the ``n_unit`` entries of c == 1 folded into -2 x . b_unit + n_unit, and the
    weighted run in ``indices/data[start:w_end]``. A0 includes lambda I, so lambda |x|^2 is
    included.
    """
    k = x.shape[0]
    zero = x.dtype.type(0)
    one = x.dtype.type(1)
    acc = n_unit
    for a in range(k):
        s = zero
        for j in range(k):
            s += A0[a, j] * x[j]
        scratch[a] = s
    for a in range(k):
        acc += np.float64(x[a]) * (np.float64(scratch[a]) - 2.0 * np.float64(b_unit[a]))
    for idx in range(start, w_end):
        i = indices[idx]
        c = data[idx]
        s = zero
        for j in range(k):
            s += Y[i, j] * x[j]
        s64 = np.float64(s)
        pos = np.float64(max(c, zero))
        acc += np.float64(abs(c) - one) * s64 * s64 - 2.0 * pos * s64 + pos
    return acc


@jit()
def unit_sums(u0, u1, indices, start, end, Y, block_rows, B):
    """B[u] = sum of y_i over row u's unit run [start[u], end[u]) (column ids of its c == 1
    entries, ascending), for rows u0..u1-1 (``cg.cg_sweep`` sums its range's rows first).

    Y is walked in blocks of ``block_rows`` rows that fit in L2, all rows of the range
    advancing through a block before the next: the gathered rows of Y come from L2 instead
    of L3 (Y of a large side does not fit in L2). A row's sum depends on its own entries and
    ``block_rows`` only; with one block it is ``unit_sum``'s, addition for addition.
    """
    cursor = start[u0:u1].copy()
    B[u0:u1, :] = 0
    for c0 in range(0, Y.shape[0], block_rows):
        c1 = c0 + block_rows
        for u in range(u0, u1):
            cursor[u - u0] = add_rows(indices, cursor[u - u0], end[u], c1, Y, B[u])
