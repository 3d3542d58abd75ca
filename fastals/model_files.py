"""Save and load models in implicit 0.7.3's npz layout, without pickle.

The file is what ``implicit.cpu.als.AlternatingLeastSquares.save`` writes: an uncompressed
``np.savez`` archive with one ``.npy`` member per key

    user_factors, item_factors            (n, factors) float arrays, when fitted
    regularization, factors, num_threads, iterations, use_native, use_cg, cg_steps,
    calculate_training_loss, alpha        0-d arrays
    dtype                                 0-d string array, the dtype's name ("float32")
    random_state                          0-d integer array, when an int

Keys whose value is None are left out (an unfitted model has no factor arrays), so files
move both ways between fastals and implicit: ``implicit...AlternatingLeastSquares.load``
reads a fastals file and ``load_model`` reads an implicit one.
"""

import errno
import numbers
import os
import re
import secrets
import stat
import time
import zipfile
import zlib
from typing import BinaryIO, TypeVar

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import numpy as np

Model = TypeVar("Model")
PathOrFile = str | os.PathLike | BinaryIO

FACTOR_KEYS = ("user_factors", "item_factors")
# implicit 0.7.3 writes these for every model (none of them can be None there)
REQUIRED_KEYS = (
    "regularization",
    "factors",
    "num_threads",
    "iterations",
    "use_native",
    "use_cg",
    "cg_steps",
    "calculate_training_loss",
    "dtype",
    "alpha",
)
OPTIONAL_SCALAR_KEYS = ("random_state",)
# errors numpy / zipfile raise on bytes that are not a complete npz archive
_UNREADABLE = (ValueError, EOFError, zipfile.BadZipFile, zlib.error, OSError)


def save_model(model, path_or_file: PathOrFile, extra=None) -> str | None:
    """Write ``model`` to ``path_or_file`` in implicit 0.7.3's npz layout (never pickled).

    Parameters
    ----------
    model : AlternatingLeastSquares
        Fitted or not. Its ``user_factors`` / ``item_factors`` (when not None) must be 2-D
        float arrays with ``factors`` columns; they are written as they are (bit for bit).
    path_or_file : str, os.PathLike or writable binary file object
        A path without the ``.npz`` suffix gets it appended, as ``np.savez`` (and therefore
        implicit's ``save``) does. A path is written atomically: the archive goes to a
        temporary file in the same directory, which then replaces the path, so a failed
        save leaves no partial file and an existing file intact (its permission bits are
        kept; a symlink at the path is followed). A file object is written from its current
        position and is not closed.

    Returns
    -------
    str or None
        The path written (with the suffix), or None for a file object.

    Notes
    -----
    ``random_state`` is written only when it is an int (or None: left out, as implicit
    does). A ``np.random.Generator`` or ``RandomState`` is left out too: implicit writes it
    as a pickled object array that its own ``load`` (``allow_pickle=False``) then refuses.
    A model loaded from such a file has ``random_state=None``; a fitted model's factors are
    saved, so nothing it computes depends on the seed.

    Raises
    ------
    ValueError
        A factor array or hyper-parameter that cannot be written without pickle; nothing
        has been written then.
    """
    arrays = model_arrays(model)
    arrays.update(extra_arrays(extra or {}, arrays))
    if hasattr(path_or_file, "write"):
        np.savez(path_or_file, **arrays)
        return None
    path = npz_path(path_or_file)
    _write_atomically(path, arrays)
    return path


def model_arrays(model):
    """The keys and values ``save_model`` writes, checked to need no pickle.

    Returns a dict in implicit's key order; None values (and a ``random_state`` that is not
    an int) are left out.
    """
    values = {"user_factors": model.user_factors, "item_factors": model.item_factors}
    values.update(model._saved_params())
    values["random_state"] = _storable_seed(values.get("random_state"))
    vectors = getattr(model, "_saved_vectors", dict)()
    arrays = {}
    for key, value in values.items():
        if value is None:
            continue
        array = np.asanyarray(value)
        if key in FACTOR_KEYS:
            check_factor_array(key, array, model.factors)
        else:
            _check_scalar_array(key, array)
        arrays[key] = array
    arrays.update({key: np.asarray(v) for key, v in vectors.items() if v is not None})
    return arrays


def extra_arrays(extra, model_keys):
    """``extra`` (name -> array) checked: no clash with the model's keys, no object dtype.

    Extra arrays (e.g. the CLI's id maps and training matrix) ride in the same npz; implicit's
    ``load`` just sets them as attributes, and ``load_model`` ignores them (``load_extra``).
    """
    out = {}
    for key, value in extra.items():
        array = np.asarray(value)
        if key in model_keys or key in REQUIRED_KEYS or key in FACTOR_KEYS:
            raise ValueError(f"extra array name {key!r} clashes with a model key")
        if array.dtype.kind == "O":
            raise ValueError(f"extra array {key!r} has object dtype: it would need pickle")
        out[key] = array
    return out


def load_extra(path_or_file: PathOrFile, keys) -> dict:
    """The arrays named ``keys`` in a file saved with ``save_model(..., extra=...)``."""
    source = _resolve_load_path(path_or_file)
    return _read_source(source, _source_name(source), keys)


def _storable_seed(random_state):
    """``random_state`` when it can be stored as a plain int64, else None (left out)."""
    if isinstance(random_state, numbers.Integral):
        if np.iinfo(np.int64).min <= int(random_state) <= np.iinfo(np.int64).max:
            return random_state
    return None


def check_factor_array(key, array, factors):
    """Raise ValueError unless ``array`` is a 2-D real float array with ``factors`` columns."""
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
        kind = getattr(array, "dtype", type(array).__name__)
        raise ValueError(f"{key} must be a float array, got {kind}")
    if array.ndim != 2:
        raise ValueError(f"{key} must be 2-D (rows, factors), got shape {array.shape}")
    if array.shape[1] != factors:
        raise ValueError(
            f"{key} has shape {array.shape} but factors={factors}: the column count must match"
        )


def _check_scalar_array(key, array):
    if array.shape != () or array.dtype.kind not in "biufU":
        raise ValueError(
            f"{key} must be a scalar number, bool or string to be saved without pickle, "
            f"got {array.dtype} array of shape {array.shape}"
        )


def npz_path(path):
    """``path`` as a str, with ".npz" appended when missing (what ``np.savez`` writes to)."""
    path = os.fsdecode(os.fspath(path))
    return path if path.endswith(".npz") else path + ".npz"


def _write_atomically(path, arrays):
    """``np.savez`` ``arrays`` into a temporary file next to ``path``, then rename it over.

    The temporary file is locked (``flock``) while it is written and renamed, so that a save
    killed midway (kill -9, power loss) leaves an unlocked ``.<name>.<hex>.tmp`` that the next
    save of the same target removes (``_remove_stale_temporaries``); a live save's file is
    locked and left alone. Without ``fcntl`` (Windows) nothing is swept.
    """
    target = os.path.realpath(path) if os.path.islink(path) else path
    directory, name = os.path.split(os.path.abspath(target))
    _remove_stale_temporaries(directory, name)
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    # 0o666 through os.open: the umask applies, as for a file np.savez creates
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            if fcntl is not None:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX)
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
            _copy_mode(target, tmp)
            if fcntl is not None:  # renamed while locked; Windows cannot rename an open file
                os.replace(tmp, target)
        if fcntl is None:
            os.replace(tmp, target)
    except BaseException:
        _remove_quietly(tmp)
        raise


STALE_AGE_S = 60  # younger temporaries are never swept: their writer may not hold its lock yet


def _remove_stale_temporaries(directory, name):
    """Remove ``.<name>.<12 hex>.tmp`` files in ``directory`` left by killed saves: those
    older than STALE_AGE_S whose lock can be taken (their writer is gone)."""
    if fcntl is None:
        return
    pattern = re.compile(rf"\.{re.escape(name)}\.[0-9a-f]{{12}}\.tmp")
    try:
        entries = [e for e in os.scandir(directory) if pattern.fullmatch(e.name)]
    except OSError:
        return
    now = time.time()
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or now - info.st_mtime < STALE_AGE_S:
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live save holds it
            os.close(fd)
            continue
        try:
            if os.path.samestat(os.fstat(fd), os.stat(entry.path, follow_symlinks=False)):
                os.remove(entry.path)
        except OSError:
            pass
        finally:
            os.close(fd)


def _copy_mode(existing, tmp):
    """Give ``tmp`` the permission bits of the file it replaces, if there is one."""
    try:
        mode = stat.S_IMODE(os.stat(existing).st_mode)
    except FileNotFoundError:
        return
    os.chmod(tmp, mode)


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


def load_model(cls: type[Model], path_or_file: PathOrFile) -> Model:
    """Read a model written by ``save_model`` or by implicit 0.7.3's ``save``.

    Parameters
    ----------
    cls : type
        The estimator class; called with the saved hyper-parameters as keywords (so they are
        validated as in the constructor).
    path_or_file : str, os.PathLike or readable binary file object
        As implicit's ``load``, a path without ".npz" means that path with ".npz" appended;
        when only the path as given exists, that file is read.

    Returns
    -------
    cls instance
        Hyper-parameters as Python int / float / bool / str values (``dtype`` a
        ``np.dtype``); ``user_factors`` / ``item_factors`` (None when not saved) as
        C-contiguous arrays of the saved ``dtype``: bit-identical when the file's arrays have
        that dtype (as implicit and fastals write them), cast to it otherwise.

    Raises
    ------
    FileNotFoundError
        No file at the path (nor at the path with ".npz").
    ValueError
        The file is not a readable model file (not an npz, truncated, corrupt), lacks
        required keys, holds a pickled object array (never unpickled), has a non-scalar
        hyper-parameter, or has factor arrays that are not 2-D with ``factors`` columns.
        Keys fastals does not know are ignored.
    """
    source = _resolve_load_path(path_or_file)
    name = _source_name(source)
    values = _read_source(source, name)
    tag = _scalar(values, "model", name)
    if tag != getattr(cls, "MODEL_TAG", None):
        held = tag or "AlternatingLeastSquares"
        raise ValueError(f"{name} holds an {held} model: load it with {held}.load")
    required = getattr(cls, "SAVED_KEYS", REQUIRED_KEYS)
    optional = getattr(cls, "OPTIONAL_SAVED_KEYS", OPTIONAL_SCALAR_KEYS)
    missing = [key for key in required if key not in values]
    if missing:
        raise ValueError(f"{name} is not a fastals/implicit ALS model file: missing keys {missing}")
    params = {key: _scalar(values, key, name) for key in required + optional if key in values}
    vectors = {key: _vector(values, key, name) for key in getattr(cls, "SAVED_VECTORS", ())}
    try:
        model = cls._from_saved(params, vectors) if hasattr(cls, "_from_saved") else cls(**params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: invalid hyper-parameter in model file: {exc}") from exc
    for key in FACTOR_KEYS:
        setattr(model, key, _factors(values, key, model, name))
    return model


def _source_name(path_or_file):
    if hasattr(path_or_file, "read"):
        return repr(getattr(path_or_file, "name", path_or_file))
    return repr(os.fsdecode(os.fspath(path_or_file)))


def _resolve_load_path(path_or_file):
    """The file object, or the path to open: "<path>.npz" first, as implicit's ``load``."""
    if hasattr(path_or_file, "read"):
        return path_or_file
    path = os.fsdecode(os.fspath(path_or_file))
    candidates = [path] if path.endswith(".npz") else [path + ".npz", path]
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    where = " or ".join(repr(c) for c in candidates)
    raise FileNotFoundError(errno.ENOENT, f"no model file at {where}", candidates[0])


def _read_source(source, name, keys=None):
    """``_read_npz`` of a file object, or of a path opened here (``_open_regular``; not by
    np.load, which leaks its handle when the zip is unreadable)."""
    if hasattr(source, "read"):
        return _read_npz(source, name, keys)
    with _open_regular(source, name) as file:
        return _read_npz(file, name, keys)


def _not_regular(name, mode):
    kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO, socket or device"
    return ValueError(f"{name} is {kind}, not a regular file: not read as a model")


def _open_regular(path, name):
    """``path`` opened for binary reading; ValueError unless it is a regular file.

    Opened without blocking, then checked on the open descriptor: a FIFO (which would block
    forever), a directory or a device is refused, also one swapped in after a check by name.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:  # a directory (EISDIR), a socket (ENXIO), a device
        try:
            mode = os.stat(path).st_mode
        except OSError:
            raise exc from None
        if stat.S_ISREG(mode):
            raise
        raise _not_regular(name, mode) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(name, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_npz(file, name, keys=None):
    """The members of the npz in the binary ``file`` (all, or those of ``keys`` it has) as a
    dict of arrays, read without pickle."""
    try:
        data = np.load(file, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single .npy array, not an npz archive")
        with data:
            wanted = data.files if keys is None else [k for k in keys if k in data.files]
            return {key: _read_member(data, key, name) for key in wanted}
    except _PickledArray as exc:
        raise ValueError(str(exc)) from None
    except _UNREADABLE as exc:
        raise ValueError(
            f"{name} is not a readable model file (expected an npz archive as written by "
            f"save_model or implicit's save; it may be truncated or corrupt): {_reason(exc)}"
        ) from exc


def _reason(exc):
    """What went wrong, without numpy's advice to unpickle a file that is not an npz."""
    if "pickle" in str(exc):
        return "it does not start with the zip signature of an npz archive"
    return f"{type(exc).__name__}: {exc}"


class _PickledArray(Exception):
    """A member is an object array; reported as ValueError without the generic wrapper."""


def _read_member(data, key, name):
    try:
        value = data[key]
    except MemoryError:
        raise ValueError(
            f"{name}: member {key!r} claims an array too large for this machine's memory"
        ) from None
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise _PickledArray(
                f"{name}: {key!r} holds a pickled object array; model files are read "
                "without pickle (allow_pickle=False) and fastals never unpickles"
            ) from exc
        raise
    if not isinstance(value, np.ndarray):
        raise ValueError(f"member {key!r} is not a .npy array")
    return value


def _scalar(values, key, name):
    """The 0-d array ``values[key]`` as a Python value; None when absent."""
    if key not in values:
        return None
    array = values[key]
    if array.shape != () or array.dtype.kind not in "biufU":
        raise ValueError(
            f"{name}: {key!r} must be a scalar, got {array.dtype} array of shape {array.shape}"
        )
    return array.item()


def _vector(values, key, name):
    """``values[key]`` as a 1-D finite float64 array; None when absent."""
    if key not in values:
        return None
    array = values[key]
    if array.ndim != 1 or array.dtype.kind not in "biuf" or not np.isfinite(array).all():
        raise ValueError(f"{name}: {key!r} must be a 1-D array of finite numbers")
    return array.astype(np.float64)


def _factors(values, key, model, name):
    """``values[key]`` checked against ``model.factors``, C-contiguous in ``model.dtype``."""
    if key not in values:
        return None
    array = values[key]
    try:
        check_factor_array(key, array, model.factors)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    return np.ascontiguousarray(array, dtype=model.dtype)
