"""The top-k kernels: register-tiled scoring, implicit's heap selection, the all-pairs path."""

import time

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastals
from fastals._kernels import pairs as pairs_kernels
from fastals._kernels.pairs import PAIRS_CHUNK, PAIRS_STRIP, _kth_best_columns, _threshold
from fastals._kernels.select import select_row
from fastals._kernels.simd import tile
from fastals._kernels.simd.tile import panels, score_tiles
from fastals._kernels.topk import ITEM_CHUNK, _score_block, _score_block_loops
from fastals.recommend import top_k, top_k_pairs
from fastals.reference.serving import top_k as heap_topk  # implicit's select.h, plain Python


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(-3, 3), min_size=1, max_size=400),
    k=st.integers(1, 40),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_select_row_is_implicits_heap(values, k, dtype):
    """Integer scores tie constantly: the survivors and their order are the heap's."""
    scores = np.array(values, dtype=dtype)
    k = min(k, len(scores))
    ids = np.empty((1, k), np.int32)
    out = np.empty((1, k), dtype)
    select_row(scores, k, ids, out, 0)
    expected_ids, expected_scores = heap_topk(scores, k)
    assert ids[0].tolist() == list(expected_ids)
    assert out[0].tolist() == list(expected_scores)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_q", [1, 3, 4, 8, 13])
@pytest.mark.parametrize("k", [1, 3, 4, 7, 50])
def test_score_block_matches_numpy(dtype, n_q, k):
    """The 4 x 4 tile, the leftover queries and factors, and chunks past ITEM_CHUNK."""
    rng = np.random.default_rng(n_q * 100 + k)
    n_c = ITEM_CHUNK + 37
    Q = rng.standard_normal((n_q, k)).astype(dtype)
    YT = np.ascontiguousarray(rng.standard_normal((n_c, k)).astype(dtype).T)
    scores = np.full((n_q, n_c), np.nan, dtype)
    lo, hi = 5, n_c - 3  # a column range: columns outside it are left alone
    _score_block(Q, YT, panels(YT), 0, n_q, lo, hi, 300, scores)
    exact = Q.astype(np.float64) @ YT.astype(np.float64)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(scores[:, lo:hi], exact[:, lo:hi], rtol=rtol, atol=rtol * k)
    assert np.isnan(scores[:, :lo]).all() and np.isnan(scores[:, hi:]).all()


@numba.njit
def _tiles(Q, YP, q0, q1, c_lo, c_hi, scores):
    return score_tiles(Q, YP, q0, q1, c_lo, c_hi, scores)


def test_panels_hold_whole_column_panels_of_float32_only():
    YT = np.arange(5 * 100, dtype=np.float32).reshape(5, 100)
    YP = panels(YT)
    if tile.ENABLED:
        assert YP.shape == (100 // tile.COLS * 5, tile.COLS) and YP.flags.c_contiguous
        for p in range(100 // tile.COLS):
            np.testing.assert_array_equal(
                YP[p * 5 : (p + 1) * 5], YT[:, p * tile.COLS : (p + 1) * tile.COLS]
            )
    else:
        assert YP.shape == (0, tile.COLS)
    assert panels(YT.astype(np.float64)).shape == (0, tile.COLS)


@pytest.mark.parametrize("k", [1, 5, 52])
def test_score_tiles_equal_the_loops_bit_for_bit(k):
    """The register tile adds the same products in the same order as the loops."""
    rng = np.random.default_rng(k)
    Q = rng.standard_normal((40, k)).astype(np.float32)
    YT = np.ascontiguousarray(rng.standard_normal((300, k)).astype(np.float32).T)
    tiled = np.full((21, 300), np.nan, np.float32)
    loops = tiled.copy()
    _score_block(Q, YT, panels(YT), 3, 24, 5, 290, 64, tiled)  # queries 3..23, columns 5..289
    _score_block_loops(Q, YT, 3, 24, 0, 5, 290, 64, loops)
    np.testing.assert_array_equal(tiled, loops)
    assert np.isnan(tiled[:, :5]).all() and not np.isnan(tiled[:, 5:290]).any()


def test_score_tiles_cover_whole_tiles_of_float32_only():
    Q = np.ones((40, 8), np.float32)
    YT = np.ones((8, 300), np.float32)
    scores = np.zeros((21, 300), np.float32)
    covered = _tiles(Q, panels(YT), 3, 24, 5, 290, scores)
    if tile.ENABLED:  # whole tiles of the 21 rows; the whole panels inside columns 5..289
        rows = 21 // tile.ROWS * tile.ROWS
        c_start, c_end = -(-5 // tile.COLS) * tile.COLS, 290 // tile.COLS * tile.COLS
        assert covered == (3 + rows, c_start, c_end)
        assert (scores[:rows, c_start:c_end] == 8).all()
        assert (scores[:, :c_start] == 0).all() and (scores[:, c_end:] == 0).all()
        assert (scores[rows:] == 0).all()
    else:
        assert covered == (3, 5, 5)
    as64 = [a.astype(np.float64) for a in (Q, YT, scores)]
    assert _tiles(as64[0], panels(as64[1]), 3, 24, 5, 290, as64[2]) == (3, 5, 5)


def tied_factors(n, k, dtype, seed=0):
    """Entries in {-1, 0, 1} with duplicated and zero rows: exact ties everywhere."""
    rng = np.random.default_rng(seed)
    Y = rng.integers(-1, 2, size=(n, k)).astype(dtype)
    Y[n // 2 : n // 2 + n // 5] = Y[: n // 5]
    Y[-7:] = 0
    return Y


N_PAIRS = 2 * PAIRS_CHUNK + 3 * PAIRS_STRIP + 5  # several strips; strips with several chunks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["random", "tied"])
@pytest.mark.parametrize("N", [0, 1, 10, N_PAIRS])
@pytest.mark.parametrize("with_norms", [True, False])
def test_pairs_equal_top_k(dtype, kind, N, with_norms):
    """Half the dot products, offered to both rows: the same ids and scores as top_k."""
    if kind == "random":
        Y = np.random.default_rng(1).standard_normal((N_PAIRS, 6)).astype(dtype)
    else:
        Y = tied_factors(N_PAIRS, 5, dtype)
    norms = np.maximum(np.linalg.norm(Y, axis=1), 1e-10).astype(dtype) if with_norms else None
    ids, scores = top_k_pairs(Y, N, norms=norms)
    ref_ids, ref_scores = top_k(Y, Y, N, norms=norms)
    assert ids.shape == scores.shape == (N_PAIRS, N)
    assert ids.dtype == np.int32 and scores.dtype == dtype
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(scores, ref_scores)


def test_similar_items_of_all_items_match_implicit_with_ties():
    """similar_items(all items) takes the all-pairs path; implicit's answers, ties included."""
    implicit_als = pytest.importorskip("implicit.cpu.als")
    Y = tied_factors(N_PAIRS, 4, np.float32, seed=3)
    X = np.random.default_rng(4).standard_normal((20, 4)).astype(np.float32)
    ours = fastals.AlternatingLeastSquares(factors=4)
    theirs = implicit_als.AlternatingLeastSquares(factors=4)
    for model in (ours, theirs):
        model.user_factors, model.item_factors = X.copy(), Y.copy()
    items = np.arange(N_PAIRS)
    for N in (1, 7, 50):
        got_ids, got_scores = ours.similar_items(items, N=N)
        ref_ids, ref_scores = theirs.similar_items(items, N=N)
        np.testing.assert_array_equal(got_ids, ref_ids)
        np.testing.assert_allclose(got_scores, ref_scores, rtol=1e-6, atol=1e-6)


def test_pairs_do_not_depend_on_the_thread_count():
    Y = np.random.default_rng(8).standard_normal((N_PAIRS, 7)).astype(np.float32)
    norms = np.linalg.norm(Y, axis=1)
    one = top_k_pairs(Y, 10, norms=norms, num_threads=1)
    two = top_k_pairs(Y, 10, norms=norms, num_threads=2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


@pytest.mark.parametrize("slots", [1, 2, 3])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_pairs_from_strip_tasks_in_any_order_equal_top_k(monkeypatch, slots, threads):
    """Strips of MIN_STRIP rows (many strips, buffers reused), 1-3 buffers, 1-3 threads, and
    some tasks slowed down (a descheduled thread): other tasks run ahead as far as their
    dependencies allow, and every heap still gets its scores in order, ties included."""
    import fastals._all_pairs as all_pairs

    Y = tied_factors(N_PAIRS, 5, np.float32, seed=11)
    norms = np.maximum(np.linalg.norm(Y, axis=1), 1e-10).astype(np.float32)
    ref_ids, ref_scores = top_k(Y, Y, 10, norms=norms)
    monkeypatch.setattr(pairs_kernels, "STRIP_BYTES", 1)  # MIN_STRIP rows per strip
    monkeypatch.setattr(all_pairs, "SLOTS", slots)
    plain_columns, plain_rows = pairs_kernels.strip_columns, pairs_kernels.strip_rows
    calls = []

    def slow_columns(c_lo, c_hi, r0, *args):
        calls.append(r0)
        if (r0 // pairs_kernels.MIN_STRIP + c_lo // all_pairs.GROUP_COLUMNS) % 3 == 0:
            time.sleep(0.001)
        plain_columns(c_lo, c_hi, r0, *args)

    def slow_rows(i0, i1, r0, *args):
        if (r0 // pairs_kernels.MIN_STRIP) % 4 == 1:
            time.sleep(0.001)
        plain_rows(i0, i1, r0, *args)

    monkeypatch.setattr(pairs_kernels, "strip_columns", slow_columns)
    monkeypatch.setattr(pairs_kernels, "strip_rows", slow_rows)
    ids, scores = top_k_pairs(Y, 10, norms=norms, num_threads=threads)
    assert len(set(calls)) == -(-N_PAIRS // pairs_kernels.MIN_STRIP)  # every strip ran
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(scores, ref_scores)


FLOATS32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    raw=FLOATS32,
    floor=FLOATS32,
    norm=st.floats(min_value=float(np.float32(1e-10)), max_value=float(np.float32(1e30)), width=32),
    ulps=st.integers(-3, 3),
)
def test_threshold_never_rules_out_an_entrant(raw, floor, norm, ulps):
    """The all-pairs path skips d <= _threshold(floor, norm) without dividing: sound only if
    every d with d / norm > floor (rounded as the heap sees it) is above the threshold."""
    raw, floor, norm = np.float32(raw), np.float32(floor), np.float32(norm)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        # probe near the boundary too: d a few ulps around floor * norm
        near = np.float32(floor * norm)
        near = near + np.float32(ulps) * np.spacing(near)
        for d in (raw, near):
            if np.isfinite(d) and d / norm > floor:
                assert d > _threshold(floor, norm)


def test_pairs_reject_non_positive_norms():
    Y = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="norms must be positive"):
        top_k_pairs(Y, 2, norms=np.array([1, 0, 1, 1], np.float32))


@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_kth_best_columns_is_the_kth_largest(k):
    """The warm-up bound: each column's k-th largest score over the strip's rows."""
    rng = np.random.default_rng(k)
    strip = rng.integers(-4, 5, size=(30, 50)).astype(np.float32)  # ties everywhere
    norms = rng.uniform(0.5, 2, 30).astype(np.float32)
    strip[7, 11] = np.nan
    out = np.zeros(50, np.float32)
    all_norms = np.concatenate([np.full(100, np.nan, np.float32), norms])  # rows 100..129
    _kth_best_columns(strip, 100, 130, 3, 45, k, all_norms, out)
    scores = strip / norms[:, None]
    for j in range(3, 45):
        column = np.sort(scores[:, j])[::-1]
        if j == 11:
            assert np.isnan(out[j])  # a NaN score: no bound
        elif k > 30:
            assert out[j] == -np.inf
        else:
            assert out[j] == column[k - 1]
    assert np.all(out[:3] == 0) and np.all(out[45:] == 0)


@pytest.mark.parametrize("N", [1, 10])
def test_pairs_with_non_finite_factors_equal_top_k(N):
    """NaN and infinite scores void the warm-up bounds; the heaps still match top_k's."""
    Y = np.random.default_rng(2).standard_normal((N_PAIRS, 6)).astype(np.float32)
    Y[5] = np.nan
    Y[300, 2] = np.inf
    Y[600, 0] = -np.inf
    with np.errstate(invalid="ignore"):
        ids, scores = top_k_pairs(Y, N)
        ref_ids, ref_scores = top_k(Y, Y, N)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(scores, ref_scores)


@pytest.mark.parametrize("n", [1, 7, 257, 330])
@pytest.mark.parametrize("N", [1, 32, 33])
def test_pairs_equal_top_k_across_the_first_strip_edges(n, N):
    """One strip or two, k at and past the bounded first strip's limit (WARMUP_MAX_K)."""
    Y = tied_factors(n, 5, np.float32, seed=n + N)
    norms = np.maximum(np.linalg.norm(Y, axis=1), 1e-10).astype(np.float32)
    N = min(N, n)
    ids, scores = top_k_pairs(Y, N, norms=norms)
    ref_ids, ref_scores = top_k(Y, Y, N, norms=norms)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(scores, ref_scores)


def test_pairs_equal_top_k_in_strips_bounded_by_memory(monkeypatch):
    """Many columns make strips shorter (STRIP_BYTES), down to MIN_STRIP rows: same answers."""
    from fastals._kernels import pairs

    Y = tied_factors(330, 5, np.float32, seed=11)
    for bytes_, N in ((100 * 330 * 4, 5), (0, 40)):  # 100-row strips; MIN_STRIP-row strips
        monkeypatch.setattr(pairs, "STRIP_BYTES", bytes_)
        ids, scores = top_k_pairs(Y, N)
        ref_ids, ref_scores = top_k(Y, Y, N)
        np.testing.assert_array_equal(ids, ref_ids)
        np.testing.assert_array_equal(scores, ref_scores)
