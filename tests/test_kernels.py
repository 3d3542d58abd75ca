"""Numba kernels against the readable NumPy reference (fastals.reference)."""

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tolerances import KERNEL_F32, KERNEL_F64, rel_err

from fastals import reference, solvers
from fastals._kernels.gram import gram
from fastals._kernels.linalg import cholesky_solve

TOL = {np.float64: KERNEL_F64, np.float32: KERNEL_F32}


def random_problem(seed, n_rows, n_cols, k, density, dtype, kinds="mixed"):
    """A CSR of confidences (ones, large, negative, stored zeros) and random factors."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_rows, n_cols)) < density
    rows, cols = np.nonzero(mask)
    if kinds == "mixed":
        choices = np.array([1.0, 1.0, 41.0, 3.5, -2.0, 0.0])
    else:
        choices = np.array([1.0, 41.0])
    data = rng.choice(choices, size=rows.size).astype(dtype)
    Cui = sp.csr_matrix((data, (rows, cols)), shape=(n_rows, n_cols))
    X = rng.random((n_rows, k)).astype(dtype)
    Y = rng.random((n_cols, k)).astype(dtype)
    return Cui, X, Y


def max_condition(Cui, Y, reg):
    conds = [1.0]
    for u in range(Cui.shape[0]):
        cols = Cui.indices[Cui.indptr[u] : Cui.indptr[u + 1]]
        vals = Cui.data[Cui.indptr[u] : Cui.indptr[u + 1]]
        A, _ = reference.normal_equations(Y.astype(np.float64), float(reg), cols, vals)
        conds.append(np.linalg.cond(A))
    return max(conds)


problems = st.tuples(
    st.integers(0, 2**31),  # seed
    st.integers(1, 12),  # rows
    st.integers(1, 15),  # cols
    st.integers(1, 8),  # k
    st.floats(0.0, 1.0),  # density
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["cg", "cholesky"])
@settings(max_examples=40, deadline=None)
@given(problem=problems, cg_steps=st.integers(1, 3))
def test_half_sweep_matches_reference(dtype, solver, problem, cg_steps):
    seed, n_rows, n_cols, k, density = problem
    Cui, X, Y = random_problem(seed, n_rows, n_cols, k, density, dtype)
    reg = dtype(0.5)
    expected = reference.half_sweep(Cui, X, Y, reg, solver == "cg", cg_steps)
    got = X.copy()
    solvers.half_sweep(solvers.SweepMatrix(Cui), got, Y, reg, solver=solver, cg_steps=cg_steps)
    assert got.dtype == dtype
    # rounding differences grow with the conditioning of the rows' systems
    tol = TOL[dtype] * max_condition(Cui, Y, reg)
    assert rel_err(got, expected, float(np.linalg.norm(X))) <= tol


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cg_with_k_steps_reaches_exact_solution(dtype):
    Cui, X, Y = random_problem(7, 30, 40, 6, 0.3, dtype, kinds="positive")
    exact = X.copy()
    solvers.half_sweep(solvers.SweepMatrix(Cui), exact, Y, 1.0, solver="cholesky")
    cg = X.copy()
    solvers.half_sweep(solvers.SweepMatrix(Cui), cg, Y, 1.0, solver="cg", cg_steps=30)
    assert rel_err(cg, exact) < (1e-8 if dtype == np.float64 else 1e-3)


def test_empty_rows_become_zero():
    Cui, X, Y = random_problem(1, 6, 8, 3, 0.9, np.float64, kinds="positive")
    Cui = Cui.tolil()
    Cui[2, :] = 0
    Cui = sp.csr_matrix(Cui)
    Cui.eliminate_zeros()
    assert Cui.getrow(2).nnz == 0 and all(Cui.getrow(u).nnz for u in (0, 1, 3, 4, 5))
    for solver in ("cg", "cholesky"):
        out = X.copy()
        solvers.half_sweep(solvers.SweepMatrix(Cui), out, Y, 0.1, solver=solver)
        assert np.all(out[2] == 0)
        assert np.all(out[[0, 1, 3, 4, 5]] != 0)


def test_stored_zero_differs_from_absent():
    # a stored 0 has confidence 0, an absent cell confidence 1: different systems
    Y = np.random.default_rng(0).random((3, 2))
    stored = sp.csr_matrix((np.array([2.0, 0.0]), np.array([0, 1]), np.array([0, 2])), shape=(1, 3))
    absent = sp.csr_matrix((np.array([2.0]), np.array([0]), np.array([0, 1])), shape=(1, 3))
    a, b = np.zeros((1, 2)), np.zeros((1, 2))
    solvers.half_sweep(solvers.SweepMatrix(stored), a, Y, 0.1, solver="cholesky")
    solvers.half_sweep(solvers.SweepMatrix(absent), b, Y, 0.1, solver="cholesky")
    assert rel_err(a, b) > 1e-6
    expected = reference.half_sweep(stored, np.zeros((1, 2)), Y, 0.1, use_cg=False)
    assert rel_err(a, expected) < KERNEL_F64


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 3000), k=st.integers(1, 20))
def test_gram_matches_numpy(seed, n, k):
    Y = np.random.default_rng(seed).standard_normal((n, k))
    G = gram(Y)
    np.testing.assert_allclose(G, Y.T @ Y, rtol=1e-10, atol=1e-10 * n)
    assert np.array_equal(G, G.T)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@settings(max_examples=30, deadline=None)
@given(problem=problems)
def test_loss_matches_dense_reference(dtype, problem):
    seed, n_rows, n_cols, k, density = problem
    Cui, X, Y = random_problem(seed, n_rows, n_cols, k, density, dtype)
    got = solvers.training_loss(Cui, X, Y, 0.25)
    expected = reference.loss(Cui, X, Y, 0.25)
    assert got == pytest.approx(expected, rel=TOL[dtype] * 10, nan_ok=True)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(1, 30))
def test_cholesky_solve_matches_numpy(seed, k):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((k, k))
    A = M @ M.T + k * np.eye(k)
    b = rng.standard_normal(k)
    x = b.copy()
    assert cholesky_solve(A.copy(), x) == 0
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-9, atol=1e-12)


def test_cholesky_reports_failed_pivot():
    A = np.array([[1.0, 2.0], [2.0, 1.0]])  # indefinite
    assert cholesky_solve(A.copy(), np.ones(2)) == 2
    assert cholesky_solve(-np.eye(3), np.ones(3)) == 1


def test_cholesky_sweep_error_names_row():
    Cui = sp.csr_matrix(np.array([[1.0, 1.0], [0.0, -0.5]]))
    Cui.data[:] = [1.0, 1.0, 0.0]  # row 1: stored zero -> confidence 0
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    # row 1's A = Y^T Y - y y^T is singular without regularisation
    with pytest.raises(ValueError, match="row 1"):
        solvers.half_sweep(solvers.SweepMatrix(Cui), np.zeros((2, 2)), Y, 0.0, solver="cholesky")


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_thread_count_does_not_change_results(solver):
    Cui, X, Y = random_problem(3, 400, 300, 8, 0.2, np.float32)
    out = {}
    previous = numba.get_num_threads()
    try:
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            got = X.copy()
            solvers.half_sweep(solvers.SweepMatrix(Cui), got, Y, 0.1, solver=solver)
            out[threads] = (got, gram(got), solvers.training_loss(Cui, got, Y, 0.1))
    finally:
        numba.set_num_threads(previous)
    (a, ga, la), (b, gb, lb) = out.values()
    assert np.array_equal(a, b) and np.array_equal(ga, gb) and la == lb


@settings(max_examples=30, deadline=None)
@given(problem=problems)
def test_partition_keeps_each_row_and_orders_its_runs(problem):
    seed, n_rows, n_cols, k, density = problem
    Cui, _, _ = random_problem(seed, n_rows, n_cols, k, density, np.float64)
    M = solvers.SweepMatrix(Cui)
    for u in range(n_rows):
        lo, hi = Cui.indptr[u], Cui.indptr[u + 1]
        w, p = M.w_end[u], M.p_end[u]
        assert lo <= w <= p <= hi
        assert np.all(np.abs(M.data[lo:w]) != 1)
        assert np.all(M.data[w:p] == 1) and np.all(M.data[p:hi] == -1)
        got = sorted(zip(M.indices[lo:hi], M.data[lo:hi], strict=True))
        assert got == sorted(zip(Cui.indices[lo:hi], Cui.data[lo:hi], strict=True))
        for run in ((lo, w), (w, p), (p, hi)):  # column order kept within each run
            assert np.all(np.diff(M.indices[run[0] : run[1]]) > 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["cg", "cholesky"])
@settings(max_examples=25, deadline=None)
@given(problem=problems)
def test_loss_fused_into_the_sweep_equals_the_standalone_loss(dtype, solver, problem):
    seed, n_rows, n_cols, k, density = problem
    Cui, X, Y = random_problem(seed, n_rows, n_cols, k, density, dtype, kinds="mixed")
    M = solvers.SweepMatrix(Cui)
    assume(M.total_confidence > 0)  # all cells stored zeros: the loss is undefined (nan)
    # the fused loss is taken at the rows' new factors, against the fixed other side
    numerator = solvers.half_sweep(M, X, Y, 0.5, solver=solver, with_loss=True)
    lam = float(solvers.rounded_regularization(0.5, solver, X.dtype))
    expected = reference.loss(Cui, X, Y, lam) * M.total_confidence - lam * float((Y**2).sum())
    assert numerator == pytest.approx(expected, rel=TOL[dtype] * 10, abs=TOL[dtype])


@settings(max_examples=30, deadline=None)
@given(problem=problems)
def test_transpose_partitioned_equals_partition_of_scipy_transpose(problem):
    seed, n_rows, n_cols, k, density = problem
    Cui, _, _ = random_problem(seed, n_rows, n_cols, k, density, np.float32)
    got = solvers.SweepMatrix(Cui).transpose()
    expected = solvers.SweepMatrix(Cui.T.tocsr())
    assert got.shape == expected.shape == (n_cols, n_rows)
    for name in ("indptr", "indices", "data", "w_end", "p_end"):
        assert np.array_equal(getattr(got, name), getattr(expected, name)), name
