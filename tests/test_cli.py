"""The fastals command: fit / recommend / evaluate on raw ids; real datasets end to end."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fastals import AlternatingLeastSquares
from fastals.baselines import PopularityRecommender
from fastals.cli import main
from fastals.data import build_matrix, load_lastfm, load_movielens, log_confidence
from fastals.evaluation import per_user_metrics, train_test_split

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def interactions(tmp_path):
    rng = np.random.default_rng(0)
    users = rng.choice([f"u{i}" for i in range(40)], 600)
    items = rng.integers(100, 160, 600)
    path = tmp_path / "train.csv"
    pd.DataFrame({"who": users, "what": items, "w": rng.integers(1, 5, 600)}).to_csv(
        path, index=False
    )
    return path


@pytest.fixture
def model_path(tmp_path, interactions, capsys):
    """A model file written by ``fastals fit`` on the interactions fixture."""
    path = tmp_path / "model.npz"
    code, _, _ = run(
        capsys,
        "fit",
        str(interactions),
        "--user-col",
        "who",
        "--item-col",
        "what",
        "-o",
        str(path),
        "--factors",
        "4",
        "--quiet",
    )
    assert code == 0
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_fit_recommend_evaluate_on_raw_ids(tmp_path, interactions, capsys):
    model_path = tmp_path / "model.npz"
    code, _, err = run(
        capsys,
        "fit",
        str(interactions),
        "--user-col",
        "who",
        "--item-col",
        "what",
        "--weight-col",
        "w",
        "-o",
        str(model_path),
        "--factors",
        "8",
        "--quiet",
    )
    assert code == 0 and model_path.exists() and "saved" in err
    code, out, _ = run(
        capsys, "recommend", str(model_path), "--users", "u3", "u7", "-N", "5", "--format", "json"
    )
    assert code == 0
    recs = json.loads(out)
    assert [r["user_id"] for r in recs] == ["u3"] * 5 + ["u7"] * 5
    seen = set(pd.read_csv(interactions).query("who == 'u3'")["what"])
    assert all(100 <= r["item_id"] < 160 and r["item_id"] not in seen for r in recs[:5])
    code, out, _ = run(capsys, "recommend", str(model_path), "--users", "u3", "-N", "3")
    assert code == 0 and out.splitlines()[0] == "user_id,rank,item_id,score"
    code, out, _ = run(
        capsys,
        "evaluate",
        str(model_path),
        str(interactions),
        "--user-col",
        "who",
        "--item-col",
        "what",
    )
    assert code == 0
    metrics = json.loads(out)
    assert {"seed_definitions", "implicit_definitions", "eval_users"} <= set(metrics)


def test_the_model_file_loads_in_fastals_and_keeps_the_maps(model_path):
    model = AlternatingLeastSquares.load(model_path)
    with np.load(model_path, allow_pickle=False) as data:
        assert len(data["user_ids"]) == model.user_factors.shape[0]
        assert len(data["item_ids"]) == model.item_factors.shape[0]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "missing.csv", "--user-col", "a", "--item-col", "b", "-o", "m"], "no such file"),
        (
            ["fit", "{csv}", "--user-col", "nope", "--item-col", "what", "-o", "m"],
            "no column 'nope'",
        ),
        (["recommend", "missing.npz", "--users", "1"], "no such model file"),
        (["recommend", "{model}", "--users", "zzz"], "unknown user id"),
        (
            ["evaluate", "{model}", "missing.csv", "--user-col", "who", "--item-col", "what"],
            "no such file",
        ),
    ],
)
def test_bad_paths_columns_and_ids_are_one_line_errors(
    tmp_path, interactions, model_path, capsys, argv, message
):
    argv = [a.format(csv=interactions, model=model_path) for a in argv]
    argv = [str(tmp_path / a) if a.startswith("missing") else a for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def held_out_recall(matrix, seed=0):
    train, test = train_test_split(matrix, train_percentage=0.8, random_state=seed)
    users = np.flatnonzero(np.diff(test.indptr))
    results = {}
    als = AlternatingLeastSquares(factors=64, regularization=0.05, iterations=15, random_state=0)
    als.fit(train, show_progress=False)
    for name, model in (("als", als), ("popularity", PopularityRecommender().fit(train))):
        ids, _ = model.recommend(users, train[users], N=10)
        results[name] = per_user_metrics(ids, test[users], K=10)["recall@10"]
    return results


def test_movielens_100k_als_beats_popularity():
    path = SHARED / "ml-100k"
    if not (path / "u.data").exists():
        pytest.skip("MovieLens 100K is not in ../shared/data")
    ratings = load_movielens(path)
    liked = ratings[ratings["rating"] >= 4]
    matrix, _, _ = build_matrix(liked, "user_id", "item_id")
    recall = held_out_recall(matrix)
    assert recall["als"] > 1.1 * recall["popularity"]


def test_lastfm_2k_als_beats_popularity():
    path = SHARED / "hetrec2011-lastfm-2k"
    if not (path / "user_artists.dat").exists():
        pytest.skip("HetRec Last.fm 2K is not in ../shared/data")
    plays = load_lastfm(path)
    matrix, _, _ = build_matrix(plays, "user_id", "item_id", weight="weight")
    recall = held_out_recall(log_confidence(matrix, alpha=1.0, eps=1.0))
    assert recall["als"] > 1.1 * recall["popularity"]
