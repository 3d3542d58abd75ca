"""fastals.kuairec: the loader/cleaner and the KuaiRec-format generator."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from fastals.data.interactions import build_matrix
from fastals.data.weighting import seed_confidence
from fastals.kuairec import format_cleaning_report, load_kuairec, load_table, write_kuairec_folder
from fastals.kuairec.load import INTERACTION_COLUMNS, TABLES

SCALE = 0.01


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("kuairec")
    summary = write_kuairec_folder(path, scale=SCALE, seed=0)
    return path, summary


@pytest.fixture(scope="module")
def data(folder):
    return load_kuairec(folder[0], show_progress=False)


def raw_clean(path):
    """The seed's cleaning done with plain pandas: dropna, then drop_duplicates."""
    raw = pd.read_csv(path)
    clean = raw.dropna().drop_duplicates()
    return raw, clean.reset_index(drop=True)


# ---------------------------------------------------------------- generator


def test_generator_summary_matches_files(folder):
    path, summary = folder
    assert set(summary["rows"]) == set(TABLES)
    for name, rows in summary["rows"].items():
        with open(path / f"{name}.csv", "rb") as fh:
            assert sum(1 for _ in fh) - 1 == rows
    assert summary["users"] == round(7176 * SCALE**0.5)
    assert summary["videos"] == round(10728 * SCALE**0.5)
    assert not list(path.glob("*.tmp"))


def test_generator_columns(folder):
    path, _ = folder
    assert sorted(p.name for p in path.iterdir()) == ["big_matrix.csv", "small_matrix.csv"]
    for name in TABLES:
        assert list(pd.read_csv(path / f"{name}.csv", nrows=0).columns) == list(INTERACTION_COLUMNS)


def test_generator_quirks(folder):
    path, summary = folder
    big = pd.read_csv(path / "big_matrix.csv")
    small = pd.read_csv(path / "small_matrix.csv")
    # ~7.7% exact duplicates, re-watches of a pair at another time
    dup_share = big.duplicated().mean()
    assert dup_share == pytest.approx(0.0771, abs=0.01)
    assert int(big.duplicated().sum()) == summary["big_duplicate_rows"]
    distinct = big.drop_duplicates()
    rewatch = distinct.duplicated(["user_id", "video_id"])
    assert rewatch.sum() == summary["big_rewatch_rows"] > 0
    # ~3.9% of small rows have no time/date/timestamp, and only those have NaN
    nan_rows = small[["time", "date", "timestamp"]].isna()
    assert (nan_rows.all(axis=1) == nan_rows.any(axis=1)).all()
    assert nan_rows.all(axis=1).mean() == pytest.approx(0.0389, abs=0.01)
    assert small.drop(columns=["time", "date", "timestamp"]).notna().all().all()
    assert not small.dropna().duplicated().any()
    # small is ~99.6% of its block; no small pair in big; small users/videos all in big
    block = small["user_id"].nunique() * small["video_id"].nunique()
    assert len(small) / block == pytest.approx(0.996, abs=0.004)
    big_pairs = set(zip(big["user_id"], big["video_id"], strict=True))
    small_pairs = set(zip(small["user_id"], small["video_id"], strict=True))
    assert not big_pairs & small_pairs
    assert set(small["user_id"]) <= set(big["user_id"])
    assert set(small["video_id"]) <= set(big["video_id"])
    assert big["user_id"].nunique() == summary["users"]
    assert big["video_id"].nunique() == summary["videos"]
    # watch_ratio = play / duration; positives (watch_ratio >= 2) a few percent
    np.testing.assert_allclose(big["watch_ratio"], big["play_duration"] / big["video_duration"])
    assert 0.04 < (big["watch_ratio"] >= 2).mean() < 0.11
    assert 0.6 < big["watch_ratio"].median() < 0.85


def test_generator_time_columns(folder):
    path, _ = folder
    big = pd.read_csv(path / "big_matrix.csv", nrows=5000)
    local = pd.to_datetime(big["time"], format="%Y-%m-%d %H:%M:%S.%f")
    assert big["time"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}").all()
    epoch = (local - pd.Timestamp("1970-01-01 08:00:00")).dt.total_seconds()
    np.testing.assert_allclose(big["timestamp"], epoch, rtol=0, atol=1e-6)
    assert (big["date"] == local.dt.strftime("%Y%m%d").astype(int)).all()
    # user-major, in time order within a user
    assert big["user_id"].is_monotonic_increasing
    assert (big.groupby("user_id")["timestamp"].diff().dropna() >= 0).all()


def test_generator_is_deterministic(tmp_path):
    def digest(path):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir())}

    a = write_kuairec_folder(tmp_path / "a", scale=0.001, seed=3)
    b = write_kuairec_folder(tmp_path / "b", scale=0.001, seed=3)
    write_kuairec_folder(tmp_path / "c", scale=0.001, seed=4)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")["big_matrix.csv"] != digest(tmp_path / "c")["big_matrix.csv"]
    assert a["rows"] == b["rows"]
    assert a["small_users"] >= 6 and a["small_videos"] >= 12


@pytest.mark.parametrize("scale", [0, -0.1, 1.5, float("nan"), "0.1", True])
def test_generator_rejects_bad_scale(tmp_path, scale):
    with pytest.raises(ValueError, match="scale"):
        write_kuairec_folder(tmp_path, scale=scale)


# ---------------------------------------------------------------- loader: cleaning


def test_counts_equal_pandas_cleaning(folder, data):
    path, _ = folder
    for name in TABLES:
        raw, clean = raw_clean(path / f"{name}.csv")
        report = data.cleaning_report[name]
        assert report["rows_before"] == len(raw), name
        assert report["rows_after"] == len(clean) == len(getattr(data, name)), name
        assert report["null_rows"] == len(raw) - len(raw.dropna()), name
        expected = 100 * (len(raw) - len(clean)) / len(raw)
        assert report["removed_pct"] == pytest.approx(expected), name


def test_interaction_values_equal_pandas_cleaning(folder, data):
    path, _ = folder
    for name in ("big_matrix", "small_matrix"):
        _, clean = raw_clean(path / f"{name}.csv")
        got = getattr(data, name)
        assert list(got.columns) == list(INTERACTION_COLUMNS)
        assert got.index.equals(pd.RangeIndex(len(clean)))
        for column in ("user_id", "video_id", "play_duration", "video_duration", "date"):
            assert got[column].dtype == np.int32
            np.testing.assert_array_equal(got[column], clean[column].astype(np.int64))
        assert got["watch_ratio"].dtype == np.float32
        np.testing.assert_array_equal(got["watch_ratio"], clean["watch_ratio"].astype(np.float32))
        assert got["timestamp"].dtype == np.float64
        np.testing.assert_array_equal(got["timestamp"], clean["timestamp"])
        np.testing.assert_array_equal(
            got["time"].to_numpy(), pd.to_datetime(clean["time"]).to_numpy().astype("<M8[us]")
        )


def test_report_and_seed_format(folder, data):
    _, summary = folder
    report = data.cleaning_report
    assert report["big_matrix"]["duplicate_rows"] == summary["big_duplicate_rows"]
    assert report["big_matrix"]["null_rows"] == 0
    assert report["small_matrix"]["null_rows"] == summary["small_nan_time_rows"]
    assert report["small_matrix"]["duplicate_rows"] == 0
    assert report["big_matrix"]["removed_pct"] == pytest.approx(7.71, abs=1.0)
    assert report["small_matrix"]["removed_pct"] == pytest.approx(3.89, abs=1.0)
    lines = format_cleaning_report(report).splitlines()
    assert lines[0] == f"Big matrix: {report['big_matrix']['removed_pct']:.2f}% cleaned"
    assert [line.split(":")[0] for line in lines] == ["Big matrix", "Small matrix"]


def test_no_nulls_no_duplicates_after_cleaning(data):
    for name, df in data.tables().items():
        assert not df.isna().any().any(), name
        assert not df.duplicated().any(), name


def test_duplicates_summed_by_build_matrix(data):
    big = data.big_matrix
    counts, users, items = build_matrix(big, "user_id", "video_id")
    pairs = big.groupby(["user_id", "video_id"]).size()
    assert counts.nnz == len(pairs) < len(big)
    assert counts.sum() == len(big)
    (u, v), n = pairs.idxmax(), pairs.max()
    assert n >= 2  # a re-watched pair
    assert counts[users.to_index(u), items.to_index(v)] == n
    # the seed's confidences: per-row 1 + 40 r, summed per pair
    conf, users2, items2 = build_matrix(
        big, "user_id", "video_id", seed_confidence(big["watch_ratio"])
    )
    assert users2 == users and items2 == items
    expected = (1 + 40 * (big["watch_ratio"] >= 2)).groupby([big["user_id"], big["video_id"]]).sum()
    assert conf.sum() == pytest.approx(expected.sum())
    assert conf[users.to_index(u), items.to_index(v)] == expected[(u, v)]
    # users in order of first appearance, as the seed's unique()
    np.testing.assert_array_equal(users.ids, big["user_id"].unique())
    np.testing.assert_array_equal(items.ids, big["video_id"].unique())


def test_chunked_read_equals_single_chunk(folder, data):
    path, _ = folder
    small_chunks = load_kuairec(
        path, tables=("big_matrix", "small_matrix"), show_progress=False, chunksize=997
    )
    for name in ("big_matrix", "small_matrix"):
        pd.testing.assert_frame_equal(getattr(small_chunks, name), getattr(data, name))
        assert small_chunks.cleaning_report[name] == data.cleaning_report[name]


def test_equal_row_hashes_are_decided_exactly(folder, data, monkeypatch):
    """Every row hashed alike: all are candidates, and only true duplicates go."""
    path, _ = folder

    def constant_hash(frame, index=False):
        return pd.Series(np.zeros(len(frame), dtype=np.uint64))

    monkeypatch.setattr(pd.util, "hash_pandas_object", constant_hash)
    df, report = load_table(path / "big_matrix.csv", "big_matrix", chunksize=20_000)
    pd.testing.assert_frame_equal(df, data.big_matrix)
    assert report == data.cleaning_report["big_matrix"]


def test_tables_and_options(folder):
    path, _ = folder
    only = load_kuairec(path, tables=["small_matrix"], show_progress=False)
    assert only.big_matrix is None and only.small_matrix is not None
    assert list(only.cleaning_report) == ["small_matrix"]
    assert only.data_dir == path and set(only.seconds) == {"small_matrix"}
    text = load_kuairec(
        path,
        tables="small_matrix",
        show_progress=False,
        parse_time=False,
        interaction_columns=["user_id", "video_id", "watch_ratio", "time"],
    ).small_matrix
    assert list(text.columns) == ["user_id", "video_id", "time", "watch_ratio"]  # file order
    assert isinstance(text["time"].iloc[0], str)
    with pytest.raises(ValueError, match="unknown KuaiRec table"):
        load_kuairec(path, tables=["big"], show_progress=False)
    with pytest.raises(ValueError, match="must include"):
        load_table(path / "big_matrix.csv", "big_matrix", columns=["user_id", "video_id"])


# ---------------------------------------------------------------- loader: errors


def copy_tables(src, dst, names, edit=None):
    dst.mkdir(exist_ok=True)
    for name in names:
        text = (src / f"{name}.csv").read_text()
        if edit and name in edit:
            text = edit[name](text)
        (dst / f"{name}.csv").write_text(text)
    return dst


def test_side_tables_are_not_read(folder, tmp_path):
    path, _ = folder
    dst = copy_tables(path, tmp_path / "k", ["big_matrix", "small_matrix"])
    (dst / "user_features.csv").write_text("not, a KuaiRec table\n")
    data = load_kuairec(dst, show_progress=False)
    assert list(data.tables()) == list(data.cleaning_report) == ["big_matrix", "small_matrix"]
    with pytest.raises(ValueError, match="unknown KuaiRec table.*user_features"):
        load_kuairec(dst, tables=["big_matrix", "user_features"], show_progress=False)


def test_missing_required_file(folder, tmp_path):
    path, _ = folder
    dst = copy_tables(path, tmp_path / "k", ["big_matrix"])
    with pytest.raises(FileNotFoundError) as err:
        load_kuairec(dst, show_progress=False)
    assert "small_matrix.csv" in str(err.value) and str(dst) in str(err.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_kuairec(tmp_path / "nowhere", show_progress=False)


def test_missing_column(folder, tmp_path):
    path, _ = folder

    def drop_watch_ratio(text):
        return "\n".join(line.rsplit(",", 1)[0] for line in text.splitlines()) + "\n"

    dst = copy_tables(
        path, tmp_path / "k", ["big_matrix", "small_matrix"], {"small_matrix": drop_watch_ratio}
    )
    with pytest.raises(ValueError) as err:
        load_kuairec(dst, show_progress=False)
    assert "small_matrix.csv" in str(err.value) and "watch_ratio" in str(err.value)


def test_malformed_numbers_and_times(folder, tmp_path):
    path, _ = folder
    header = ",".join(INTERACTION_COLUMNS)
    good = "1,2,100,200,2020-07-05 05:27:48.378,20200705,1593898068.378,0.5"
    bad_ratio = "1,3,100,200,2020-07-05 05:27:48.378,20200705,1593898068.378,abc"
    (tmp_path / "a.csv").write_text("\n".join([header, good, good, bad_ratio]) + "\n")
    with pytest.raises(ValueError, match=r"a\.csv.*'watch_ratio', line 4.*'abc'"):
        load_table(tmp_path / "a.csv", "small_matrix")
    bad_time = good.replace("2020-07-05 05:27:48.378", "yesterday")
    (tmp_path / "b.csv").write_text("\n".join([header, good, bad_time]) + "\n")
    with pytest.raises(ValueError, match=r"b\.csv.*'time', line 3.*yesterday"):
        load_table(tmp_path / "b.csv", "big_matrix")
    fractional_user = "1.5" + good[1:]
    (tmp_path / "c.csv").write_text("\n".join([header, good, fractional_user]) + "\n")
    with pytest.raises(ValueError, match=r"c\.csv.*'user_id', line 3.*not an integer"):
        load_table(tmp_path / "c.csv", "big_matrix")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_table(tmp_path / "empty.csv", "big_matrix")
    with pytest.raises(ValueError, match="unknown KuaiRec table"):
        load_table(tmp_path / "a.csv", "matrix")


def test_float_dates_and_nan_rows_like_real_small_matrix(tmp_path):
    # pandas-written small_matrix with NaN rows prints date as a float: 20200705.0
    header = ",".join(INTERACTION_COLUMNS)
    rows = [
        "14,148,4381,6067,2020-07-05 05:27:48.378,20200705.0,1593898068.378,0.7221031811438932",
        "14,148,4381,6067,2020-07-05 05:27:48.378,20200705.0,1593898068.378,0.7221031811438932",
        "7162,9,100,200,,,,0.5",
    ]
    (tmp_path / "s.csv").write_text("\n".join([header, *rows]) + "\n")
    df, report = load_table(tmp_path / "s.csv", "small_matrix")
    assert report == {
        "rows_before": 3,
        "null_rows": 1,
        "duplicate_rows": 1,
        "rows_after": 1,
        "removed_pct": pytest.approx(200 / 3),
    }
    assert df["date"].tolist() == [20200705] and df["date"].dtype == np.int32
    assert df["timestamp"].iloc[0] == 1593898068.378


# ---------------------------------------------------------------- planted taste


def test_als_beats_popularity_on_small_matrix(data):
    """The planted taste is learnable: ALS on big_matrix beats popularity on small_matrix."""
    implicit = pytest.importorskip("implicit.als")
    import threadpoolctl

    big, small = data.big_matrix, data.small_matrix
    train, users, items = build_matrix(
        big, "user_id", "video_id", seed_confidence(big["watch_ratio"])
    )
    positives = small[small["watch_ratio"] >= 2]
    u = users.to_index(positives["user_id"])
    i = items.to_index(positives["video_id"])
    eval_users = np.unique(u)
    small_items = np.unique(items.to_index(small["video_id"]))
    truth = {k: set(i[u == k]) for k in eval_users}

    def precision(recs):
        return np.mean([len(truth[k] & set(r)) / 10 for k, r in zip(eval_users, recs, strict=True)])

    with threadpoolctl.threadpool_limits(1):
        model = implicit.AlternatingLeastSquares(
            factors=50, regularization=0.1, iterations=15, random_state=0
        )
        model.fit(train, show_progress=False)
        als, _ = model.recommend(eval_users, train[eval_users], N=10, items=small_items)
    counts = np.bincount(train.indices, minlength=train.shape[1])
    popular = small_items[np.argsort(-counts[small_items], kind="stable")[:10]]
    p_als, p_pop = precision(als), precision([popular] * len(eval_users))
    assert p_als > 1.5 * p_pop, (p_als, p_pop)
