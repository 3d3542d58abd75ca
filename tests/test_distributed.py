"""fastals.distributed on a LocalCluster of 2 worker processes: the same factors as ``fit``
(bit for bit), recommend_all equal to ``recommend``, a killed worker, bad input."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import dask.dataframe as dd
import distributed
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastals
import fastals.distributed as fd
from fastals import solvers
from fastals._validation import confidences
from fastals.data import load_movielens

# Real data: $FASTALS_DATA_DIR, else ../shared/data beside the checkout, else /work/shared/data
# (as test_data_loaders.py).
_DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not _DEFAULT_DATA.is_dir():
    _DEFAULT_DATA = Path("/work/shared/data")
ML100K = Path(os.environ.get("FASTALS_DATA_DIR", _DEFAULT_DATA)) / "ml-100k"


def _cluster():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    return distributed.Client(cluster), cluster


@pytest.fixture(scope="module")
def client():
    client, cluster = _cluster()
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def ratings():
    """MovieLens 100K as 0-based (user, item, rating) columns and the shape."""
    if not (ML100K / "u.data").exists():
        pytest.skip(f"{ML100K} absent (the shared data's README: skip, do not fail)")
    r = load_movielens(ML100K)
    frame = pd.DataFrame(
        {
            "user": r["user_id"].to_numpy(np.int64) - 1,
            "item": r["item_id"].to_numpy(np.int64) - 1,
            "rating": r["rating"].to_numpy(np.float64),
        }
    )
    return frame, (int(frame["user"].max()) + 1, int(frame["item"].max()) + 1)


def _matrix(frame, shape, values):
    return sp.csr_matrix((values, (frame["user"], frame["item"])), shape=shape)


def _five(frame):
    """The seed's confidence on ratings: 1 + 40 [rating == 5] (94% ones, as KuaiRec's)."""
    return 1 + 40.0 * (frame["rating"].to_numpy() >= 5)


def _assert_same(model, reference):
    np.testing.assert_array_equal(model.user_factors, reference.user_factors)
    np.testing.assert_array_equal(model.item_factors, reference.item_factors)


@pytest.mark.parametrize("blocks", [1, 2, 5])
@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_als_same_factors_as_fit(client, ratings, solver, blocks):
    frame, shape = ratings
    # CG on raw ratings (mostly weighted rows); Cholesky on the seed's confidences, where
    # float32 takes the Woodbury path on the items
    values = frame["rating"].to_numpy() if solver == "cg" else _five(frame)
    C = _matrix(frame, shape, values)
    params = dict(factors=16, iterations=3, random_state=0, use_cg=solver == "cg",
                  calculate_training_loss=True)  # fmt: skip
    reference = fastals.AlternatingLeastSquares(**params)
    reference.fit(C, show_progress=False)
    model = fastals.AlternatingLeastSquares(**params)
    assert fd.fit(model, C, client=client, blocks=blocks, show_progress=False) is model
    _assert_same(model, reference)
    np.testing.assert_allclose(model.loss_history, reference.loss_history, rtol=1e-12)
    assert len(model.loss_history) == 3


def test_woodbury_choice_is_the_whole_sides(ratings):
    """float32 Cholesky takes the Woodbury path on the item side as a whole, but the first of
    5 item blocks alone would not: without the driver's choice its rows would come out
    otherwise (the test above would fail)."""
    frame, shape = ratings
    raw = _matrix(frame, shape, _five(frame))
    C = confidences(raw, 1.0, np.dtype(np.float32))
    k = 16
    items = solvers.SweepMatrix(C).transpose()
    assert solvers.low_rank_pays(solvers.low_rank_rows(items, k // 2), k, shape[0])
    first = raw.T.tocsr()[: shape[1] // 5]
    block = fd._plans.w_als_prepare(first, 1.0, np.dtype(np.float32), "transposed", k // 2)
    n_low, _ = block.summary
    assert not solvers.low_rank_pays(n_low, k, shape[0])


def test_als_float64_from_a_dataframe(client, ratings):
    frame, shape = ratings
    C = _matrix(frame, shape, frame["rating"].to_numpy())
    params = dict(factors=8, iterations=2, random_state=3, dtype=np.float64, use_cg=False)
    reference = fastals.AlternatingLeastSquares(**params)
    reference.fit(C, show_progress=False)
    model = fastals.AlternatingLeastSquares(**params)
    parts = dd.from_pandas(frame, npartitions=4)
    fd.fit(model, parts, client=client, weight_col="rating", shape=shape, blocks=(3, 2),
           show_progress=False)  # fmt: skip
    _assert_same(model, reference)


@pytest.mark.parametrize(
    "solver, blocks, popularity_exp, nu",
    [("cholesky", 2, None, 1.0), ("cg", 5, None, 1.0), ("cg", 3, 0.5, 1.0),
     ("cholesky", 3, None, 0.0)],  # nu = 0: the items take the Woodbury path (tested below)
)  # fmt: skip
def test_ials_same_factors_as_fit(client, ratings, solver, blocks, popularity_exp, nu):
    frame, shape = ratings
    C = _matrix(frame, shape, frame["rating"].to_numpy())
    params = dict(factors=16, iterations=3, random_state=1, solver=solver,
                  popularity_exp=popularity_exp, calculate_training_loss=True,
                  regularization_exp=nu)  # fmt: skip
    if nu == 0.0:
        from fastals import ials_sweeps

        items = np.bincount(frame["item"], minlength=shape[1])
        one = np.ones(shape[1])
        assert ials_sweeps.takes_low_rank(items, one, one, 16, shape[0], np.float32)
    reference = fastals.iALS(**params)
    reference.fit(C, show_progress=False)
    model = fastals.iALS(**params)
    parts = dd.from_pandas(frame, npartitions=3)
    fd.fit(model, parts, client=client, weight_col="rating", shape=shape, blocks=blocks,
           show_progress=False)  # fmt: skip
    _assert_same(model, reference)
    np.testing.assert_array_equal(model.item_unobserved_weights, reference.item_unobserved_weights)
    np.testing.assert_allclose(model.loss_history, reference.loss_history, rtol=1e-12)


@pytest.mark.parametrize("solver, dtype", [("ials++", np.float64), ("cd", np.float64),
                                           ("ials++", np.float32)])  # fmt: skip
def test_ials_cached_solvers_match_fit(client, ratings, solver, dtype):
    """iALS++ and CD: the users' half-sweep is fit's to the bit (the cache is computed fresh
    on both); the items' reads a cache recomputed per block where fit updated it through the
    users' pass, so the factors agree to rounding, not bit for bit."""
    frame, shape = ratings
    C = _matrix(frame, shape, frame["rating"].to_numpy())
    params = dict(factors=16, iterations=3, random_state=2, solver=solver, block_size=4,
                  dtype=dtype, calculate_training_loss=True)  # fmt: skip
    reference = fastals.iALS(**params)
    reference.fit(C, show_progress=False)
    model = fastals.iALS(**params)
    fd.fit(model, C, client=client, blocks=3, show_progress=False)
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-3, atol=2e-5)
    np.testing.assert_allclose(model.user_factors, reference.user_factors, **tol)
    np.testing.assert_allclose(model.item_factors, reference.item_factors, **tol)
    np.testing.assert_allclose(model.loss_history, reference.loss_history, rtol=tol["rtol"])
    assert model.loss_history[-1] < model.loss_history[0]  # the solver did its work

    first = fastals.iALS(**{**params, "iterations": 1})
    first.fit(C, show_progress=False)
    one = fastals.iALS(**{**params, "iterations": 1})
    fd.fit(one, C, client=client, blocks=3, show_progress=False)
    # the first users' half-sweep: the same inputs, the same kernels, the same bits
    np.testing.assert_array_equal(one.user_factors, first.user_factors)


def test_parquet_glob_and_callback(client, ratings, tmp_path):
    frame, shape = ratings
    shuffled = frame.sample(frac=1.0, random_state=0)
    for n, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        shuffled.iloc[rows].to_parquet(tmp_path / f"interactions-{n}.parquet", index=False)
    reference = fastals.AlternatingLeastSquares(factors=8, iterations=5, random_state=0)
    calls = []

    def stop_after_two(iteration, elapsed, loss):
        calls.append((iteration, elapsed, loss))
        return iteration < 1  # False after the second iteration: stop

    reference.fit(_matrix(frame, shape, frame["rating"].to_numpy()), show_progress=False,
                  callback=stop_after_two)  # fmt: skip
    model = fastals.AlternatingLeastSquares(factors=8, iterations=5, random_state=0)
    fd.fit(model, str(tmp_path / "interactions-*.parquet"), client=client, weight_col="rating",
           shape=shape, callback=stop_after_two, show_progress=False)  # fmt: skip
    _assert_same(model, reference)
    assert [c[0] for c in calls] == [0, 1, 0, 1]
    assert all(c[1] >= 0 and c[2] is None for c in calls)


def test_progress_bar_shows_the_loss(client, ratings, capsys):
    frame, shape = ratings
    model = fastals.iALS(factors=4, iterations=2, random_state=0, calculate_training_loss=True)
    fd.fit(model, _matrix(frame, shape, frame["rating"].to_numpy()), client=client)
    err = capsys.readouterr().err
    assert "2/2" in err and "loss=" in err


def test_recommend_all_equals_recommend(client, ratings, tmp_path):
    frame, shape = ratings
    C = _matrix(frame, shape, frame["rating"].to_numpy())
    model = fastals.AlternatingLeastSquares(factors=8, iterations=2, random_state=0)
    model.fit(C, show_progress=False)
    N = 1600  # more than some users have unrated items: shorter lists
    parts = dd.from_pandas(frame, npartitions=2)
    out = tmp_path / "recs.parquet"
    recs = fd.recommend_all(model, parts, client=client, N=N, out=str(out), weight_col="rating",
                            blocks=3).compute()  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == [f"part-0000{b}.parquet" for b in range(3)]
    assert list(recs.columns) == ["user", "rank", "item", "score"]
    ids, scores = model.recommend(np.arange(shape[0]), C, N=N)
    liked = np.diff(C.indptr)
    expected_rows = np.minimum(N, shape[1] - liked)
    assert (recs.groupby("user").size().to_numpy() == expected_rows).all()
    assert (expected_rows < N).any()
    recs = recs.sort_values(["user", "rank"])
    users, ranks = recs["user"].to_numpy(), recs["rank"].to_numpy() - 1
    np.testing.assert_array_equal(recs["item"].to_numpy(), ids[users, ranks])
    np.testing.assert_array_equal(recs["score"].to_numpy(), scores[users, ranks])
    rated = C.indices + np.repeat(np.arange(shape[0]), liked) * shape[1]
    assert not np.isin(recs["item"].to_numpy() + users * shape[1], rated).any()
    with pytest.raises(FileExistsError, match="not empty"):
        fd.recommend_all(model, C, client=client, out=str(out))
    recs = fd.recommend_all(model, C, client=client, N=3, out=str(out), overwrite=True)
    assert len(recs.compute()) == 3 * shape[0]


def test_a_killed_worker_loses_nothing(ratings):
    """One worker process is killed after the first iteration: its blocks are rebuilt from
    the interactions elsewhere and the fit ends with the same factors."""
    frame, shape = ratings
    C = _matrix(frame, shape, frame["rating"].to_numpy())
    params = dict(factors=8, iterations=3, random_state=0)
    reference = fastals.iALS(**params)
    reference.fit(C, show_progress=False)
    client, cluster = _cluster()
    try:
        killed = []

        def kill_one(iteration, elapsed, loss):
            if iteration == 0:
                address, pid = sorted(client.run(os.getpid).items())[0]
                assert client.has_what()[address]  # it holds blocks
                os.kill(pid, signal.SIGKILL)
                killed.append(address)

        model = fastals.iALS(**params)
        parts = dd.from_pandas(frame, npartitions=3)
        fd.fit(model, parts, client=client, weight_col="rating", shape=shape, blocks=4,
               callback=kill_one, show_progress=False)  # fmt: skip
        assert killed and killed[0] not in client.scheduler_info()["workers"]
        _assert_same(model, reference)
    finally:
        client.close()
        cluster.close()


def test_a_worker_killed_in_a_sweep(ratings, tmp_path, monkeypatch):
    """The first item solve of the fit kills its own worker process, mid-sweep: the task runs
    again elsewhere, the blocks held there are rebuilt from the CSR's chunks (kept by the
    scheduler), and the factors are those of ``fit``."""
    frame, shape = ratings
    C = _matrix(frame, shape, frame["rating"].to_numpy())
    params = dict(factors=8, iterations=2, random_state=0)
    reference = fastals.AlternatingLeastSquares(**params)
    reference.fit(C, show_progress=False)
    marker = str(tmp_path / "killed")
    sweep_args = fd._plans.AlsPlan.sweep_args

    def dying_sweep_args(self, side, with_loss):
        solve, *rest = sweep_args(self, side, with_loss)

        def dying(block, *args):  # a closure: pickled by value, runs on the worker
            if side == "item" and not os.path.exists(marker):
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
            return solve(block, *args)

        return (dying, *rest)

    monkeypatch.setattr(fd._plans.AlsPlan, "sweep_args", dying_sweep_args)
    client, cluster = _cluster()
    try:
        pids = set(client.run(os.getpid).values())
        model = fastals.AlternatingLeastSquares(**params)
        fd.fit(model, C, client=client, blocks=3, show_progress=False)
        assert os.path.exists(marker)
        assert len(pids - set(client.run(os.getpid).values())) == 1  # one was killed
        _assert_same(model, reference)
    finally:
        client.close()
        cluster.close()


# ---------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def small(ratings):
    frame, shape = ratings
    return frame.iloc[:2000].copy(), shape


def _fit(client, frame, shape, model=None, **kwargs):
    model = model or fastals.AlternatingLeastSquares(factors=4, iterations=1)
    kwargs = {"weight_col": "rating", "shape": shape, "show_progress": False, **kwargs}
    return fd.fit(model, dd.from_pandas(frame, npartitions=2), client=client, **kwargs)


@pytest.mark.parametrize(
    "column, value, error, message",
    [
        ("user", 943, ValueError, r"user id 943 \(column 'user'\) is out of range of shape"),
        ("item", -1, ValueError, r"item id -1 \(column 'item'\) is out of range"),
        ("rating", np.nan, ValueError, "1 NaN or infinite values"),
    ],
)
def test_bad_values_fail_before_training(client, small, column, value, error, message):
    frame, shape = small
    frame = frame.copy()
    frame.loc[frame.index[7], column] = value
    model = fastals.AlternatingLeastSquares(factors=4, iterations=1)
    with pytest.raises(error, match=message):
        _fit(client, frame, shape, model)
    assert model.user_factors is None  # nothing was initialised


def test_bad_arguments(client, small, ratings):
    frame, shape = small
    with pytest.raises(ValueError, match="client is required"):
        fd.fit(fastals.iALS(), _matrix(*ratings, ratings[0]["rating"]), client=None)
    with pytest.raises(TypeError, match="dask.distributed.Client"):
        fd.fit(fastals.iALS(), _matrix(*ratings, ratings[0]["rating"]), client="tcp://x:1")
    with pytest.raises(TypeError, match="fastals.AlternatingLeastSquares or fastals.iALS"):
        fd.fit(object(), frame, client=client)
    with pytest.raises(ValueError, match=r"'ials\+\+' with block_order='sides'"):
        _fit(client, frame, shape, fastals.iALS(solver="ials++", block_order="interleaved"))
    with pytest.raises(KeyError, match=r"weight_col='weight' is not a column .*rating"):
        _fit(client, frame, shape, weight_col="weight")
    with pytest.raises(TypeError, match="user_col='user' must hold integer ids"):
        _fit(client, frame.astype({"user": float}), shape)
    with pytest.raises(ValueError, match=r"shape=\(n_users, n_items\) is required"):
        _fit(client, frame, None)
    with pytest.raises(ValueError, match=r"shape=\(10, 10\) does not match .* \(943, 1682\)"):
        fd.fit(fastals.iALS(), _matrix(*ratings, ratings[0]["rating"]), client=client,
               shape=(10, 10))  # fmt: skip
    with pytest.raises(ValueError, match="blocks must be a positive integer"):
        _fit(client, frame, shape, blocks=0)
    with pytest.raises(ValueError, match="negative values"):
        _fit(client, frame.assign(rating=-frame["rating"]), shape, fastals.iALS(factors=4))
    with pytest.raises(fastals.model.NotFittedError):
        fd.recommend_all(fastals.iALS(), frame, client=client)


def test_core_import_never_needs_dask():
    """``import fastals`` loads no Dask; without Dask, fastals.distributed names the extra."""
    code = (
        "import sys\n"
        "import fastals\n"
        "assert 'dask' not in sys.modules and 'distributed' not in sys.modules\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('dask', 'distributed'):\n"
        "            raise ImportError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "try:\n"
        "    import fastals.distributed\n"
        "except ImportError as exc:\n"
        "    assert 'pip install fastals[dask]' in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('imported without dask')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bytes_per_iteration_formula():
    # 2 workers, float32, k=10, CG: 4 bytes * (10 * 300 * (2 + 1 + 1) + 100 * 4)
    assert fd.bytes_per_iteration(100, 200, 10, 2) == 4 * (10 * 300 * 4 + 100 * 4)
    assert fd.bytes_per_iteration(100, 200, 10, 2, warm=False, itemsize=8) == 8 * (
        10 * 300 * 3 + 100 * 4
    )


@settings(max_examples=200, deadline=None)
@given(
    costs=st.lists(st.integers(1, 50), min_size=1, max_size=60),
    width=st.integers(1, 4),
    blocks=st.integers(1, 8),
)
def test_balanced_bounds(costs, width, blocks):
    """Cuts at bucket edges, at least one row per block; where no bucket costs more than a
    block's share, no block costs more than its share plus one bucket."""
    from fastals.distributed._source import balanced_bounds

    edges = np.arange(len(costs) + 1) * width
    assume(edges[-1] >= blocks)
    bounds = balanced_bounds(edges, np.array(costs), blocks)
    assert bounds[0] == 0 and bounds[-1] == edges[-1] and len(bounds) == blocks + 1
    assert np.all(np.diff(bounds) >= 1)
    total = sum(costs)
    if max(costs) * blocks <= total:
        assert set(bounds.tolist()) <= set(edges.tolist())
        per_row = np.repeat(np.array(costs, float) / width, width)
        spent = np.add.reduceat(per_row, bounds[:-1])
        assert spent.max() <= total / blocks + max(costs) + 1e-9


def _skewed(n_users=400, n_items=300, seed=0):
    """Users 0..39 and items 0..29 hold most entries: equal id ranges would be unbalanced."""
    rng = np.random.default_rng(seed)
    light = sp.random(n_users, n_items, density=0.02, random_state=rng)
    heavy_users = sp.random(40, n_items, density=0.6, random_state=rng)
    heavy_items = sp.random(n_users, 30, density=0.8, random_state=rng)
    C = (
        light
        + sp.vstack([heavy_users, sp.csr_matrix((n_users - 40, n_items))])
        + sp.hstack([heavy_items, sp.csr_matrix((n_users, n_items - 30))])
    ).tocsr()
    C.data[:] = 1 + np.round(3 * C.data)
    return C


@pytest.mark.parametrize("kind", ["matrix", "dataframe"])
def test_blocks_balanced_by_entries(client, kind):
    from fastals.distributed._source import Source, build_blocks

    C = _skewed()
    if kind == "matrix":
        source = Source(C, "user", "item", None, None, chunks=3)
    else:
        coo = C.tocoo()
        frame = pd.DataFrame({"user": coo.row, "item": coo.col, "weight": coo.data})
        source = Source(dd.from_pandas(frame, npartitions=3), "user", "item", "weight", C.shape)
    blocks = build_blocks(client, source, (4, 3), row_cost=2)
    for side, M in (("user", C), ("item", C.T.tocsr())):
        bounds = blocks[side].bounds
        cost = np.diff(M.indptr) + 2
        spent = np.add.reduceat(cost, bounds[:-1])
        assert spent.max() <= cost.sum() / (len(bounds) - 1) + cost.max()
        equal = np.add.reduceat(cost, fd._source.block_bounds(M.shape[0], len(bounds) - 1)[:-1])
        assert spent.max() < 0.7 * equal.max()  # equal id ranges: one block does most
        built = client.gather(blocks[side].futures)
        assert [b.nnz for b in built] == np.add.reduceat(np.diff(M.indptr), bounds[:-1]).tolist()


def test_skewed_input_same_factors(client):
    C = _skewed()
    params = dict(factors=8, iterations=2, random_state=0)
    reference = fastals.AlternatingLeastSquares(**params)
    reference.fit(C, show_progress=False)
    model = fd.fit(fastals.AlternatingLeastSquares(**params), C, client=client, blocks=3,
                   show_progress=False)  # fmt: skip
    _assert_same(model, reference)
