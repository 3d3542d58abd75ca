"""The fastals command, one test per flow: split, fit, recommend, evaluate, on the real
MovieLens 100K and Last.fm 2K files in their original formats (skipped when absent), and on
small generated tables for stdin, Parquet and id files.

Most commands run in-process through ``fastals.cli.main`` (a subprocess costs 1-2 s);
``test_cli_errors.py`` holds the bad inputs and the end-to-end subprocess checks.
"""

import contextlib
import io
import json
import os
import sys

import numpy as np
import pandas as pd
import pytest
from data_dir import dataset

from fastals import AlternatingLeastSquares, __version__
from fastals.baselines import PopularityRecommender
from fastals.cli import build_parser, main
from fastals.data import build_matrix, load_lastfm, load_movielens, log_confidence
from fastals.evaluation import per_user_metrics, train_test_split

ML_NAMES = "user,item,rating,timestamp"
FAST = ["--factors", "8", "--iterations", "3", "--quiet"]


def data_file(*parts):
    return dataset(os.path.join(*parts))


def run(*argv, stdin=None):
    """(exit code, stdout, stderr) of ``fastals argv`` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        if stdin is None:
            code = main([str(a) for a in argv])
        else:
            saved = sys.stdin
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
            try:
                code = main([str(a) for a in argv])
            finally:
                sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


def ok(*argv, **kwargs):
    code, out, err = run(*argv, **kwargs)
    assert code == 0, err
    return out, err


def read_recs(text, fmt="csv"):
    if fmt == "json":
        return pd.DataFrame(json.loads(text))
    return pd.read_csv(io.StringIO(text), sep="\t" if fmt == "tsv" else ",", dtype={"score": str})


# ---------------------------------------------------------------- MovieLens 100K: u.data


@pytest.fixture(scope="module")
def ml_split(tmp_path_factory):
    """u.data (tab separated, no header) split by time: (folder, original frame)."""
    udata = data_file("ml-100k", "u.data")
    folder = tmp_path_factory.mktemp("ml")
    argv = ["split", udata, "--no-header", "--names", ML_NAMES, "--user-col", "user"]
    argv += ["--item-col", "item", "--time-col", "timestamp", "--by", "time"]
    argv += ["--test-fraction", "0.2", "--seed", "0"]
    ok(*argv, "--train", folder / "train.csv", "--test", folder / "test.csv")
    original = pd.read_csv(udata, sep="\t", header=None, names=ML_NAMES.split(","))
    return folder, original


@pytest.fixture(scope="module")
def ml_model(ml_split):
    folder, _ = ml_split
    argv = ["fit", folder / "train.csv", "--user-col", "user", "--item-col", "item"]
    ok(*argv, "--weight-col", "rating", "--min-value", "4", "-o", folder / "model", *FAST)
    return folder / "model.npz"


def test_split_movielens_by_time_holds_out_each_users_latest_fifth(ml_split):
    folder, original = ml_split
    train = pd.read_csv(folder / "train.csv")
    test = pd.read_csv(folder / "test.csv")
    assert list(train.columns) == ML_NAMES.split(",") == list(test.columns)
    assert len(train) + len(test) == len(original) == 100_000
    merged = pd.concat([train, test]).sort_values(["user", "item"]).reset_index(drop=True)
    expected = original.sort_values(["user", "item"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(merged, expected)  # every row once, unchanged
    per_user = original.groupby("user").size()
    held = test.groupby("user").size().reindex(per_user.index, fill_value=0)
    assert (held == np.minimum(np.floor(per_user * 0.2 + 0.5), per_user - 1)).all()
    latest_train = train.groupby("user")["timestamp"].max()
    earliest_test = test.groupby("user")["timestamp"].min()
    assert (earliest_test >= latest_train[earliest_test.index]).all()


def test_fit_recommend_movielens_never_prints_seen_items(ml_split, ml_model):
    folder, _ = ml_split
    train = pd.read_csv(folder / "train.csv")
    liked = train[train["rating"] >= 4]
    out, err = ok("recommend", ml_model, "--users", "1", "99999", "2", "88888", "-N", "5")
    assert err.strip() == (
        "fastals recommend: warning: unknown user ids: 99999, 88888 "
        "(skipped; --strict to fail instead)"
    )
    recs = read_recs(out)
    assert list(recs.columns) == ["user_id", "rank", "item_id", "score"]
    assert recs["user_id"].tolist() == [1] * 5 + [2] * 5
    for user, rows in recs.groupby("user_id"):
        assert rows["rank"].tolist() == [1, 2, 3, 4, 5]
        assert not set(rows["item_id"]) & set(liked.loc[liked["user"] == user, "item"])
    # scores are the float32 values, in their shortest form
    for text in recs["score"]:
        assert text == str(np.float32(float(text)))
        assert len(text.replace("-", "").replace(".", "").lstrip("0")) <= 9
    # N larger than what is left: every unseen item once, none seen
    n_items = liked["item"].nunique()
    out, _ = ok("recommend", ml_model, "--users", "1", "-N", "100000", "--format", "tsv")
    everything = read_recs(out, "tsv")
    seen = set(liked.loc[liked["user"] == 1, "item"])
    assert len(everything) == n_items - len(seen)
    assert set(everything["item_id"]) == set(liked["item"]) - seen
    scores = everything["score"].astype(np.float32).to_numpy()
    assert (np.diff(scores) <= 0).all()


def test_evaluate_movielens_names_defines_and_accounts_for_rows(ml_split, ml_model):
    folder, _ = ml_split
    test = pd.read_csv(folder / "test.csv")
    argv = ["evaluate", ml_model, folder / "test.csv", "--user-col", "user", "--item-col", "item"]
    out, _ = ok(*argv, "--min-value", "4", "-K", "10", "--format", "json")
    result = json.loads(out)
    rows = result["test_rows"]
    assert rows["read"] == len(test)
    assert rows["below_min_value"] == int((test["rating"] < 4).sum())  # weight col from the model
    dropped = sum(v for k, v in rows.items() if k not in ("read", "used"))
    assert rows["used"] + dropped == rows["read"]
    assert rows["unknown_item"] > 0 and rows["already_in_training"] == 0
    names = ["precision@10", "recall@10", "ndcg@10", "map@10", "implicit_precision@10", "auc@10"]
    assert list(result["metrics"]) == names == list(result["definitions"])
    assert all(0 < result["metrics"][n] < 1 for n in names)
    assert result["metrics"]["auc@10"] > 0.5  # better than chance
    text, _ = ok(*argv, "--min-value", "4", "-K", "10")
    lines = text.splitlines()
    assert lines[1] == (
        f"test rows: {rows['read']:,} read, {dropped:,} dropped ("
        f"{rows['below_min_value']:,} below --min-value, {rows['unknown_item']:,} unknown item)"
    )
    for name in names:
        (line,) = [row for row in lines if row.startswith(name + " ")]
        value, definition = line.split()[1], " ".join(line.split()[2:])
        assert float(value) == pytest.approx(result["metrics"][name], abs=5e-5)
        assert definition == result["definitions"][name]


# ---------------------------------------------------------------- Last.fm 2K: user_artists.dat


def test_lastfm_split_fit_all_users_stream(tmp_path):
    plays = data_file("hetrec2011-lastfm-2k", "user_artists.dat")  # tab, header, CRLF
    cols = ["--user-col", "userID", "--item-col", "artistID"]
    split = ["split", plays, *cols, "--by", "random", "--test-fraction", "0.2", "--seed", "3"]
    ok(*split, "--train", tmp_path / "a.csv", "--test", tmp_path / "b.csv")
    ok(*split, "--train", tmp_path / "c.csv", "--test", tmp_path / "d.csv")
    assert (tmp_path / "b.csv").read_bytes() == (tmp_path / "d.csv").read_bytes()  # same seed
    train = pd.read_csv(tmp_path / "a.csv")
    assert len(train) + len(pd.read_csv(tmp_path / "b.csv")) == 92_834

    model = tmp_path / "lastfm.npz"
    ok("fit", tmp_path / "a.csv", *cols, "--weight-col", "weight", "--weighting", "bm25",
       "-o", model, *FAST)  # fmt: skip
    out, _ = ok("recommend", model, "--all-users", "-N", "7", "--format", "json")
    recs = read_recs(out, "json")
    counts = train.groupby("userID").size()
    n_items = train["artistID"].nunique()
    per_user = recs.groupby("user_id").size()
    assert list(per_user.index) == list(pd.unique(train["userID"]))  # model order, all users
    assert (per_user == np.minimum(7, n_items - counts[per_user.index])).all()
    assert all(repr(s) == str(np.float32(s)) for s in recs["score"])  # float32, shortest
    seen = set(zip(train["userID"], train["artistID"], strict=True))
    assert not any((u, i) in seen for u, i in zip(recs["user_id"], recs["item_id"], strict=True))
    argv = ["evaluate", model, tmp_path / "b.csv", *cols, "-K", "10", "--format", "json"]
    metrics = json.loads(ok(*argv)[0])["metrics"]
    assert metrics["recall@10"] > 0.05


def test_fit_reads_any_extension_stdin_and_parquet(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"who": rng.choice([f"u{i}" for i in range(30)], 400), "what": rng.integers(0, 50, 400)}
    )
    frame["w"] = rng.integers(1, 9, len(frame))
    cols = ["--user-col", "who", "--item-col", "what", "--weight-col", "w", *FAST]
    semicolons = tmp_path / "plays.log"
    frame.to_csv(semicolons, sep=";", header=False, index=False)
    ok("fit", semicolons, "--sep", ";", "--no-header", "--names", "who,what,w", *cols,
       "-o", tmp_path / "a")  # fmt: skip
    ok("fit", "-", *cols, "-o", tmp_path / "b", stdin=frame.to_csv(sep="\t", index=False).encode())
    factors = [AlternatingLeastSquares.load(tmp_path / f"{n}.npz").user_factors for n in "ab"]
    np.testing.assert_array_equal(*factors)  # same rows, same model
    pytest.importorskip("pyarrow")
    frame.to_parquet(tmp_path / "plays.bin")  # recognised by its content, not its name
    ok("fit", tmp_path / "plays.bin", *cols, "-o", tmp_path / "c")
    np.testing.assert_array_equal(
        factors[0], AlternatingLeastSquares.load(tmp_path / "c.npz").user_factors
    )


def test_recommend_users_file_and_string_ids(tmp_path):
    frame = pd.DataFrame({"u": ["x", "x", "y", "z", "z"], "i": ["a", "b", "a", "c", "b"]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    ok("fit", tmp_path / "t.csv", "--user-col", "u", "--item-col", "i", "-o", tmp_path / "m",
       *FAST)  # fmt: skip
    (tmp_path / "ids.txt").write_text("z\n\n x \n")
    out, _ = ok("recommend", tmp_path / "m.npz", "--users-file", tmp_path / "ids.txt", "-N", "5")
    recs = read_recs(out)
    assert recs["user_id"].tolist() == ["z", "x"]  # one unseen item each
    assert recs["item_id"].tolist() == ["a", "c"]
    out, _ = ok("recommend", tmp_path / "m.npz", "--users-file", "-", stdin=b"y\n")
    assert sorted(read_recs(out)["item_id"]) == ["b", "c"]


# ---------------------------------------------------------------- the command itself


def test_version_and_help():
    out, _ = ok("--version")
    assert out.strip() == f"fastals {__version__}"
    out, _ = ok("kuairec", "--help")  # `make demo` runs `fastals kuairec`
    assert "--data-dir" in out


def test_every_flag_says_its_default():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    for name, command in sub.choices.items():
        for action in command._actions:
            if action.dest == "help" or not action.option_strings:
                continue
            text = action.help or ""
            assert "default" in text or "required" in text, f"{name} {action.option_strings}"


# ---------------------------------------------------------------- ALS vs popularity (library)


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
    ratings = load_movielens(data_file("ml-100k", "u.data"))
    liked = ratings[ratings["rating"] >= 4]
    matrix, _, _ = build_matrix(liked, "user_id", "item_id")
    recall = held_out_recall(matrix)
    assert recall["als"] > 1.1 * recall["popularity"]


def test_lastfm_2k_als_beats_popularity():
    plays = load_lastfm(data_file("hetrec2011-lastfm-2k", "user_artists.dat"))
    matrix, _, _ = build_matrix(plays, "user_id", "item_id", weight="weight")
    recall = held_out_recall(log_confidence(matrix, alpha=1.0, eps=1.0))
    assert recall["als"] > 1.1 * recall["popularity"]
