"""The machine a benchmark ran on: CPU, cores, memory, OS, BLAS, versions and commit."""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import os
import platform
from pathlib import Path

import numpy as np

from . import REPO_ROOT


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


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
