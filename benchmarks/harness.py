"""Shared helpers for the benchmark suites and ``scripts/compare_implicit.py``.

Nothing here is timed. It holds:

- thin wrappers over fastals' data and evaluation code (``fastals.data`` loaders, matrix
  builder and BM25 weighting, ``fastals.evaluation``) returning canonical float32 CSR;
- the two libraries' model classes and BLAS scoping, and one ALS iteration without per-fit
  set-up (``AlsIteration``), for the per-iteration benchmarks;
- memory readings (current and peak RSS, with the peak reset between fits on Linux);
- the machine description, markdown tables and the generated-block writer for RESULTS.md.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib
import importlib.metadata
import os
import platform
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

LIBRARIES = ("fastals", "implicit")
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
if not DEFAULT_DATA_DIR.is_dir():  # a checkout beside shared/, or /work/shared
    DEFAULT_DATA_DIR = Path("/work/shared/data")

ML100K_FILE = Path("ml-100k") / "u.data"
LASTFM_FILE = Path("hetrec2011-lastfm-2k") / "user_artists.dat"


# ---------------------------------------------------------------- data and evaluation


def load_movielens(data_dir: Path):
    """MovieLens 100K ratings (``fastals.data.load_movielens``): user_id, item_id, rating, ..."""
    from fastals.data import load_movielens

    return load_movielens(Path(data_dir) / ML100K_FILE)


def load_lastfm(data_dir: Path):
    """HetRec Last.fm 2K play counts (``fastals.data.load_lastfm``): user_id, item_id, weight."""
    from fastals.data import load_lastfm

    return load_lastfm(Path(data_dir) / LASTFM_FILE)


def build_matrix(df, user_col: str = "user_id", item_col: str = "item_id", weight=None):
    """users x items canonical float32 CSR (``fastals.data.build_matrix``, id maps dropped)."""
    from fastals.data import build_matrix

    return canonical(build_matrix(df, user_col, item_col, weight=weight)[0])


def canonical(matrix) -> sp.csr_matrix:
    """CSR, float32 data, sorted indices, duplicates summed, explicit zeros dropped."""
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def bm25_weight(matrix: sp.csr_matrix, K1: float = 100, B: float = 0.8) -> sp.csr_matrix:
    """BM25 weighting of a users x items matrix (``fastals.data.bm25_weight``, implicit's)."""
    from fastals.data import bm25_weight

    return canonical(bm25_weight(matrix, K1=K1, B=B))


def evaluation_module(library: str = "fastals"):
    """``fastals.evaluation`` or ``implicit.evaluation`` (same functions, same signatures)."""
    name = "fastals.evaluation" if library == "fastals" else "implicit.evaluation"
    return importlib.import_module(name)


def train_test_split(ratings: sp.csr_matrix, train_percentage: float = 0.8, random_state=0):
    """(train, test) canonical CSR pair from ``fastals.evaluation.train_test_split``."""
    train, test = evaluation_module().train_test_split(
        ratings, train_percentage=train_percentage, random_state=random_state
    )
    return canonical(train), canonical(test)


def ranking_metrics(model, train, test, K: int = 10) -> dict[str, float]:
    """precision, map, ndcg, auc @K of ``model`` on held-out ``test`` (``train`` filtered)."""
    metrics = evaluation_module().ranking_metrics_at_k(model, train, test, K=K, show_progress=False)
    return {k: float(metrics[k]) for k in ("precision", "map", "ndcg", "auc")}


# ---------------------------------------------------------------- models


def model_class(library: str):
    """``AlternatingLeastSquares`` of fastals or of implicit's CPU build."""
    if library == "fastals":
        from fastals import AlternatingLeastSquares
    elif library == "implicit":
        from implicit.cpu.als import AlternatingLeastSquares
    else:
        raise ValueError(f"library must be one of {LIBRARIES}, got {library!r}")
    return AlternatingLeastSquares


def blas_scope(library: str):
    """implicit wants single-threaded BLAS (it warns otherwise); fastals scopes its own."""
    if library == "implicit":
        from threadpoolctl import threadpool_limits

        return threadpool_limits(limits=1, user_api="blas")
    return contextlib.nullcontext()


def random_factors(shape, factors: int = 50):
    """Seeded float32 standard-normal (user, item) factors for a (users, items) ``shape``,
    the factors both libraries serve in the serving benchmarks."""
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((shape[0], factors)).astype(np.float32),
        rng.standard_normal((shape[1], factors)).astype(np.float32),
    )


def model_with_factors(library: str, user_factors: np.ndarray, item_factors: np.ndarray):
    """A model of ``library`` serving the given factors (as if fitted)."""
    with blas_scope(library):  # implicit checks the BLAS threads when it is constructed
        model = model_class(library)(factors=user_factors.shape[1], dtype=user_factors.dtype)
    model.user_factors = np.ascontiguousarray(user_factors)
    model.item_factors = np.ascontiguousarray(item_factors)
    return model


class AlsIteration:
    """One ALS iteration (users half-sweep, then items) with the per-fit set-up done already.

    What ``fit`` does once (validation, confidences, transpose; fastals' row reordering) runs
    in ``__init__``; ``run()`` is what both libraries time per iteration in their callbacks.
    fastals runs under its own thread scope (Numba threads, BLAS at 1); implicit's kernels get
    ``num_threads`` directly. ``run`` updates the factors in place (a warm start, as in fit).
    """

    def __init__(
        self,
        library: str,
        user_items: sp.csr_matrix,
        factors: int,
        solver: str,
        regularization: float = 0.1,
        num_threads: int = 0,
        seed: int = 0,
    ):
        self.library = library
        model = model_class(library)(
            factors=factors,
            regularization=regularization,
            use_cg=solver == "cg",
            num_threads=num_threads,
            random_state=seed,
            iterations=1,
            dtype=np.float32,
        )
        rng = np.random.default_rng(seed)
        n_users, n_items = user_items.shape
        self.X = rng.random((n_users, factors), dtype=np.float32) * 0.01
        self.Y = rng.random((n_items, factors), dtype=np.float32) * 0.01
        if library == "fastals":
            from fastals import solvers
            from fastals._threads import thread_scope

            users = solvers.SweepMatrix(canonical(user_items))
            items = users.transpose()
            kwargs = dict(regularization=regularization, solver=solver, cg_steps=model.cg_steps)

            def run():
                with thread_scope(num_threads):
                    solvers.half_sweep(users, self.X, self.Y, **kwargs)
                    solvers.half_sweep(items, self.Y, self.X, **kwargs)

        else:
            Cui = canonical(user_items)
            Ciu = Cui.T.tocsr()
            solve = model.solver

            def run():
                with blas_scope("implicit"):
                    solve(Cui, self.X, self.Y, regularization, num_threads=num_threads)
                    solve(Ciu, self.Y, self.X, regularization, num_threads=num_threads)

        self.run = run


def topn_overlap(ids_a: np.ndarray, ids_b: np.ndarray) -> float:
    """Mean over rows of |top-N(a) & top-N(b)| / N (ids < 0 are padding and never match)."""
    ids_a, ids_b = np.atleast_2d(ids_a), np.atleast_2d(ids_b)
    if ids_a.shape != ids_b.shape or ids_a.size == 0:
        raise ValueError(f"need two non-empty id arrays of one shape: {ids_a.shape}, {ids_b.shape}")
    same = (ids_a[:, :, None] == ids_b[:, None, :]) & (ids_a[:, :, None] >= 0)
    return float(same.any(axis=2).sum(axis=1).mean() / ids_a.shape[1])


# ---------------------------------------------------------------- memory


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def current_rss() -> int:
    """Resident set size of this process now, bytes (0 where /proc is missing)."""
    kib = _status_kib("VmRSS")
    return 0 if kib is None else kib * 1024


def peak_rss() -> int:
    """Peak resident set size of this process (since start or the last reset), bytes."""
    kib = _status_kib("VmHWM")
    if kib is None:
        import resource

        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib * 1024


def reset_peak_rss() -> bool:
    """Reset the peak RSS to the current RSS (Linux >= 4.0); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def mem_available() -> int | None:
    """MemAvailable of the machine, bytes (None where /proc/meminfo is missing)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# ---------------------------------------------------------------- machine


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_description() -> str:
    """CPU model and the vector ISA flags that matter here."""
    model, flags = platform.processor() or platform.machine(), set()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name") and model in ("", platform.machine(), "x86_64"):
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    isa = [f for f in ("avx2", "fma", "avx512f") if f in flags]
    return f"{model}" + (f" ({', '.join(isa)})" if isa else "")


def fastals_revision() -> str:
    """The checkout's commit, marked "+ local changes" when fastals/ differs from it."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "fastals")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return commit + (" + local changes" if dirty else "")


def machine_info() -> dict[str, str]:
    """CPU, cores, memory, OS, BLAS and library versions of this machine."""
    import numba
    from threadpoolctl import threadpool_info

    import fastals

    with contextlib.suppress(ImportError):
        import scipy.linalg  # noqa: F401  (loads scipy's BLAS so threadpoolctl sees it)
    blas = sorted(
        {
            f"{i.get('internal_api')} {i.get('version')} "
            f"({Path(i.get('filepath', '')).parent.name})"
            for i in threadpool_info()
            if i.get("user_api") == "blas"
        }
    )
    total = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/meminfo") as meminfo:
            total = int(meminfo.readline().split()[1]) * 1024
    return {
        "cpu": cpu_description(),
        "cores": str(os.cpu_count()),
        "numba threads": str(numba.config.NUMBA_NUM_THREADS),
        "memory": f"{total / 2**30:.1f} GiB" if total else "unknown",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "fastals": f"{fastals.__version__} (commit {fastals_revision()})",
        "implicit": _version("implicit"),
        "numpy": np.__version__,
        "scipy": _version("scipy"),
        "numba": numba.__version__,
        "blas": "; ".join(blas) or "unknown",
    }


def machine_markdown(info: dict[str, str]) -> str:
    rows = [[k, v] for k, v in info.items()]
    return md_table(["machine", ""], rows)


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------- markdown


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; every row padded or checked to the header's width."""
    width = len(headers)
    lines = ["| " + " | ".join(map(_cell, headers)) + " |", "|" + "---|" * width]
    for row in rows:
        if len(row) != width:
            raise ValueError(f"row has {len(row)} cells, header has {width}: {row}")
        lines.append("| " + " | ".join(map(_cell, row)) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markers(name: str) -> tuple[str, str]:
    """The begin/end comments around the generated block ``name``."""
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def write_block(path: Path, name: str, body: str) -> None:
    """Put ``body`` between the ``name`` markers of ``path``, leaving the rest untouched.

    The block is replaced where both markers exist, appended (after a blank line) where
    neither does, and a file holding only one of them is refused (ValueError) rather than
    guessed at. The file is replaced atomically.
    """
    begin, end = markers(name)
    block = f"{begin}\n{body.strip()}\n{end}\n"
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    has_begin, has_end = text.count(begin), text.count(end)
    if (has_begin, has_end) == (1, 1) and text.index(begin) < text.index(end):
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        new = head + block.rstrip("\n") + tail
        if not new.endswith("\n"):
            new += "\n"
    elif has_begin == has_end == 0:
        new = (text.rstrip("\n") + "\n\n" if text.strip() else "") + block
    else:
        raise ValueError(f"{path}: malformed {name} markers ({has_begin} begin, {has_end} end)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new)
    os.replace(tmp, path)


def read_block(path: Path, name: str) -> str | None:
    """The text between the ``name`` markers of ``path`` (None when absent)."""
    begin, end = markers(name)
    text = Path(path).read_text() if Path(path).exists() else ""
    match = re.search(re.escape(begin) + r"\n(.*?)" + re.escape(end), text, flags=re.S)
    return match.group(1) if match else None


def fmt_seconds(s: float | None) -> str:
    if s is None or not np.isfinite(s):
        return "-"
    return f"{s:.3f} s" if s >= 0.01 else f"{s * 1e3:.2f} ms"


def fmt_bytes(b: float | None) -> str:
    if b is None:
        return "-"
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


def timed(benchmark, fit_means, library, group, extra, call, rounds=5):
    """Time ``call`` with pytest-benchmark after one untimed warm-up (JIT compile, caches),
    implicit under 1 BLAS thread; record the mean for the fastals/implicit summary."""
    benchmark.group = group
    benchmark.extra_info.update(library=library, **extra)
    with blas_scope(library):
        call()
        result = benchmark.pedantic(call, rounds=rounds)
    if benchmark.stats is not None:
        fit_means.setdefault(group, {})[library] = benchmark.stats.stats.mean
    return result
