"""Fits of one library in a fresh process: callback timings, losses and peak RSS per fit.

The parent writes a JSON spec and runs ``compare_implicit.py --child SPEC``; the child fits
every config of the spec and writes its results to the spec's ``out`` path. One process per
library keeps each library's memory its own.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from harness import memory
from harness.data import canonical
from harness.models import model_class

from .common import REGULARIZATION, SCRIPT, SEED


def child_main(spec_path: str) -> None:
    """Fit every config of the spec with one library; write timings, losses, memory."""
    spec = json.loads(Path(spec_path).read_text())
    warnings.simplefilter("ignore")
    from threadpoolctl import threadpool_limits

    library = spec["library"]
    cls = model_class(library)
    loaded, train = None, None
    out = {"library": library, "configs": {}}
    with threadpool_limits(limits=1, user_api="blas"):
        for cfg in spec["configs"]:
            path = cfg.get("matrix") or spec["matrix"]
            if path != loaded:
                loaded, train = path, None  # free the last matrix first
                train = canonical(sp.load_npz(path))
            out["configs"][cfg["key"]] = fit_once(cls, train, cfg, spec)
    Path(spec["out"]).write_text(json.dumps(out))


def fit_once(cls, train: sp.csr_matrix, cfg: dict, spec: dict) -> dict:
    """One warm-up fit on 100 rows, then the measured fit: callback times, losses, peak RSS."""
    from implicit.cpu._als import calculate_loss

    lam = spec["regularization"]
    params = dict(
        factors=cfg["factors"],
        regularization=lam,
        use_cg=cfg["solver"] == "cg",
        num_threads=cfg["threads"],
        random_state=spec["seed"],
        dtype=np.float32,
    )
    cls(**params, iterations=1).fit(train[: min(100, train.shape[0])], show_progress=False)
    model = cls(**params, iterations=cfg["iterations"])
    times, losses = [], []

    fit_peak = 0

    def callback(iteration, elapsed, loss):
        nonlocal fit_peak
        times.append(elapsed)
        if cfg["loss"]:  # after the library stopped its clock: outside the timed region
            # the loss is the benchmark's, not the fit's: keep its memory out of the peak
            fit_peak = max(fit_peak, memory.peak_rss())
            X, Y = model.user_factors, model.item_factors
            losses.append(float(calculate_loss(train, X, Y, lam, num_threads=0)))
            if reset:
                memory.reset_peak_rss()

    rss_before = memory.current_rss()
    reset = memory.reset_peak_rss()
    start = time.perf_counter()
    model.fit(train, show_progress=False, callback=callback)
    wall = time.perf_counter() - start
    peak = max(fit_peak, memory.peak_rss())
    if cfg.get("save"):
        np.savez(cfg["save"], user_factors=model.user_factors, item_factors=model.item_factors)
    return {
        "times": times,
        "losses": losses,
        "seconds": statistics.median(times),
        "fit_wall": wall,
        "rss_before": rss_before,
        "peak_rss": peak,
        "peak_reset": reset,
    }


def run_child(library: str, matrix_path: Path | None, configs: list[dict], workdir: Path) -> dict:
    """Run ``configs`` in a fresh process with ``library`` (a config's "matrix" overrides)."""
    tag = matrix_path.stem if matrix_path else "configs"
    spec = {
        "library": library,
        "matrix": str(matrix_path) if matrix_path else None,
        "configs": configs,
        "regularization": REGULARIZATION,
        "seed": SEED,
        "out": str(workdir / f"{tag}-{library}.json"),
    }
    spec_path = workdir / f"{tag}-{library}.spec.json"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--child", str(spec_path)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{library} child failed on {tag}:\n{proc.stderr[-4000:]}")
    return json.loads(Path(spec["out"]).read_text())
