"""The solver harness (``fastals solvers``), the paper's evaluation (``fastals paper``) and
EASE^R, on a small synthetic MovieLens-format ratings.csv."""

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from data_dir import DATA_DIR as DATA

from fastals import paper, protocol
from fastals.cli import main


@pytest.fixture(scope="module")
def ratings_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    rows = []
    for user in range(120):
        taste = rng.integers(0, 3)  # three groups of users liking three groups of items
        items = rng.choice(
            np.arange(taste * 30, taste * 30 + 40), size=rng.integers(6, 20), replace=False
        )
        rows += [(user + 1, int(item) + 1, 4.5, 0) for item in items]
    path = tmp_path_factory.mktemp("ml") / "ratings.csv"
    pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"]).to_csv(
        path, index=False
    )
    return path


def test_solvers_command(ratings_csv, tmp_path, capsys):
    out = tmp_path / "runs"
    code = main(
        [
            "solvers",
            "--data",
            str(ratings_csv),
            "--heldout",
            "15",
            "--factors",
            "8",
            "--epochs",
            "3",
            "--out",
            str(out),
            "--threads",
            "1",
        ]
    )
    assert code == 0
    records = json.loads((out / "records.json").read_text())["records"]
    fastals_ials = {
        r["solver"] for r in records if r["library"] == "fastals" and r["objective"] == "ials"
    }
    assert fastals_ials == {"cholesky", "cg", "ials++", "cd"}
    assert {r["library"] for r in records} >= {"fastals", "implicit", "irspack"}
    for solver in ("cholesky", "ials++", "cd"):
        values = [
            r["training_objective"]
            for r in records
            if (r["library"], r["solver"], r["objective"]) == ("fastals", solver, "ials")
        ]
        assert len(values) == 3 and values[0] >= values[1] >= values[2]
    # the same objective, solver and start: fastals and implicit reach the same loss
    loss = {
        r["library"]: r["training_objective"]
        for r in records
        if (r["objective"], r["solver"], r["epoch"]) == ("implicit", "cholesky", 3)
    }
    assert loss["fastals"] == pytest.approx(loss["implicit"], rel=1e-4)
    assert all(0 <= r["ndcg@100"] <= 1 and r["seconds"] > 0 for r in records)
    assert "| fastals | ials | cholesky | 8 |" in capsys.readouterr().out


def test_paper_command_tuned(ratings_csv, capsys, monkeypatch):
    monkeypatch.setitem(paper.GRID, "ials", paper.GRID["ials"][:2])
    monkeypatch.setitem(paper.GRID, "als", paper.GRID["als"][:2])
    code = main(
        [
            "paper",
            "--data",
            str(ratings_csv),
            "--heldout",
            "15",
            "--factors",
            "8",
            "--tune",
            "--published",
        ]
    )
    assert code == 0
    table = capsys.readouterr().out
    for name in ("iALS (d=8, CG)", "implicit's ALS (d=8, CG)", "popularity", "EASE^R", "published"):
        assert name in table


def test_paper_settings_and_bad_input(ratings_csv, capsys):
    assert (
        main(
            [
                "paper",
                "--data",
                str(ratings_csv),
                "--heldout",
                "15",
                "--factors",
                "16",
                "--block-size",
                "8",
            ]
        )
        == 0
    )
    assert "iALS (d=16, iALS++ block 8)" in capsys.readouterr().out
    assert main(["paper", "--data", str(ratings_csv), "--heldout", "60"]) == 2
    assert "leaves no training users" in capsys.readouterr().err
    assert main(["solvers", "--data", str(ratings_csv.parent / "missing.csv")]) == 2


def test_ease_columns_are_ridge_regressions():
    rng = np.random.default_rng(1)
    X = sp.csr_matrix((rng.random((40, 12)) < 0.3).astype(np.float32))
    B = paper.ease_weights(X, 2.0)
    G = (X.T @ X).toarray().astype(np.float64)
    assert np.all(np.diag(B) == 0)
    for j in (0, 5, 11):  # column j: ridge regression of item j on the other items
        others = np.delete(np.arange(12), j)
        b = np.linalg.solve(G[np.ix_(others, others)] + 2.0 * np.eye(11), G[others, j])
        np.testing.assert_allclose(B[others, j], b, rtol=1e-8, atol=1e-10)


def test_dense_ranking_matches_factor_ranking(ratings_csv):
    from fastals import iALS

    users, items = protocol.movielens_ratings(ratings_csv)
    split = protocol.strong_generalization_split(users, items, n_heldout=15)
    model = iALS(factors=8, iterations=3, random_state=0)
    model.fit(split.train, show_progress=False)
    X = model.recalculate_user(np.arange(15), split.validation.fold_in)
    dense = paper.evaluate_ranking(lambda rows: X @ model.item_factors.T, split.validation)
    assert dense == pytest.approx(protocol.evaluate(model, split.validation))


@pytest.mark.parametrize(
    "data, folder", [("ml-latest-small", "ml-latest-small"), ("lastfm", "hetrec2011-lastfm-2k")]
)
def test_real_data(data, folder, tmp_path, capsys, monkeypatch):
    if not (DATA / folder).exists():
        pytest.skip(f"{folder} is not in the data folder {DATA}")
    monkeypatch.setenv("FASTALS_DATA_DIR", str(DATA))
    argv = f"solvers --data {data} --heldout 50 --factors 8 --epochs 2 --solvers cg ials++"
    code = main(argv.split() + ["--without", "implicit", "irspack", "--out", str(tmp_path)])
    assert code == 0
    records = json.loads((tmp_path / "records.json").read_text())["records"]
    assert {(r["solver"], r["epoch"]) for r in records if r["objective"] == "ials"} == {
        ("cg", 1),
        ("cg", 2),
        ("ials++", 1),
        ("ials++", 2),
    }
    assert all(r["ndcg@100"] > 0.05 for r in records)  # far above a random ranking's
    capsys.readouterr()
    monkeypatch.setitem(paper.GRID, "ials", paper.GRID["ials"][12:13])
    monkeypatch.setitem(paper.GRID, "als", paper.GRID["als"][6:7])
    monkeypatch.setitem(paper.GRID, "ease", [])
    argv = f"paper --data {data} --heldout 50 --factors 8 --epochs 2 --tune"
    assert main(argv.split()) == 0
    table = capsys.readouterr().out
    assert "iALS (d=8, CG)" in table and "popularity" in table


def test_kuairec_like_data(monkeypatch):
    """``--data kuairec-like``: every stored entry of ``kuairec_like()`` is an interaction."""
    import fastals.data
    from fastals.cli_solvers import data_pairs

    small = fastals.data.kuairec_like(n_users=60, n_items=80, nnz=1500, seed=3)
    monkeypatch.setattr(fastals.data, "kuairec_like", lambda: small)
    users, items = data_pairs("kuairec-like")
    rebuilt = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=small.shape)
    assert rebuilt.nnz == small.nnz == len(users)
    assert (rebuilt != (small != 0)).nnz == 0
