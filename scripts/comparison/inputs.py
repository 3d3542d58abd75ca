"""The compared datasets as confidence matrices: KuaiRec-shaped, MovieLens 100K, Last.fm 2K."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from harness import data

from .common import KUAIREC, SEED


def prepare(name: str, args) -> tuple[sp.csr_matrix | None, str]:
    """(confidence matrix, description) of dataset ``name``; (None, why) when absent."""
    data_dir = Path(args.data_dir)
    if name == KUAIREC:
        return (
            data.kuairec_input(args.scale, seed=SEED),
            f"`fastals.data.kuairec_like` at scale {args.scale:g} per side "
            "(confidences 1 or 41, as generated)",
        )
    if name == "ml100k":
        if not (data_dir / data.ML100K_FILE).is_file():
            return None, f"skipped: {data_dir / data.ML100K_FILE} not found"
        df = data.load_movielens(data_dir)
        df = df[df["rating"] >= 4]
        liked = data.build_matrix(df, "user_id", "item_id")
        liked.data[:] = 1.0
        return (
            data.bm25_weight(liked, K1=100, B=0.9).multiply(5).tocsr().astype(np.float32),
            "MovieLens 100K, ratings >= 4 as positives, confidence `bm25_weight(B=0.9) * 5` "
            "(implicit's MovieLens example)",
        )
    if name == "lastfm":
        if not (data_dir / data.LASTFM_FILE).is_file():
            return None, f"skipped: {data_dir / data.LASTFM_FILE} not found"
        df = data.load_lastfm(data_dir)
        plays = data.build_matrix(df, "user_id", "item_id", weight="weight")
        return (
            data.bm25_weight(plays, K1=100, B=0.8),
            "HetRec Last.fm 2K play counts, confidence `bm25_weight(K1=100, B=0.8)` "
            "(implicit's Last.fm example)",
        )
    raise ValueError(f"unknown dataset {name!r}")
