"""Datasets and evaluation: fastals' loaders and metrics, returning canonical float32 CSR."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from . import REPO_ROOT

# real datasets: $FASTALS_DATA_DIR, else shared/data beside the checkout (as the tests)
DEFAULT_DATA_DIR = Path(os.environ.get("FASTALS_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")

KUAIREC_SHAPE = {"n_users": 7176, "n_items": 10728, "nnz": 11_564_987}
ML100K_FILE = Path("ml-100k") / "u.data"
LASTFM_FILE = Path("hetrec2011-lastfm-2k") / "user_artists.dat"


def kuairec_shape(scale: float) -> dict[str, int]:
    """KuaiRec's shape times ``scale`` per side, same density (``fastals.data.kuairec_like``'s
    keyword arguments, less the seed)."""
    full = KUAIREC_SHAPE
    n_users = max(2, round(full["n_users"] * scale))
    n_items = max(2, round(full["n_items"] * scale))
    density = full["nnz"] / (full["n_users"] * full["n_items"])
    nnz = min(n_users * n_items, max(n_users, round(density * n_users * n_items)))
    return {"n_users": n_users, "n_items": n_items, "nnz": nnz}


def kuairec_input(scale: float = 1.0, seed: int = 0) -> sp.csr_matrix:
    """``fastals.data.kuairec_like`` at ``kuairec_shape(scale)``: confidences 1 or 41,
    canonical float32 CSR."""
    from fastals.data import kuairec_like

    return canonical(kuairec_like(**kuairec_shape(scale), seed=seed))


def load_movielens(data_dir: Path):
    """MovieLens 100K ratings (``fastals.data.load_movielens``): user_id, item_id, rating, ..."""
    from fastals.data import load_movielens

    return load_movielens(Path(data_dir) / ML100K_FILE)


def load_lastfm(data_dir: Path):
    """HetRec Last.fm 2K play counts (``fastals.data.load_lastfm``): user_id, item_id, weight."""
    from fastals.data import load_lastfm

    return load_lastfm(Path(data_dir) / LASTFM_FILE)


def build_matrix(df, user_col: str = "user_id", item_col: str = "item_id", weight=None):
    """users x items canonical float32 CSR (``fastals.data.build_matrix``, id maps dropped)."""
    from fastals.data import build_matrix

    return canonical(build_matrix(df, user_col, item_col, weight=weight)[0])


def canonical(matrix) -> sp.csr_matrix:
    """CSR, float32 data, sorted indices, duplicates summed, explicit zeros dropped."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def bm25_weight(matrix: sp.csr_matrix, K1: float = 100, B: float = 0.8) -> sp.csr_matrix:
    """BM25 weighting of a users x items matrix (``fastals.data.bm25_weight``, implicit's)."""
    from fastals.data import bm25_weight

    return canonical(bm25_weight(matrix, K1=K1, B=B))


def evaluation_module(library: str = "fastals"):
    """``fastals.evaluation`` or ``implicit.evaluation`` (same functions, same signatures)."""
    name = "fastals.evaluation" if library == "fastals" else "implicit.evaluation"
    return importlib.import_module(name)


def train_test_split(ratings: sp.csr_matrix, train_percentage: float = 0.8, random_state=0):
    """(train, test) canonical CSR pair from ``fastals.evaluation.train_test_split``."""
    train, test = evaluation_module().train_test_split(
        ratings, train_percentage=train_percentage, random_state=random_state
    )
    return canonical(train), canonical(test)


def ranking_metrics(model, train, test, K: int = 10) -> dict[str, float]:
    """precision, map, ndcg, auc @K of ``model`` on held-out ``test`` (``train`` filtered)."""
    metrics = evaluation_module().ranking_metrics_at_k(model, train, test, K=K, show_progress=False)
    return {k: float(metrics[k]) for k in ("precision", "map", "ndcg", "auc")}


def topn_overlap(ids_a: np.ndarray, ids_b: np.ndarray) -> float:
    """Mean over rows of |top-N(a) & top-N(b)| / N (ids < 0 are padding and never match)."""
    ids_a, ids_b = np.atleast_2d(ids_a), np.atleast_2d(ids_b)
    if ids_a.shape != ids_b.shape or ids_a.size == 0:
        raise ValueError(f"need two non-empty id arrays of one shape: {ids_a.shape}, {ids_b.shape}")
    same = (ids_a[:, :, None] == ids_b[:, None, :]) & (ids_a[:, :, None] >= 0)
    return float(same.any(axis=2).sum(axis=1).mean() / ids_a.shape[1])
