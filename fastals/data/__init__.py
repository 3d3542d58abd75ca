"""Datasets for fastals: loaders, id maps, confidence weightings, generators (cheap to import).

KuaiRec has a package of its own, :mod:`fastals.kuairec`.
"""

from fastals.data.interactions import (
    IdMap,
    UnknownIdError,
    UnknownIdWarning,
    build_matrix,
    build_matrix_from_arrays,
)
from fastals.data.loaders import load_lastfm, load_movielens
from fastals.data.synthetic import checkerboard, kuairec_like, planted_low_rank, power_law
from fastals.data.weighting import (
    bm25_weight,
    count_confidence,
    linear_confidence,
    log_confidence,
    seed_confidence,
    tfidf_weight,
)

__all__ = [
    "IdMap",
    "UnknownIdError",
    "UnknownIdWarning",
    "bm25_weight",
    "build_matrix",
    "build_matrix_from_arrays",
    "checkerboard",
    "count_confidence",
    "kuairec_like",
    "linear_confidence",
    "load_lastfm",
    "load_movielens",
    "log_confidence",
    "planted_low_rank",
    "power_law",
    "seed_confidence",
    "tfidf_weight",
]
