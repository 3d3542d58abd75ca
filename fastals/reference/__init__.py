"""Readable NumPy versions of every kernel: the textbook algorithms, for teaching and as the
tests' oracles. Nothing here is fast: use it on small matrices.

- ``als``: implicit ALS (Hu, Koren & Volinsky 2008) as implicit solves it: normal equations,
  Cholesky, matrix-free CG, Woodbury, the loss.
- ``ials``: Rendle et al.'s iALS objective and its four solvers (Cholesky, CG, iALS++ block
  coordinate descent, element-wise coordinate descent).
- ``serving``: top-k with implicit's tie rule (``recommend``'s oracle).
- ``metrics``: precision, recall, NDCG, MAP and AUC at K per user (``evaluation``'s oracle).
"""

from .als import (
    RESIDUAL_GUARD,
    confidence_and_preference,
    conjugate_gradient,
    fit,
    half_sweep,
    loss,
    normal_equations,
    product,
    solve_exact,
    solve_low_rank,
)

__all__ = [
    "RESIDUAL_GUARD",
    "confidence_and_preference",
    "conjugate_gradient",
    "fit",
    "half_sweep",
    "loss",
    "normal_equations",
    "product",
    "solve_exact",
    "solve_low_rank",
]
