"""Rendle et al. 2022's evaluation, end to end: tune on the validation users, report the test users.

On one strong-generalisation split (``protocol``), each model's settings are picked from a
small documented grid by NDCG@100 of the validation users, then the chosen fit is scored on
the test users (Recall@20, Recall@50, NDCG@100):

- ``iALS`` (Rendle et al.'s objective, ``GRID["ials"]``: nu x alpha0 x lambda);
- ``AlternatingLeastSquares`` (implicit's objective, the same number of settings over alpha
  x lambda), solved by CG as implicit does by default;
- popularity (no settings) and EASE^R (Steck 2019: B = I - P diag(1 / diag P),
  P = (X^T X + lambda I)^-1, ``GRID["ease"]``), where the item count allows a dense P.

``PUBLISHED`` holds the paper's ML-20M figures for iALS (its result table as secondary
sources quote it: approximate).
"""

from dataclasses import dataclass, field

import numpy as np

from . import protocol
from .als import AlternatingLeastSquares
from .ials import iALS

GRID = {
    # 25 settings each. iALS: nu = 1 (the paper's), alpha0 and lambda from the paper's
    # suggested ranges (alpha0 in {1 .. .003}, lambda in {.1 .. .0003}); implicit's ALS: alpha
    # and lambda over the ranges where its validation NDCG@100 peaks on MovieLens and Last.fm.
    "ials": [
        dict(regularization_exp=1.0, unobserved_weight=a0, regularization=lam)
        for a0 in (1.0, 0.3, 0.1, 0.03, 0.01)
        for lam in (0.1, 0.03, 0.01, 0.003, 0.001)
    ],
    "als": [
        dict(alpha=alpha, regularization=lam)
        for alpha in (1.0, 3.0, 10.0, 30.0, 100.0)
        for lam in (0.01, 0.1, 1.0, 10.0, 100.0)
    ],
    "ease": [dict(regularization=lam) for lam in (10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)],
}
EASE_MAX_ITEMS = 30_000  # a dense float64 items x items inverse: 7 GB at this size
PUBLISHED = {  # ML-20M, strong generalisation, 10k + 10k held-out users (approximate)
    "iALS (d=2048, Rendle et al. 2022)": {"recall@20": 0.395, "recall@50": 0.532, "ndcg@100": 0.42},
}


@dataclass
class Result:
    """A model's chosen settings, its validation and test scores, and every grid point's
    validation NDCG@100."""

    model: str
    settings: dict
    validation: dict
    test: dict
    grid: list = field(default_factory=list)


def ease_scores(B):
    """A scorer for ``evaluate_ranking``: fold-in rows times the EASE^R item weights."""
    return lambda fold_in: np.asarray(fold_in @ B)


def ease_weights(train, regularization):
    """EASE^R's B (n_items, n_items), float64: closed form, zero diagonal (Steck 2019).

    P = (X^T X + lambda I)^-1 by Cholesky (LAPACK potrf + potri: n^3 flops, half of a general
    inverse's), then B = I - P diag(1 / diag P)."""
    from scipy.linalg import lapack

    G = (train.T @ train).toarray().astype(np.float64)
    G[np.diag_indices_from(G)] += regularization
    L, info = lapack.dpotrf(G, lower=True, overwrite_a=True)
    if info == 0:
        P, info = lapack.dpotri(L, lower=True, overwrite_c=True)
    if info != 0:
        raise ValueError(f"EASE^R: X^T X + {regularization} I is not positive definite")
    P = np.tril(P) + np.tril(P, -1).T  # potri fills the lower triangle only
    B = -P / np.diag(P)[None, :]
    B[np.diag_indices_from(B)] = 0.0
    return B


def evaluate_ranking(score, held_out, depth=100, chunk=1024):
    """Rank every item but the fold-in ones by ``score(fold_in rows)`` (dense scores) and
    score the test items (``protocol.recall_ndcg``); ``chunk`` users at a time."""
    fold_in = held_out.fold_in
    ranked = []
    for start in range(0, fold_in.shape[0], chunk):
        rows = fold_in[start : start + chunk]
        scores = np.array(score(rows), dtype=np.float64)
        scores[rows.nonzero()] = -np.inf
        top = min(depth, scores.shape[1])
        part = np.argpartition(-scores, top - 1, axis=1)[:, :top]
        order = np.argsort(-np.take_along_axis(scores, part, 1), axis=1, kind="stable")
        ranked.append(np.take_along_axis(part, order, 1))
    return protocol.recall_ndcg(np.vstack(ranked), held_out.test)


def tune(name, make, split, grid):
    """Fit ``make(**settings)`` for each grid point; keep the best by validation NDCG@100."""
    best, points = None, []
    for settings in grid:
        model = make(**settings)
        model.fit(split.train, show_progress=False)
        validation = protocol.evaluate(model, split.validation)
        points.append(dict(settings, **validation))
        if best is None or validation["ndcg@100"] > best[2]["ndcg@100"]:
            best = (model, settings, validation)
    model, settings, validation = best
    return Result(name, settings, validation, protocol.evaluate(model, split.test), points)


def run(split, factors=64, epochs=16, num_threads=0, models=("ials", "als", "popularity", "ease")):
    """Every model of the protocol on ``split``; returns a list of ``Result``."""
    results = []
    common = dict(factors=factors, iterations=epochs, random_state=0, num_threads=num_threads)
    if "ials" in models:
        make = lambda **s: iALS(solver="cg", cg_steps=3, **common, **s)  # noqa: E731
        results.append(tune(f"iALS (d={factors}, CG)", make, split, GRID["ials"]))
    if "als" in models:
        make = lambda **s: AlternatingLeastSquares(**common, **s)  # noqa: E731
        results.append(tune(f"implicit's ALS (d={factors}, CG)", make, split, GRID["als"]))
    if "popularity" in models:
        results.append(popularity(split))
    if "ease" in models and GRID["ease"] and split.train.shape[1] <= EASE_MAX_ITEMS:
        results.append(ease(split))
    return results


def run_paper_settings(split, factors=2048, epochs=16, block_size=128, num_threads=0):
    """iALS with the paper's ML-20M settings (lambda 0.003, alpha0 0.1, nu 1, init stddev
    0.1, iALS++ blocks of ``block_size``), popularity and EASE^R (item count allowing)."""
    model = iALS(
        factors=factors,
        regularization=0.003,
        regularization_exp=1.0,
        unobserved_weight=0.1,
        init_stddev=0.1,
        iterations=epochs,
        solver="ials++",
        block_size=min(block_size, factors),
        random_state=0,
        num_threads=num_threads,
    )
    model.fit(split.train, show_progress=True)
    settings = dict(regularization=0.003, regularization_exp=1.0, unobserved_weight=0.1)
    scores = [protocol.evaluate(model, h) for h in (split.validation, split.test)]
    results = [Result(f"iALS (d={factors}, iALS++ block {model.block_size})", settings, *scores)]
    results.append(popularity(split))
    if split.train.shape[1] <= EASE_MAX_ITEMS:
        results.append(ease(split))
    return results


def popularity(split):
    """Every held-out user gets the training items by count."""
    counts = np.asarray(split.train.sum(0), np.float64).ravel()
    score = lambda rows: np.tile(counts, (rows.shape[0], 1))  # noqa: E731
    return Result(
        "popularity", {}, *(evaluate_ranking(score, h) for h in (split.validation, split.test))
    )


def ease(split):
    """EASE^R with its lambda picked on the validation users (``GRID["ease"]``)."""
    best = None
    for settings in GRID["ease"]:
        B = ease_weights(split.train, settings["regularization"])
        validation = evaluate_ranking(ease_scores(B), split.validation)
        if best is None or validation["ndcg@100"] > best[2]["ndcg@100"]:
            best = (B, settings, validation)
    B, settings, validation = best
    return Result("EASE^R", settings, validation, evaluate_ranking(ease_scores(B), split.test))


def markdown(results, published=False):
    """The results as a markdown table (test users), with the paper's ML-20M figures when
    ``published``."""
    lines = [
        "| model | settings (picked on validation users) | Recall@20 | Recall@50 | NDCG@100 |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        settings = ", ".join(f"{k}={v:g}" for k, v in r.settings.items()) or "-"
        t = r.test
        lines.append(
            f"| {r.model} | {settings} | {t['recall@20']:.4f} | {t['recall@50']:.4f} "
            f"| {t['ndcg@100']:.4f} |"
        )
    if published:
        for name, t in PUBLISHED.items():
            lines.append(
                f"| {name}, published | | {t['recall@20']:.3f} | {t['recall@50']:.3f} "
                f"| {t['ndcg@100']:.3f} |"
            )
    return "\n".join(lines)
