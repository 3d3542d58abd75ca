"""Numba kernels against the readable NumPy reference (fastals.reference)."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tolerances import KERNEL_F32, KERNEL_F64, rel_err

from fastals import reference, solvers
from fastals._kernels.linalg import cholesky_solve
from fastals._threads import thread_scope
from fastals.solvers import gram

TOL = {np.float64: KERNEL_F64, np.float32: KERNEL_F32}


def random_problem(seed, n_rows, n_cols, k, density, dtype, kinds="mixed"):
    """A CSR of confidences (ones, large, negative, stored zeros) and random factors."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_rows, n_cols)) < density
    rows, cols = np.nonzero(mask)
    choices = {
        "mixed": [1.0, 1.0, 41.0, 3.5, -2.0, 0.0],  # mostly |c| != 1
        "ones": [1.0, 1.0, 1.0, 1.0, 1.0, 41.0, -1.0, 0.0],  # mostly c == 1, as the seed's
        "positive": [1.0, 41.0],
    }[kinds]
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
@given(problem=problems, cg_steps=st.integers(1, 3), kinds=st.sampled_from(["mixed", "ones"]))
def test_half_sweep_matches_reference(dtype, solver, problem, cg_steps, kinds):
    seed, n_rows, n_cols, k, density = problem
    Cui, X, Y = random_problem(seed, n_rows, n_cols, k, density, dtype, kinds=kinds)
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


@pytest.mark.parametrize("n", [1, 3, 64, 65, 5000])
@pytest.mark.parametrize("k", [1, 16, 50, 64])
def test_float32_gram_from_the_outer_product_tiles(n, k):
    """float32 Grams go through ``simd.add_outer_products`` (register tiles, k padded where
    not a multiple of 16): against float64 NumPy, exactly symmetric, the same bits on 1-3
    threads."""
    Y = np.random.default_rng(n * k).standard_normal((n, k)).astype(np.float32)
    exact = Y.astype(np.float64).T @ Y.astype(np.float64)
    got = {}
    for threads in (1, 2, 3):
        with thread_scope(threads):
            got[threads] = gram(Y)
    G = got[1]
    assert G.dtype == np.float32 and np.array_equal(G, G.T)
    np.testing.assert_allclose(G, exact, rtol=1e-4, atol=1e-4 * np.sqrt(n))
    assert np.array_equal(got[2], G) and np.array_equal(got[3], G)


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
    for threads in (1, 2, 3):
        with thread_scope(threads):
            got = X.copy()
            solvers.half_sweep(solvers.SweepMatrix(Cui), got, Y, 0.1, solver=solver)
            out[threads] = (got, gram(got), solvers.training_loss(Cui, got, Y, 0.1))
    (a, ga, la), (b, gb, lb), (c, gc, lc) = out.values()
    assert np.array_equal(a, c) and np.array_equal(ga, gc) and la == lc
    assert np.array_equal(a, b) and np.array_equal(ga, gb) and la == lb


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
@pytest.mark.parametrize("n_rows", [40, 700, 5000])
def test_next_gram_is_gram_of_the_new_rows_bit_for_bit(solver, n_rows):
    """``half_sweep(next_gram=True)``: the same rows, and X^T X equal to ``gram`` of them (CG
    computes it block by block with its rows; the fit passes it on as the next side's YtY,
    and ``fastals.distributed`` calls ``gram``: both must agree to the bit)."""
    Cui, X, Y = random_problem(4, n_rows, 300, 24, 0.05, np.float32)
    M = solvers.SweepMatrix(Cui)
    for threads in (1, 2, 3):
        with thread_scope(threads):
            plain, fused = X.copy(), X.copy()
            solvers.half_sweep(M, plain, Y, 0.1, solver=solver)
            loss, XtX = solvers.half_sweep(M, fused, Y, 0.1, solver=solver, next_gram=True)
        assert loss is None
        assert np.array_equal(fused, plain)
        assert np.array_equal(XtX, gram(plain))
    with thread_scope(2):
        numerator, XtX = solvers.half_sweep(M, X, Y, 0.1, with_loss=True, next_gram=True)
    assert np.isfinite(numerator) and np.array_equal(XtX, gram(X))
    # the reference path forms its own Gram matrices: none computed for it
    assert solvers.half_sweep(M, X, Y, 0.1, solver=solver, native=False, next_gram=True) == (
        None,
        None,
    )


def assert_runs(M, Cui):
    """Each row of M holds exactly Cui's row: the c == 1 entries' ids in the unit run,
    |c| != 1 entries in the weighted run (and c == -1 entries in neither)."""
    u_idx, u_start, u_end = M.unit_run
    w_idx, w_data, w_start, w_end = M.weighted_run
    for u in range(Cui.shape[0]):
        row = Cui[u]
        units = [(i, 1.0) for i in u_idx[u_start[u] : u_end[u]]]
        weighted = list(
            zip(w_idx[w_start[u] : w_end[u]], w_data[w_start[u] : w_end[u]], strict=True)
        )
        if u_start is u_end:  # the whole row is the weighted run (given side, mostly weighted)
            assert sorted(weighted) == sorted(zip(row.indices, row.data, strict=True))
            continue
        assert all(abs(c) != 1 for _, c in weighted)
        expected_units = sorted(
            (i, c) for i, c in zip(row.indices, row.data, strict=True) if c == 1
        )
        expected_weighted = sorted(
            (i, c) for i, c in zip(row.indices, row.data, strict=True) if abs(c) != 1
        )
        assert sorted(units) == expected_units and sorted(weighted) == expected_weighted


@settings(max_examples=30, deadline=None)
@given(problem=problems, mostly_ones=st.booleans())
def test_sweep_matrix_runs_hold_each_row(problem, mostly_ones):
    seed, n_rows, n_cols, k, density = problem
    kinds = "ones" if mostly_ones else "mixed"
    Cui, _, _ = random_problem(seed, n_rows, n_cols, k, density, np.float64, kinds=kinds)
    M = solvers.SweepMatrix(Cui)
    assert_runs(M, Cui)
    if M.unit_run[1] is M.unit_run[2]:  # mostly weighted: the given arrays, not copied
        assert M.weighted_run[0] is Cui.indices and M.weighted_run[1] is Cui.data
    T = M.transpose()
    assert T.shape == (n_cols, n_rows)
    Ciu = Cui.T.tocsr()
    assert_runs(T, Ciu)
    assert np.array_equal(T.indptr, Ciu.indptr)  # every entry counts: c == -1 rows are not empty
    assert (T.csr != Ciu).nnz == 0 and T.total_confidence == M.total_confidence
    # the same runs as the transpose split directly (fastals.distributed's item blocks)
    S = solvers.SweepMatrix(Ciu, whole_rows=False)
    for got, expected in zip(T.weighted_run + T.unit_run, S.weighted_run + S.unit_run, strict=True):
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["cg", "cholesky"])
@settings(max_examples=25, deadline=None)
@given(problem=problems, kinds=st.sampled_from(["mixed", "ones"]))
def test_loss_fused_into_the_sweep_equals_the_standalone_loss(dtype, solver, problem, kinds):
    seed, n_rows, n_cols, k, density = problem
    Cui, X, Y = random_problem(seed, n_rows, n_cols, k, density, dtype, kinds=kinds)
    M = solvers.SweepMatrix(Cui)
    assume(M.total_confidence > 0)  # all cells stored zeros: the loss is undefined (nan)
    # the fused loss is taken at the rows' new factors, against the fixed other side
    numerator = solvers.half_sweep(M, X, Y, 0.5, solver=solver, with_loss=True)
    lam = float(solvers.rounded_regularization(0.5, solver, X.dtype))
    expected = reference.loss(Cui, X, Y, lam) * M.total_confidence - lam * float((Y**2).sum())
    assert numerator == pytest.approx(expected, rel=TOL[dtype] * 10, abs=TOL[dtype])


@settings(max_examples=30, deadline=None)
@given(problem=problems, block_rows=st.integers(1, 20), mostly_ones=st.booleans())
def test_blocked_unit_sums_are_the_c_equals_one_sums(problem, block_rows, mostly_ones):
    from fastals._kernels.rows import unit_sum, unit_sums

    seed, n_rows, n_cols, k, density = problem
    Cui, X, Y = random_problem(
        seed, n_rows, n_cols, k, density, np.float32, kinds="ones" if mostly_ones else "mixed"
    )
    Ciu = Cui.T.tocsr()
    for C, M, F in (
        (Cui, solvers.SweepMatrix(Cui), Y),
        (Ciu, solvers.SweepMatrix(Cui).transpose(), X),
    ):
        indices, start, end = M.unit_run
        # a side given mostly weighted keeps its c == 1 entries in the weighted run
        ones = (C.data == 1) & (start is not end)
        expected = sp.csr_matrix(
            (ones.astype(float), C.indices, C.indptr), shape=C.shape
        ) @ F.astype(np.float64)
        B = np.empty((M.shape[0], k), np.float32)
        one_block = np.empty_like(B)
        cut = M.shape[0] // 3  # two ranges, as parallel_for may split the rows
        unit_sums(0, cut, indices, start, end, F, block_rows, B)
        unit_sums(cut, M.shape[0], indices, start, end, F, block_rows, B)
        unit_sums(0, M.shape[0], indices, start, end, F, F.shape[0], one_block)
        np.testing.assert_allclose(B, expected, rtol=1e-5, atol=1e-4)
        for u in range(M.shape[0]):
            b = np.empty(k, np.float32)
            n = unit_sum(indices, start[u], end[u], F, b)
            assert np.array_equal(one_block[u], b)  # one block: the same additions, same order
            assert n == np.count_nonzero(ones[C.indptr[u] : C.indptr[u + 1]])
