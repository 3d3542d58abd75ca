"""save_model / load_model: implicit 0.7.3's npz layout, atomic writes, clear errors, no pickle."""

import io
import os
import pathlib
import pickle
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.sparse as sp

from fastals import AlternatingLeastSquares
from fastals.model_files import REQUIRED_KEYS, load_model, save_model

PARAMS = dict(
    factors=4,
    regularization=0.05,
    alpha=2.5,
    use_native=True,
    use_cg=True,
    iterations=2,
    calculate_training_loss=True,
    num_threads=1,
    random_state=7,
    cg_steps=4,
)
# implicit warns about its BLAS threads on load/fit; not what these tests are about
pytestmark = pytest.mark.filterwarnings("ignore:OpenBLAS is configured:RuntimeWarning")

HYPER = (*PARAMS, "dtype")
ALL_KEYS = {"user_factors", "item_factors", *REQUIRED_KEYS, "random_state"}


def user_items():
    return sp.random(20, 30, density=0.3, format="csr", random_state=0)


def make_model(dtype=np.float32, fitted=True, **overrides):
    model = AlternatingLeastSquares(**{**PARAMS, "dtype": dtype, **overrides})
    if fitted:
        model.fit(user_items(), show_progress=False)
    return model


def assert_same_factors(loaded, original):
    for key in ("user_factors", "item_factors"):
        a, b = getattr(loaded, key), getattr(original, key)
        if b is None:
            assert a is None
            continue
        assert a.dtype == b.dtype
        assert a.flags.c_contiguous
        assert a.shape == b.shape
        assert a.tobytes() == b.tobytes()  # bit-identical


def assert_same_params(loaded, original):
    for key in HYPER:
        got, want = getattr(loaded, key), getattr(original, key)
        assert got == want, key
        if key != "dtype":
            assert type(got) is type(want), key  # Python values, not 0-d arrays
    assert loaded.dtype == np.dtype(original.dtype)


def files_in(directory):
    return sorted(p.name for p in pathlib.Path(directory).iterdir())


# -- round trips ---------------------------------------------------------------------------


def _target(kind, tmp_path):
    """(what to pass to save/load, the file expected on disk or None for a file object)."""
    paths = {
        "str": (str(tmp_path / "model.npz"), tmp_path / "model.npz"),
        "str_no_suffix": (str(tmp_path / "model"), tmp_path / "model.npz"),
        "pathlib": (tmp_path / "model.npz", tmp_path / "model.npz"),
        "pathlib_no_suffix": (tmp_path / "model", tmp_path / "model.npz"),
    }
    return paths[kind]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fitted", [True, False])
@pytest.mark.parametrize("kind", ["str", "str_no_suffix", "pathlib", "pathlib_no_suffix"])
def test_round_trip_path(tmp_path, dtype, fitted, kind):
    model = make_model(dtype, fitted)
    target, on_disk = _target(kind, tmp_path)
    written = save_model(model, target)
    assert written == str(on_disk)
    assert files_in(tmp_path) == [on_disk.name]  # the file only: no temporary left
    loaded = load_model(AlternatingLeastSquares, target)
    assert isinstance(loaded, AlternatingLeastSquares)
    assert_same_params(loaded, model)
    assert_same_factors(loaded, model)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fitted", [True, False])
def test_round_trip_file_object(dtype, fitted):
    model = make_model(dtype, fitted)
    buffer = io.BytesIO(b"header")
    buffer.seek(6)
    assert save_model(model, buffer) is None
    assert not buffer.closed
    buffer.seek(6)
    loaded = load_model(AlternatingLeastSquares, buffer)
    assert_same_params(loaded, model)
    assert_same_factors(loaded, model)


def test_round_trip_real_file_object(tmp_path):
    model = make_model()
    with open(tmp_path / "model.bin", "wb") as file:
        save_model(model, file)
    assert files_in(tmp_path) == ["model.bin"]  # no suffix added for a file object
    with open(tmp_path / "model.bin", "rb") as file:
        loaded = load_model(AlternatingLeastSquares, file)
    assert_same_factors(loaded, model)
    # a path without .npz falls back to the path itself when only that exists
    assert_same_factors(load_model(AlternatingLeastSquares, tmp_path / "model.bin"), model)


def test_load_prefers_npz_suffix_like_implicit(tmp_path):
    save_model(make_model(factors=3), tmp_path / "model.npz")
    with open(tmp_path / "model", "wb") as file:
        save_model(make_model(factors=5), file)
    assert load_model(AlternatingLeastSquares, tmp_path / "model").factors == 3


def test_loaded_model_keeps_training_like_the_original(tmp_path):
    model = make_model()
    save_model(model, tmp_path / "model")
    loaded = load_model(AlternatingLeastSquares, tmp_path / "model")
    model.fit(user_items(), show_progress=False)
    loaded.fit(user_items(), show_progress=False)
    assert_same_factors(loaded, model)
    assert loaded.loss_history == model.loss_history


def test_layout_keys_and_value_types(tmp_path):
    save_model(make_model(np.float64), tmp_path / "fitted")
    save_model(make_model(random_state=None, fitted=False), tmp_path / "unfitted")
    with np.load(tmp_path / "fitted.npz", allow_pickle=False) as data:
        assert set(data.files) == ALL_KEYS
        assert data["dtype"].dtype.kind == "U" and str(data["dtype"]) == "float64"
        assert data["user_factors"].dtype == np.float64
        assert data["use_cg"].dtype == np.bool_
        assert data["factors"].shape == ()
    with np.load(tmp_path / "unfitted.npz", allow_pickle=False) as data:
        assert set(data.files) == ALL_KEYS - {"user_factors", "item_factors", "random_state"}


@pytest.mark.parametrize(
    "random_state", [np.random.default_rng(0), np.random.RandomState(0), 2**70, None]
)
def test_random_state_that_is_not_a_plain_int_is_left_out(tmp_path, random_state):
    model = make_model(random_state=random_state)
    save_model(model, tmp_path / "model")
    with np.load(tmp_path / "model.npz", allow_pickle=False) as data:
        assert "random_state" not in data.files
    loaded = load_model(AlternatingLeastSquares, tmp_path / "model")
    assert loaded.random_state is None
    assert_same_factors(loaded, model)


def test_numpy_integer_random_state_is_kept(tmp_path):
    model = make_model(random_state=np.int64(3))
    save_model(model, tmp_path / "model")
    loaded = load_model(AlternatingLeastSquares, tmp_path / "model")
    assert loaded.random_state == 3 and type(loaded.random_state) is int


def test_unknown_keys_are_ignored(tmp_path):
    model = make_model()
    buffer = io.BytesIO()
    save_model(model, buffer)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        values = {key: data[key] for key in data.files}
    np.savez(tmp_path / "extra", **values, learning_rate=0.1)
    assert_same_factors(load_model(AlternatingLeastSquares, tmp_path / "extra"), model)


def test_pickle_round_trip_of_fitted_model():
    model = make_model()
    loaded = pickle.loads(pickle.dumps(model))
    assert_same_params(loaded, model)
    assert_same_factors(loaded, model)


# -- implicit interoperability -------------------------------------------------------------


def implicit_model(**params):
    implicit_als = pytest.importorskip("implicit.cpu.als")
    cg_steps = params.pop("cg_steps")
    model = implicit_als.AlternatingLeastSquares(**params)
    model.cg_steps = cg_steps
    return model


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fitted", [True, False])
def test_fastals_file_loads_in_implicit(tmp_path, dtype, fitted):
    implicit_als = pytest.importorskip("implicit.cpu.als")
    model = make_model(dtype, fitted)
    save_model(model, str(tmp_path / "model"))
    loaded = implicit_als.AlternatingLeastSquares.load(str(tmp_path / "model"))
    assert_same_params(loaded, model)
    assert_same_factors(loaded, model)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fitted", [True, False])
def test_implicit_file_loads_in_fastals(tmp_path, dtype, fitted):
    model = implicit_model(**{**PARAMS, "dtype": dtype})
    if fitted:
        model.fit(user_items(), show_progress=False)
    model.save(str(tmp_path / "model"))
    loaded = load_model(AlternatingLeastSquares, str(tmp_path / "model"))
    assert_same_params(loaded, model)
    assert_same_factors(loaded, model)


def test_same_layout_as_implicit(tmp_path):
    """Same keys, and per key the same dtype and shape, as implicit's save of the same model."""
    ours = make_model()
    theirs = implicit_model(**{**PARAMS, "dtype": np.float32})
    theirs.user_factors, theirs.item_factors = ours.user_factors, ours.item_factors
    save_model(ours, tmp_path / "ours")
    theirs.save(str(tmp_path / "theirs"))
    with (
        np.load(tmp_path / "ours.npz", allow_pickle=False) as a,
        np.load(tmp_path / "theirs.npz", allow_pickle=False) as b,
    ):
        assert a.files == b.files  # same keys in the same order
        for key in a.files:
            assert (a[key].dtype, a[key].shape) == (b[key].dtype, b[key].shape), key
            assert a[key].tobytes() == b[key].tobytes(), key


# -- failed saves --------------------------------------------------------------------------


def test_factors_that_need_pickle_are_refused_before_writing(tmp_path):
    model = make_model()
    model.user_factors = np.array([[object()] * 4], dtype=object)
    with pytest.raises(ValueError, match="user_factors must be a float array"):
        save_model(model, tmp_path / "model")
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    "factors, match",
    [(np.zeros((3, 5), np.float32), "factors=4"), (np.zeros(8, np.float32), "2-D")],
)
def test_factors_of_wrong_shape_are_refused(tmp_path, factors, match):
    model = make_model()
    model.item_factors = factors
    with pytest.raises(ValueError, match=match):
        save_model(model, tmp_path / "model")
    assert files_in(tmp_path) == []


def test_hyper_parameter_that_needs_pickle_is_refused(tmp_path):
    from fractions import Fraction

    model = make_model()
    model.regularization = Fraction(1, 2)
    with pytest.raises(ValueError, match="regularization"):
        save_model(model, io.BytesIO())


def _failing_savez(file, **arrays):
    """Writes part of an archive, then fails as a full disk would."""
    file.write(b"PK\x03\x04 partial archive")
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize("existing", [False, True])
def test_failed_save_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch, existing):
    path = tmp_path / "model.npz"
    if existing:
        save_model(make_model(factors=3), path)
    before = path.read_bytes() if existing else None
    monkeypatch.setattr(np, "savez", _failing_savez)
    with pytest.raises(OSError, match="No space left"):
        save_model(make_model(), path)
    assert files_in(tmp_path) == (["model.npz"] if existing else [])
    if existing:
        assert path.read_bytes() == before
        monkeypatch.undo()
        assert load_model(AlternatingLeastSquares, path).factors == 3


def test_interrupted_save_leaves_no_temporary(tmp_path, monkeypatch):
    def interrupted(file, **arrays):
        file.write(b"PK")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_model(make_model(), tmp_path / "model")
    assert files_in(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_overwrite_keeps_permissions_and_follows_symlink(tmp_path):
    real = tmp_path / "real.npz"
    save_model(make_model(factors=3), real)
    real.chmod(0o640)
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    save_model(make_model(), link)
    assert link.is_symlink()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert load_model(AlternatingLeastSquares, real).factors == 4


# -- unreadable files ----------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here") as info:
        load_model(AlternatingLeastSquares, tmp_path / "nothing-here.npz")
    assert info.value.filename == str(tmp_path / "nothing-here.npz")
    with pytest.raises(FileNotFoundError, match=r"nothing-here\.npz"):
        load_model(AlternatingLeastSquares, str(tmp_path / "nothing-here"))


@pytest.mark.parametrize("keep", [0, 3, 10, 200, 0.5, -30, -1])
def test_truncated_file(tmp_path, keep):
    path = tmp_path / "model.npz"
    save_model(make_model(), path)
    data = path.read_bytes()
    keep = int(len(data) * keep) if isinstance(keep, float) else keep
    path.write_bytes(data[:keep])
    with pytest.raises(ValueError, match="not a readable model file") as info:
        load_model(AlternatingLeastSquares, path)
    assert str(path) in str(info.value)


def test_corrupt_factor_bytes(tmp_path):
    path = tmp_path / "model.npz"
    save_model(make_model(), path)
    data = bytearray(path.read_bytes())
    data[len(data) // 4] ^= 0xFF  # inside the user factors: the CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a readable model file") as info:
        load_model(AlternatingLeastSquares, path)
    assert str(path) in str(info.value)


def test_text_file(tmp_path):
    path = tmp_path / "model.npz"
    path.write_text("user,item,rating\n1,2,3\n")
    with pytest.raises(ValueError, match="not a readable model file") as info:
        load_model(AlternatingLeastSquares, path)
    assert str(path) in str(info.value)
    assert "unsafely" not in str(info.value)  # no advice to unpickle an unknown file


def test_npy_file(tmp_path):
    path = tmp_path / "factors.npy"
    np.save(path, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="single .npy array"):
        load_model(AlternatingLeastSquares, path)


def test_zip_that_is_not_an_npz(tmp_path):
    import zipfile

    path = tmp_path / "model.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="not a readable model file"):
        load_model(AlternatingLeastSquares, path)


def saved_values(model):
    buffer = io.BytesIO()
    save_model(model, buffer)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def test_missing_keys_are_named(tmp_path):
    values = saved_values(make_model())
    del values["factors"], values["alpha"]
    np.savez(tmp_path / "model", **values)
    with pytest.raises(ValueError, match=r"missing keys \['factors', 'alpha'\]") as info:
        load_model(AlternatingLeastSquares, tmp_path / "model")
    assert "model.npz" in str(info.value)


class _Canary:
    """Records being unpickled: a load that unpickles would run arbitrary code."""

    unpickled = False

    def __reduce__(self):
        return (_Canary._revive, ())

    @staticmethod
    def _revive():
        _Canary.unpickled = True
        return _Canary()


@pytest.mark.parametrize("key", ["user_factors", "regularization", "extra"])
def test_pickled_object_array_is_refused_without_unpickling(tmp_path, key):
    values = saved_values(make_model())
    values[key] = np.array([_Canary()], dtype=object)
    np.savez(tmp_path / "model", **values)  # np.savez pickles object arrays
    with pytest.raises(ValueError, match=f"'{key}' holds a pickled object array"):
        load_model(AlternatingLeastSquares, tmp_path / "model")
    assert not _Canary.unpickled


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("user_factors", np.zeros((20, 5), np.float32), r"shape \(20, 5\) but factors=4"),
        ("item_factors", np.zeros(30, np.float32), "must be 2-D"),
        ("item_factors", np.zeros((30, 4), np.int64), "must be a float array"),
        ("factors", np.array([4]), "'factors' must be a scalar"),
        ("dtype", np.array("float16"), "invalid hyper-parameter.*float16"),
        ("iterations", np.array(-1), "invalid hyper-parameter.*iterations"),
    ],
)
def test_bad_values_are_refused(tmp_path, key, value, match):
    values = saved_values(make_model())
    values[key] = value
    np.savez(tmp_path / "model", **values)
    with pytest.raises(ValueError, match=match) as info:
        load_model(AlternatingLeastSquares, tmp_path / "model")
    assert "model.npz" in str(info.value)


def test_factors_of_another_float_dtype_are_cast_to_the_model_dtype(tmp_path):
    values = saved_values(make_model(np.float32))
    values["user_factors"] = np.asfortranarray(values["user_factors"].astype(np.float64))
    np.savez(tmp_path / "model", **values)
    loaded = load_model(AlternatingLeastSquares, tmp_path / "model")
    assert loaded.user_factors.dtype == np.float32
    assert loaded.user_factors.flags.c_contiguous


# -- through the estimator's save / load ---------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fitted", [True, False])
def test_estimator_save_and_load(tmp_path, dtype, fitted):
    model = make_model(dtype, fitted)
    model.save(str(tmp_path / "model"))  # implicit-style: no suffix, np.savez adds it
    assert files_in(tmp_path) == ["model.npz"]
    loaded = AlternatingLeastSquares.load(str(tmp_path / "model"))
    assert type(loaded) is AlternatingLeastSquares
    assert_same_params(loaded, model)
    assert_same_factors(loaded, model)


def test_estimator_save_and_load_file_object():
    model = make_model()
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = AlternatingLeastSquares.load(buffer)
    assert_same_factors(loaded, model)


def test_estimator_load_returns_the_subclass(tmp_path):
    class MyALS(AlternatingLeastSquares):
        pass

    make_model().save(tmp_path / "model.npz")
    assert type(MyALS.load(tmp_path / "model.npz")) is MyALS


def test_loaded_model_recommends_like_the_original(tmp_path):
    model = make_model()
    model.save(tmp_path / "model.npz")
    loaded = AlternatingLeastSquares.load(tmp_path / "model.npz")
    matrix = user_items()
    ids, scores = model.recommend(np.arange(5), matrix[:5], N=5)
    loaded_ids, loaded_scores = loaded.recommend(np.arange(5), matrix[:5], N=5)
    np.testing.assert_array_equal(loaded_ids, ids)
    np.testing.assert_array_equal(loaded_scores, scores)


def test_missing_path_message_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        AlternatingLeastSquares.load(tmp_path / "nothing")
    message = str(info.value)
    assert "None" not in message and "nothing.npz" in message, message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_load_refuses_a_fifo_at_once(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)  # with no writer, opening it to read would block forever
    with pytest.raises(ValueError, match="FIFO"):
        AlternatingLeastSquares.load(fifo)


def test_load_refuses_a_directory(tmp_path):
    (tmp_path / "model.npz").mkdir()
    with pytest.raises(ValueError, match="directory"):
        AlternatingLeastSquares.load(tmp_path / "model.npz")


def _temporary(directory, name, age_s):
    path = directory / f".{name}.{os.urandom(6).hex()}.tmp"
    path.write_bytes(b"partial archive of a killed save")
    old = os.stat(path).st_mtime - age_s
    os.utime(path, (old, old))
    return path


@pytest.mark.skipif(os.name != "posix", reason="temporaries are swept where flock exists")
def test_save_sweeps_temporaries_of_killed_saves_only(tmp_path):
    import fcntl

    from fastals import model_files

    dead = _temporary(tmp_path, "model.npz", age_s=3600)  # its writer is gone: unlocked
    young = _temporary(tmp_path, "model.npz", age_s=0)  # may not be locked yet by its writer
    live = _temporary(tmp_path, "model.npz", age_s=3600)
    other = _temporary(tmp_path, "other.npz", age_s=3600)  # another target's: not ours
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # a save still writing it
        make_model().save(tmp_path / "model.npz")
    assert not dead.exists()
    assert young.exists() and live.exists() and other.exists()
    assert load_model(AlternatingLeastSquares, tmp_path / "model.npz").factors == 4
    assert model_files.STALE_AGE_S >= 10


def test_killed_save_leaves_the_target_intact_and_its_temporary_is_swept(tmp_path):
    """A save killed with SIGKILL mid-write (in a child process) leaves the old file whole;
    the next save removes the temporary it left."""
    target = tmp_path / "model.npz"
    make_model().save(target)
    before = target.read_bytes()
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, numpy as np\n"
            "from fastals import AlternatingLeastSquares as A\n"
            "m = A(factors=64); m.user_factors = np.ones((1_000_000, 64), np.float32)\n"
            "m.item_factors = np.zeros((10, 64), np.float32)\n"
            "print('saving', flush=True); m.save(sys.argv[1])\n",
            str(target),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "saving"
    for _ in range(500):  # wait until its temporary exists, then kill it mid-write
        if list(tmp_path.glob(".model.npz.*.tmp")):
            break
        time.sleep(0.002)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert target.read_bytes() == before
    leftovers = list(tmp_path.glob(".model.npz.*.tmp"))
    if not leftovers:
        pytest.skip("the child finished its save before it was killed")
    for path in leftovers:
        old = os.stat(path).st_mtime - 3600
        os.utime(path, (old, old))
    make_model().save(target)
    assert not list(tmp_path.glob(".model.npz.*.tmp"))
