"""fastals.data.synthetic and fastals.data.planted: seeds, canonical CSR, planted structure."""

import numpy as np
import pytest
import scipy.sparse as sp

from fastals.data import checkerboard, kuairec_like, planted_low_rank, power_law
from fastals.data.planted import inclusion_scale, popularity_weights

SMALL = {"n_users": 700, "n_items": 1000, "nnz": 100_000}


@pytest.fixture(scope="module")
def small_kuairec():
    return kuairec_like(**SMALL)


def assert_canonical(m, shape):
    assert isinstance(m, sp.csr_matrix)
    assert m.shape == shape
    assert m.data.dtype == np.float32
    assert m.indices.dtype == np.int32
    assert m.indptr.dtype == np.int32
    assert m.indptr[0] == 0 and m.indptr[-1] == m.nnz == m.indices.size
    assert np.all(np.diff(m.indptr) >= 0)
    assert np.all((m.indices >= 0) & (m.indices < shape[1]))
    # strictly increasing within each row: sorted and no duplicates
    rows = np.repeat(np.arange(shape[0]), np.diff(m.indptr))
    same_row = rows[1:] == rows[:-1]
    assert np.all(np.diff(m.indices)[same_row] > 0)
    assert np.all(m.data != 0)
    assert m.has_canonical_format


def assert_same(a, b):
    assert a.shape == b.shape
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)


def differ(a, b):
    return a.nnz != b.nnz or (a != b).nnz > 0


# ---------------------------------------------------------------- kuairec_like


def test_kuairec_canonical_and_values(small_kuairec):
    m = small_kuairec
    assert_canonical(m, (700, 1000))
    assert set(np.unique(m.data)) == {1.0, 41.0}


def test_kuairec_alpha_sets_positive_value():
    m = kuairec_like(200, 300, 10_000, alpha=5)
    assert set(np.unique(m.data)) == {1.0, 6.0}


def test_kuairec_nnz_within_one_percent(small_kuairec):
    assert abs(small_kuairec.nnz - SMALL["nnz"]) <= 0.01 * SMALL["nnz"]


def test_kuairec_positive_rate(small_kuairec):
    rate = np.mean(small_kuairec.data > 1)
    assert rate == pytest.approx(0.06, abs=0.002)
    m = kuairec_like(**SMALL, positive_rate=0.2, seed=3)
    assert np.mean(m.data > 1) == pytest.approx(0.2, abs=0.002)


def test_kuairec_row_lengths_skewed(small_kuairec):
    lengths = np.diff(small_kuairec.indptr)
    assert lengths.min() >= 1
    assert lengths.max() > 4 * np.median(lengths)
    assert np.median(lengths) < lengths.mean() * 1.2


def test_kuairec_item_popularity_skewed(small_kuairec):
    counts = np.sort(np.diff(small_kuairec.tocsc().indptr))[::-1]
    top_share = counts[: len(counts) // 10].sum() / counts.sum()
    assert top_share > 0.25  # top 10% of items hold far more than 10% of entries


def test_kuairec_seeds(small_kuairec):
    assert_same(small_kuairec, kuairec_like(**SMALL, seed=0))
    assert differ(small_kuairec, kuairec_like(**SMALL, seed=1))


def test_kuairec_positives_follow_item_taste(small_kuairec):
    # planted item effects: per-item positive rates vary far more than
    # binomial noise around a shared rate would allow
    m = small_kuairec.tocsc()
    counts = np.diff(m.indptr)
    pos = np.add.reduceat(m.data > 1, m.indptr[:-1])[counts > 0]
    counts = counts[counts > 0]
    rate = pos / counts
    binomial_var = np.mean(0.06 * 0.94 / counts)
    assert rate.var() > 1.5 * binomial_var  # ~1.0 +- 0.05 without item effects


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_users": 10, "n_items": 10, "nnz": 101},
        {"n_users": 10, "n_items": 10, "nnz": 5},
        {"positive_rate": 1.5, **SMALL},
        {"n_users": 0, "n_items": 10, "nnz": 0},
    ],
)
def test_kuairec_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        kuairec_like(**kwargs)


def test_kuairec_full_rows_allowed():
    m = kuairec_like(20, 30, 600)
    assert m.nnz == 600


# ---------------------------------------------------------------- planted_low_rank


def test_planted_shapes_and_seeds():
    m, u, v = planted_low_rank(300, 400, rank=4, density=0.1, seed=0)
    assert_canonical(m, (300, 400))
    assert np.all(m.data == 1.0)
    assert u.shape == (300, 4) and v.shape == (400, 4)
    assert u.dtype == np.float64 and v.dtype == np.float64
    np.testing.assert_allclose(u.sum(1), 1.0)
    np.testing.assert_allclose(v.sum(1), 1.0)
    m2, u2, v2 = planted_low_rank(300, 400, rank=4, density=0.1, seed=0)
    assert_same(m, m2)
    np.testing.assert_array_equal(u, u2)
    assert differ(m, planted_low_rank(300, 400, rank=4, density=0.1, seed=1)[0])


def test_planted_density():
    m, _, _ = planted_low_rank(400, 500, rank=4, density=0.1, seed=2)
    assert m.nnz / (400 * 500) == pytest.approx(0.1, rel=0.05)


def test_planted_topics_drive_interactions():
    m, u, v = planted_low_rank(400, 500, rank=4, density=0.1, seed=0)
    same_topic = u.argmax(1)[:, None] == v.argmax(1)[None, :]
    dense = m.toarray() > 0
    assert dense[same_topic].mean() > 5 * dense[~same_topic].mean()


def test_planted_spectrum_has_rank_gap():
    rank = 4
    m, _, _ = planted_low_rank(400, 500, rank=rank, density=0.1, seed=0)
    s = np.linalg.svd(m.toarray(), compute_uv=False)
    assert s[rank - 1] > 2 * s[rank]


# ---------------------------------------------------------------- checkerboard


@pytest.mark.parametrize("n_blocks", [1, 2, 3])
def test_checkerboard_exact(n_blocks):
    m = checkerboard(50, 70, n_blocks=n_blocks)
    assert_canonical(m, (50, 70))
    users, items = np.arange(50)[:, None], np.arange(70)[None, :]
    expected = (users % n_blocks) == (items % n_blocks)
    np.testing.assert_array_equal(m.toarray(), expected.astype(np.float32))


def test_checkerboard_noise_and_seeds():
    m = checkerboard(200, 300, n_blocks=2, seed=0, noise=0.1)
    assert_canonical(m, (200, 300))
    expected = (np.arange(200)[:, None] % 2) == (np.arange(300)[None, :] % 2)
    flipped = (m.toarray() > 0) != expected
    assert flipped.mean() == pytest.approx(0.1, abs=0.01)
    assert_same(m, checkerboard(200, 300, n_blocks=2, seed=0, noise=0.1))
    assert differ(m, checkerboard(200, 300, n_blocks=2, seed=1, noise=0.1))


def test_checkerboard_rejects_bad_noise():
    with pytest.raises(ValueError):
        checkerboard(10, 10, noise=-0.1)


def test_inclusion_scale_meets_the_targets():
    """sum_i min(1, c_u w_i) == target_u, zero weights never counted, the cap at 1 reached."""
    rng = np.random.default_rng(0)
    weights = popularity_weights(500, 0.7, rng)
    weights[rng.choice(500, 100, replace=False)] = 0.0
    targets = np.array([1.0, 3.5, 50.0, 250.0, 399.0, 400.0])
    c = inclusion_scale(targets, weights)
    expected = np.minimum(1.0, c[:, None] * weights[None, :]).sum(axis=1)
    np.testing.assert_allclose(expected, targets, rtol=1e-12)


# ---------------------------------------------------------------- power_law


@pytest.fixture(scope="module")
def small_power_law():
    return power_law(2000, 3000, 60_000, seed=3)


def test_power_law_canonical_counts(small_power_law):
    m = small_power_law
    assert_canonical(m, (2000, 3000))
    assert np.all(m.data == np.round(m.data)) and m.data.min() == 1
    assert 0.45 < np.mean(m.data == 1) < 0.55  # Geometric(1/2) counts
    assert 0.2 < np.mean(m.data == 2) < 0.3


def test_power_law_reaches_nnz_and_every_row(small_power_law):
    m = small_power_law
    assert abs(m.nnz - 60_000) < 0.01 * 60_000
    lengths = np.diff(m.indptr)
    assert lengths.min() >= 1
    assert lengths.max() > 4 * np.median(lengths)  # the Pareto tail


def test_power_law_items_skewed(small_power_law):
    counts = np.sort(np.bincount(small_power_law.indices, minlength=3000))[::-1]
    assert counts[0] > 20 * np.median(counts)
    flat = power_law(2000, 3000, 60_000, popularity_exponent=0.0, seed=3)
    flat_counts = np.bincount(flat.indices, minlength=3000)
    assert flat_counts.max() < 2 * np.median(flat_counts)


def test_power_law_seeds(small_power_law):
    assert_same(small_power_law, power_law(2000, 3000, 60_000, seed=3))
    assert (small_power_law != power_law(2000, 3000, 60_000, seed=4)).nnz > 0


def test_power_law_dense_rows_and_chunks(monkeypatch):
    import fastals.data.synthetic as synthetic

    monkeypatch.setattr(synthetic, "_ENTRIES_PER_CHUNK", 1000)  # many chunks of rows
    m = power_law(300, 50, 12_000, seed=1)  # 80% dense: repeats redrawn
    assert_canonical(m, (300, 50))
    assert m.nnz > 0.97 * 12_000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_users": 0, "n_items": 5, "nnz": 1},
        {"n_users": 10, "n_items": 5, "nnz": 9},
        {"n_users": 10, "n_items": 5, "nnz": 51},
        {"n_users": 10, "n_items": 5, "nnz": 20, "popularity_exponent": -1},
    ],
)
def test_power_law_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        power_law(**kwargs)
