"""Cholesky rows solved by the Woodbury identity against one factorisation of A0."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerances import rel_err

from fastals import reference, solvers
from fastals._kernels.linalg import cholesky_factor
from fastals._kernels.woodbury import low_rank_scratch, low_rank_solve, solve_columns


def short_rows(seed, n_rows, n_cols, k, per_row, values, dtype):
    """Rows with ``per_row`` entries or fewer (values drawn from ``values``), random factors."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for u in range(n_rows):
        picked = rng.choice(n_cols, size=rng.integers(0, per_row + 1), replace=False)
        rows += [u] * len(picked)
        cols += list(picked)
    data = rng.choice(values, size=len(rows)).astype(dtype)
    Cui = sp.csr_matrix((data, (rows, cols)), shape=(n_rows, n_cols))
    X = rng.random((n_rows, k)).astype(dtype)
    Y = rng.random((n_cols, k)).astype(dtype)
    return Cui, X, Y


def runs(Cui):
    """(unit run, weighted run) with every entry in the weighted run (``rows`` module)."""
    starts, ends = Cui.indptr[:-1], Cui.indptr[1:]
    return (Cui.indices, starts, starts), (Cui.indices, Cui.data, starts, ends)


def exact_rows(Cui, Y, reg):
    """Each row's exact solution in float64 (NumPy's solver on the reference's equations)."""
    out = np.zeros((Cui.shape[0], Y.shape[1]))
    for u in range(Cui.shape[0]):
        lo, hi = Cui.indptr[u], Cui.indptr[u + 1]
        if lo < hi:
            A, b = reference.normal_equations(
                Y.astype(np.float64), float(reg), Cui.indices[lo:hi], Cui.data[lo:hi]
            )
            out[u] = np.linalg.solve(A, b)
    return out


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    k=st.integers(6, 24),
    per_row=st.integers(1, 12),
    values=st.sampled_from([[1.0, 41.0], [1.5, 3.0, 200.0], [1.0, -2.0, 7.0]]),
)
def test_float32_low_rank_rows_match_the_exact_solution(seed, k, per_row, values):
    per_row = min(per_row, k // 2)  # every non-empty row within the low-rank limit
    Cui, X, Y = short_rows(seed, 60, 25, k, per_row, values, np.float32)
    M = solvers.SweepMatrix(Cui)
    reg = 0.5
    A0 = solvers.shared_system(Y, np.float32(reg))
    Z, max_rank = solvers.low_rank_columns(M, Y, A0)
    assert Z.shape == Y.shape  # the path is taken: many short rows, few columns
    solvers.half_sweep(M, X, Y, reg, solver="cholesky")
    exact = exact_rows(Cui, Y, np.float32(reg))
    # float64 inside: as close as the float32 result can be (|x| ~ 1, cond(A_u) moderate)
    assert rel_err(X, exact) < 1e-5


def test_weights_below_one_or_stored_zeros_take_the_factorisation():
    k = 6
    Cui, X, Y = short_rows(3, 40, 20, k, 4, [0.5, 0.0, 3.0, 1.0], np.float32)
    reg = np.float32(0.5)
    A0 = solvers.shared_system(Y, reg)
    L = A0.astype(np.float64)
    assert cholesky_factor(L) == 0
    Z = np.empty(Y.shape)
    solve_columns(0, len(Y), L, Y, Z)
    scratch = low_rank_scratch(k, k)
    taken = []
    for u in range(Cui.shape[0]):
        lo, hi = Cui.indptr[u], Cui.indptr[u + 1]
        x = np.full(k, np.nan, np.float32)
        ok = low_rank_solve(*runs(Cui), u, Y, Z, k, scratch, x, 1.0)
        vals = np.abs(Cui.data[lo:hi])
        assert ok == bool(np.all(vals >= 1.0)), u  # any weight in [0, 1) refuses
        assert ok or np.isnan(x).all()  # refused: x untouched
        taken.append(ok)
    assert any(taken) and not all(taken)
    # the sweep mixes both paths and still gives the exact solution
    M = solvers.SweepMatrix(Cui)
    solvers.half_sweep(M, X, Y, reg, solver="cholesky")
    assert rel_err(X, exact_rows(Cui, Y, reg)) < 1e-5


def test_reference_identity_equals_the_direct_solve():
    Cui, _, Y = short_rows(7, 30, 40, 10, 6, [1.0, 2.0, 90.0, -3.0, 0.5], np.float64)
    refused = 0
    for u in range(Cui.shape[0]):
        lo, hi = Cui.indptr[u], Cui.indptr[u + 1]
        cols, vals = Cui.indices[lo:hi], Cui.data[lo:hi]
        x = reference.solve_low_rank(Y, 0.1, cols, vals)
        if x is None:
            assert np.any(np.abs(vals) < 1)
            refused += 1
            continue
        A, b = reference.normal_equations(Y, 0.1, cols, vals)
        assert rel_err(x, reference.solve_exact(A, b), 1e-12) < 1e-10
    assert 0 < refused < Cui.shape[0]


def test_low_rank_solve_is_exact_in_float64():
    """Called on float64 inputs the kernel gives the reference identity to rounding."""
    k = 16
    Cui, _, Y = short_rows(5, 30, 40, k, 6, [1.0, 2.0, 90.0], np.float64)
    A0 = solvers.shared_system(Y, 0.1)
    L = A0.copy()
    assert cholesky_factor(L) == 0
    Z = np.empty(Y.shape)
    solve_columns(0, len(Y), L, Y, Z)
    exact = exact_rows(Cui, Y, 0.1)
    scratch = low_rank_scratch(k, k)
    for u in range(Cui.shape[0]):
        lo, hi = Cui.indptr[u], Cui.indptr[u + 1]
        x = np.zeros(k)
        assert low_rank_solve(*runs(Cui), u, Y, Z, k, scratch, x, 1.0)
        assert rel_err(x, exact[u], 1e-12) < 1e-10
        identity = reference.solve_low_rank(Y, 0.1, Cui.indices[lo:hi], Cui.data[lo:hi])
        assert rel_err(x, identity, 1e-12) < 1e-10


def test_float64_models_and_long_rows_keep_the_factorisation():
    Cui, _, Y = short_rows(1, 60, 25, 8, 4, [1.0, 41.0], np.float64)
    M = solvers.SweepMatrix(Cui)
    A0 = solvers.shared_system(Y, 0.5)
    assert solvers.low_rank_columns(M, Y, A0)[0].size == 0  # float64: implicit's arithmetic
    Y32 = Y.astype(np.float32)
    A0 = solvers.shared_system(Y32, np.float32(0.5))
    assert solvers.low_rank_columns(M, Y32, A0)[0].size > 0
    dense = sp.csr_matrix(np.ones((3, 25), np.float32) * 5)  # 25 entries > k/2 per row
    assert solvers.low_rank_columns(solvers.SweepMatrix(dense), Y32, A0)[0].size == 0


def test_fused_loss_on_low_rank_rows():
    Cui, X, Y = short_rows(2, 60, 25, 8, 4, [1.0, 41.0, 2.5], np.float32)
    M = solvers.SweepMatrix(Cui)
    numerator = solvers.half_sweep(M, X, Y, 0.5, solver="cholesky", with_loss=True)
    lam = float(solvers.rounded_regularization(0.5, "cholesky", X.dtype))
    expected = reference.loss(Cui, X, Y, lam) * M.total_confidence - lam * float((Y**2).sum())
    assert numerator == pytest.approx(expected, rel=1e-4)
