"""The seed notebook's KuaiRec pipeline, run to the end and done right (``fastals kuairec``).

Steps (the KuaiRec notebook this project started from, the "seed notebook"): load and
clean big_matrix and small_matrix; train on big_matrix with
confidence ``1 + 40 * (watch_ratio >= 2)`` per row, rows of a (user, video) pair summed, users
and videos indexed in order of first appearance; ALS factors=50, regularization=0.1, 15
iterations, float32, alpha=1; evaluate top-10 lists on small_matrix (users and videos known in
training; truth = videos watched with watch_ratio >= 2; users with >= 1 positive) with the
seed's per-user precision, recall, NDCG and MAP, under two protocols:

- ``seed``: rank every training video, the user's training videos filtered (the notebook's);
- ``small_items``: rank only the small_matrix videos (implicit's ``items=``), same users and
  truth: the sound protocol, since small-matrix users never watched those videos in training.

The seed's bugs are fixed: the model is fitted on users x items (the notebook passed items x
users and crashed in ``recommend``), and raw ids come back through id maps.
Popularity and random baselines run through the same recommend + metric code.
"""

import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..als import AlternatingLeastSquares
from ..baselines import PopularityRecommender, RandomRecommender
from ..data.interactions import build_matrix
from ..data.weighting import seed_confidence
from ..evaluation import per_user_metrics
from .generate import write_kuairec_folder
from .load import load_kuairec

SEED_SETTINGS = dict(factors=50, regularization=0.1, iterations=15, dtype=np.float32, alpha=1.0)
PROTOCOLS = ("seed", "small_items")


def train_matrix(big, threshold=2.0, alpha=40.0):
    """users x videos confidences from big_matrix, as the seed builds them (pairs summed)."""
    weights = seed_confidence(big["watch_ratio"].to_numpy(), threshold=threshold, alpha=alpha)
    return build_matrix(big, "user_id", "video_id", weight=weights)


def truth_from_small(small, users, items, threshold=2.0):
    """Ground truth on small_matrix, in the training index space.

    Returns (eval_users: user indices with >= 1 positive, truth: CSR eval_users x n_items of
    positive videos, small_items: sorted indices of the small-matrix videos known in training).
    """
    known = small[small["user_id"].isin(users.ids) & small["video_id"].isin(items.ids)]
    small_items = np.unique(items.to_index(known["video_id"].to_numpy()))
    positive = known[known["watch_ratio"].to_numpy() >= threshold]
    u = users.to_index(positive["user_id"].to_numpy())
    i = items.to_index(positive["video_id"].to_numpy())
    eval_users, rows = np.unique(u, return_inverse=True)
    truth = sp.csr_matrix(
        (np.ones(len(u), np.float32), (rows, i)), shape=(len(eval_users), len(items))
    )
    truth.data[:] = 1  # a re-watched positive is one truth item
    return eval_users, truth, small_items


def evaluate(model, train, eval_users, truth, small_items, K=10):
    """Both protocols' metrics for anything with implicit's ``recommend``."""
    rows = train[eval_users]
    out = {}
    for protocol in PROTOCOLS:
        items = small_items if protocol == "small_items" else None
        ids, _ = model.recommend(eval_users, rows, N=K, items=items)
        out[protocol] = per_user_metrics(ids, truth, K=K)
    return out


def run_kuairec(
    data_dir=None,
    *,
    scale=0.05,
    seed=0,
    show_progress=True,
    num_threads=0,
    iterations=SEED_SETTINGS["iterations"],
    K=10,
):
    """Run the pipeline on ``data_dir`` (a KuaiRec folder), or on a generated one when None.

    Returns a JSON-ready dict: users, items, interactions (training rows), stored_entries,
    eval_users, the metrics of each protocol, baselines, cleaning report and timings.
    """
    timings = {}
    generated = data_dir is None
    with tempfile.TemporaryDirectory(prefix="kuairec-") if generated else nullcontext() as tmp:
        if generated:
            start = time.perf_counter()
            data_dir = Path(tmp)
            write_kuairec_folder(data_dir, scale=scale, seed=seed, show_progress=show_progress)
            timings["generate_s"] = time.perf_counter() - start
        start = time.perf_counter()
        data = load_kuairec(
            data_dir, tables=("big_matrix", "small_matrix"), show_progress=show_progress
        )
        timings["load_s"] = time.perf_counter() - start

    start = time.perf_counter()
    train, users, items = train_matrix(data.big_matrix)
    eval_users, truth, small_items = truth_from_small(data.small_matrix, users, items)
    timings["build_s"] = time.perf_counter() - start

    start = time.perf_counter()
    settings = {**SEED_SETTINGS, "iterations": iterations}
    model = AlternatingLeastSquares(**settings, num_threads=num_threads, random_state=seed)
    model.fit(train, show_progress=show_progress)
    timings["fit_s"] = time.perf_counter() - start

    start = time.perf_counter()
    result = evaluate(model, train, eval_users, truth, small_items, K)
    timings["evaluate_s"] = time.perf_counter() - start

    baselines = {}
    for name, baseline in (
        ("popularity", PopularityRecommender(num_threads=num_threads)),
        ("random", RandomRecommender(random_state=seed)),
    ):
        baseline.fit(train, show_progress=False)
        baselines[name] = evaluate(baseline, train, eval_users, truth, small_items, K)

    return {
        "data_dir": None if generated else str(data_dir),
        "generated": generated,
        "users": len(users),
        "items": len(items),
        "interactions": len(data.big_matrix),
        "stored_entries": int(train.nnz),
        "eval_users": len(eval_users),
        **result,
        "baselines": baselines,
        "cleaning": data.cleaning_report,
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "settings": {k: (v.__name__ if isinstance(v, type) else v) for k, v in settings.items()},
        "model": model,
    }


def format_report(result, K=10):
    """The human-readable report the script prints (everything but the model)."""
    lines = [
        f"train: {result['users']:,} users x {result['items']:,} videos, "
        f"{result['interactions']:,} interactions ({result['stored_entries']:,} stored entries)",
        f"test: {result['eval_users']:,} small_matrix users with >= 1 positive (watch_ratio >= 2)",
        "",
        f"{'protocol':<12} {'model':<11}"
        + "".join(f"{m + '@' + str(K):>14}" for m in ("precision", "recall", "ndcg", "map")),
    ]
    for protocol in PROTOCOLS:
        rows = [("ALS", result[protocol])]
        rows += [(name, b[protocol]) for name, b in result["baselines"].items()]
        for name, metrics in rows:
            lines.append(
                f"{protocol:<12} {name:<11}"
                + "".join(
                    f"{metrics[f'{m}@{K}']:>14.4f}" for m in ("precision", "recall", "ndcg", "map")
                )
            )
    lines.append("")
    lines.append("timings: " + ", ".join(f"{k} {v:.2f}" for k, v in result["timings"].items()))
    return "\n".join(lines)
