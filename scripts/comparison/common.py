"""Settings shared by the comparison's parts, fit configs, and small helpers."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from harness import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "compare_implicit.py"
MAIN_BLOCK = "compare_implicit"
SCALING_BLOCK = "compare_implicit:scaling"  # kuairec; "...:scaling-power-law" for power-law
SCALING_INPUTS = ("kuairec", "power-law")
POWER_LAW_PER_USER = 100  # power-law scaling input: entries per user; users per item 10
BUSY_BLOCK = "compare_implicit:busy"
SOLVERS = ("cg", "cholesky")
KUAIREC = "kuairec_like"
DATASETS = (KUAIREC, "ml100k", "lastfm")
REGULARIZATION = 0.1
SEED = 0
TOPN = 10
METRICS = ("precision", "map", "ndcg", "auc")
# bytes per stored entry a fit may need at its peak in either library, with margin: the
# loaded CSR (8), fastals' confidences + reordered copy + transpose (~24) or implicit's
# transpose (8), the generator's working set in the parent before that
BYTES_PER_NNZ = 48


def config(solver, factors, threads, iterations, loss=False, save=None) -> dict:
    """One fit for a child process; its key is ``config_key(solver, factors, threads)``."""
    return dict(
        key=config_key(solver, factors, threads),
        solver=solver,
        factors=factors,
        threads=threads,
        iterations=iterations,
        loss=loss,
        save=save,
    )


def config_key(solver: str, factors: int, threads: int = 0) -> str:
    """``"cg-k64-t0"``: threads 0 means all cores (the main fits)."""
    return f"{solver}-k{factors}-t{threads}"


def harness_threads() -> int:
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


def log(message: str) -> None:
    print(f"[compare_implicit] {message}", file=sys.stderr, flush=True)
