"""fastals.data.loaders: MovieLens and HetRec Last.fm, on ../shared/data and on tmp files."""

import numpy as np
import pytest
from data_dir import DATA_DIR as SHARED

from fastals.data.loaders import load_lastfm, load_movielens


def shared(*parts):
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} absent")
    return path


def check_frame(df, columns, dtypes):
    assert list(df.columns) == columns
    assert [df[c].dtype for c in columns] == [np.dtype(d) for d in dtypes]
    assert not df.isna().any().any()


# ---------------------------------------------------------------- real files


@pytest.mark.parametrize("target", ["ml-100k", "ml-100k/u.data"])
def test_movielens_100k(target):
    df = load_movielens(shared(*target.split("/")))
    check_frame(
        df,
        ["user_id", "item_id", "rating", "timestamp"],
        [np.int32, np.int32, np.float32, np.int64],
    )
    assert len(df) == 100_000
    assert df["user_id"].nunique() == 943 and df["user_id"].between(1, 943).all()
    assert df["item_id"].nunique() == 1682 and df["item_id"].between(1, 1682).all()
    assert set(df["rating"].unique()) == {1, 2, 3, 4, 5}
    assert (df["rating"] >= 4).sum() == 55_375
    assert not df.duplicated(["user_id", "item_id"]).any()
    assert df.iloc[0].tolist() == [196, 242, 3, 881250949]


@pytest.mark.parametrize("target", ["ml-latest-small", "ml-latest-small/ratings.csv"])
def test_movielens_latest_small(target):
    df = load_movielens(shared(*target.split("/")))  # CRLF file
    check_frame(
        df,
        ["user_id", "item_id", "rating", "timestamp"],
        [np.int32, np.int32, np.float32, np.int64],
    )
    assert len(df) == 100_836
    assert df["user_id"].nunique() == 610 and df["item_id"].nunique() == 9724
    assert df["rating"].min() == 0.5 and df["rating"].max() == 5.0
    assert (df["rating"] >= 4.0).sum() == 48_580
    assert df.iloc[0].tolist() == [1, 1, 4.0, 964982703]


@pytest.mark.parametrize(
    "target", ["hetrec2011-lastfm-2k", "hetrec2011-lastfm-2k/user_artists.dat"]
)
def test_lastfm(target):
    df = load_lastfm(shared(*target.split("/")))  # TAB, header, CRLF
    check_frame(df, ["user_id", "item_id", "weight"], [np.int32, np.int32, np.int64])
    assert len(df) == 92_834
    assert df["user_id"].nunique() == 1892 and df["item_id"].nunique() == 17_632
    assert df["weight"].min() == 1 and df["weight"].max() == 352_698
    assert df["weight"].median() == 260
    assert not df.duplicated(["user_id", "item_id"]).any()
    assert df.iloc[0].tolist() == [2, 51, 13883]


# ---------------------------------------------------------------- formats on tmp files


def test_movielens_formats(tmp_path):
    (tmp_path / "ratings.csv").write_bytes(
        b"userId,movieId,rating,timestamp\r\n1,10,4.5,100\r\n2,11,3.0,200\r\n"
    )
    df = load_movielens(tmp_path)
    assert df.values.tolist() == [[1, 10, 4.5, 100], [2, 11, 3.0, 200]]
    (tmp_path / "u.data").write_bytes(b"5\t6\t3\t881250949\r\n7\t8\t1\t881250950\r\n")
    assert load_movielens(tmp_path / "u.data").values.tolist() == [
        [5, 6, 3, 881250949],
        [7, 8, 1, 881250950],
    ]
    assert load_movielens(tmp_path)["user_id"].tolist() == [5, 7]  # u.data first in a folder
    (tmp_path / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::978302109\n")
    assert load_movielens(tmp_path / "ratings.dat")["item_id"].tolist() == [1193, 661]


def test_lastfm_lf_file(tmp_path):
    (tmp_path / "user_artists.dat").write_text("userID\tartistID\tweight\n2\t51\t13883\n")
    assert load_lastfm(tmp_path).values.tolist() == [[2, 51, 13883]]


def test_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_movielens(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match=r"no MovieLens ratings file in folder.*u\.data"):
        load_movielens(tmp_path)
    with pytest.raises(FileNotFoundError, match="user_artists.dat"):
        load_lastfm(tmp_path)
    bad = tmp_path / "ratings.csv"
    bad.write_text("user,movieId,rating,timestamp\n1,2,3,4\n")
    with pytest.raises(ValueError, match=r"ratings\.csv: missing column\(s\) \['userId'\]"):
        load_movielens(bad)
    bad.write_text("userId,movieId,rating,timestamp\n1,2,x,4\n")
    with pytest.raises(ValueError, match=r"ratings\.csv.*\['rating'\] \(row 1\)"):
        load_movielens(bad)
    short = tmp_path / "u.data"
    short.write_text("1\t2\t3\n")
    with pytest.raises(ValueError, match="expected 4 whitespace-separated fields"):
        load_movielens(short)
    lastfm = tmp_path / "user_artists.dat"
    lastfm.write_text("userID\tartist\tweight\n1\t2\t3\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['artistID'\]"):
        load_lastfm(lastfm)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_movielens(empty)
