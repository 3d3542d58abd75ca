"""Data preparation: fastals.data vs what implicit's own code does, on identical inputs.

implicit 0.7.3 has no loader for local files (its ``implicit.datasets`` download HDF5
copies), so its side is the code its dataset scripts run: ``pandas.read_table`` for
MovieLens 100K (``implicit.datasets.movielens._read_dataframes_100k``, ratings only) and for
Last.fm (``implicit.datasets.lastfm._read_dataframe``), category codes + ``coo_matrix`` ->
CSR for the matrix (``_hfd5_from_dataframe``), and ``implicit.nearest_neighbours.bm25_weight``.

Timed: loading ``ml-100k/u.data`` and ``hetrec2011-lastfm-2k/user_artists.dat`` from
``FASTALS_DATA_DIR`` (default ``../shared/data``; skipped when absent), building the
users x items CSR from the KuaiRec-like interactions as a DataFrame, and BM25 weighting of
the KuaiRec-like matrix. Run timed::

    pytest benchmarks/bench_data.py --benchmark-enable
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from harness.data import DEFAULT_DATA_DIR, LASTFM_FILE, ML100K_FILE

ROUNDS = 5
LIBRARIES = ["fastals", "implicit"]


def data_file(relative: Path) -> Path:
    path = Path(os.environ.get("FASTALS_DATA_DIR", DEFAULT_DATA_DIR)) / relative
    if not path.is_file():
        pytest.skip(f"{path} not found (real datasets live in shared/data; set FASTALS_DATA_DIR)")
    return path


def timed(benchmark, fit_means, library, group, extra, call):
    benchmark.group = group
    benchmark.extra_info.update(library=library, **extra)
    call()  # warm-up: imports, JIT compile, file cache
    result = benchmark.pedantic(call, rounds=ROUNDS)
    if benchmark.stats is not None:
        fit_means.setdefault(group, {})[library] = benchmark.stats.stats.mean
    return result


# ---------------------------------------------------------------- implicit's way


def implicit_read_movielens(path: Path) -> pd.DataFrame:
    """The ratings read of ``implicit.datasets.movielens._read_dataframes_100k``."""
    return pd.read_table(path, names=["userId", "movieId", "rating", "timestamp"])


def implicit_read_lastfm(path: Path) -> pd.DataFrame:
    """``implicit.datasets.lastfm._read_dataframe``'s read, for the 2K file's columns."""
    return pd.read_table(path, usecols=[0, 1, 2], na_filter=False)


def implicit_build_matrix(df: pd.DataFrame, user_col: str, item_col: str, weight: str):
    """``implicit.datasets``' recipe: category codes, coo_matrix, then CSR."""
    users = df[user_col].astype("category")
    items = df[item_col].astype("category")
    coo = sp.coo_matrix(
        (df[weight].astype(np.float32), (users.cat.codes.copy(), items.cat.codes.copy()))
    )
    return coo.tocsr()


# ---------------------------------------------------------------- benches


@pytest.mark.parametrize("library", LIBRARIES)
def test_load_movielens(benchmark, fit_means, library):
    path = data_file(ML100K_FILE)
    if library == "fastals":
        from fastals.data.loaders import load_movielens as load
    else:
        load = implicit_read_movielens
    df = timed(
        benchmark, fit_means, library, "load-ml-100k", {"file": path.name}, lambda: load(path)
    )
    assert len(df) == 100_000


@pytest.mark.parametrize("library", LIBRARIES)
def test_load_lastfm(benchmark, fit_means, library):
    path = data_file(LASTFM_FILE)
    if library == "fastals":
        from fastals.data.loaders import load_lastfm as load
    else:
        load = implicit_read_lastfm
    df = timed(
        benchmark, fit_means, library, "load-lastfm-2k", {"file": path.name}, lambda: load(path)
    )
    assert len(df) == 92_834


@pytest.fixture(scope="module")
def interactions(kuairec_matrix):
    """The KuaiRec-like matrix as an interactions table, rows shuffled (seeded)."""
    coo = kuairec_matrix.tocoo()
    order = np.random.default_rng(0).permutation(coo.nnz)
    return pd.DataFrame(
        {"user_id": coo.row[order], "item_id": coo.col[order], "conf": coo.data[order]}
    )


@pytest.mark.parametrize("library", LIBRARIES)
def test_build_matrix(benchmark, interactions, kuairec_matrix, fit_means, library):
    if library == "fastals":
        from fastals.data.interactions import build_matrix

        def build():
            return build_matrix(interactions, "user_id", "item_id", weight="conf")[0]
    else:

        def build():
            return implicit_build_matrix(interactions, "user_id", "item_id", "conf")

    matrix = timed(
        benchmark, fit_means, library, "build-matrix", {"rows": len(interactions)}, build
    )
    assert matrix.nnz == kuairec_matrix.nnz
    assert matrix.sum() == pytest.approx(kuairec_matrix.sum(), rel=1e-6)


@pytest.mark.parametrize("library", LIBRARIES)
def test_bm25_weight(benchmark, kuairec_matrix, fit_means, library):
    if library == "fastals":
        from fastals.data.weighting import bm25_weight

        def weigh():
            return bm25_weight(kuairec_matrix, K1=100, B=0.8)
    else:
        from implicit.nearest_neighbours import bm25_weight as implicit_bm25

        def weigh():  # implicit returns COO; CSR is what fit takes
            return implicit_bm25(kuairec_matrix, K1=100, B=0.8).tocsr()

    weighted = timed(
        benchmark, fit_means, library, "bm25-weight", {"nnz": int(kuairec_matrix.nnz)}, weigh
    )
    assert weighted.shape == kuairec_matrix.shape and weighted.nnz == kuairec_matrix.nnz
