"""The main comparison: both libraries fit every dataset (and the sweeps on the first one),
then their factors are scored on the held-out split."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from harness import data, machine
from harness.models import LIBRARIES, blas_scope, model_with_factors

from .child import run_child
from .common import SEED, SOLVERS, TOPN, config, harness_threads, load_average, log
from .inputs import prepare
from .report import write_main


def main_comparison(args, out: Path, command: str) -> dict:
    plots_dir = out / "plots"
    cores = harness_threads()
    results = {
        "command": command,
        "machine": machine.machine_info(),
        "datasets": {},
        "sweeps": {},
        "generated": machine.now_utc(),
        "load_start": load_average(),
        "args": vars(args),
    }
    sweep_dataset = None
    with tempfile.TemporaryDirectory(prefix="compare_implicit-") as tmp:
        workdir = Path(tmp)
        for name in args.datasets:
            t0 = time.perf_counter()
            matrix, description = prepare(name, args)
            entry = {"description": description}
            results["datasets"][name] = entry
            if matrix is None:
                log(f"{name}: {description}")
                continue
            train, test = data.train_test_split(matrix, 0.8, random_state=SEED)
            entry.update(
                shape=list(matrix.shape),
                nnz=int(matrix.nnz),
                train_nnz=int(train.nnz),
                test_nnz=int(test.nnz),
                prepare_s=time.perf_counter() - t0,
            )
            path = workdir / f"{name}.npz"
            sp.save_npz(path, train, compressed=False)
            sweeping = sweep_dataset is None
            sweep_dataset = sweep_dataset or name
            runs = {}
            for library in LIBRARIES:
                configs = [
                    config(
                        s,
                        args.factors,
                        0,
                        args.iterations,
                        loss=True,
                        save=str(workdir / f"{name}-{library}-{s}.npz"),
                    )
                    for s in SOLVERS
                ]
                if sweeping:
                    configs += sweep_configs(args, cores)
                log(f"{name}: {library} ({len(configs)} fits) ...")
                runs[library] = run_child(library, path, configs, workdir)["configs"]
            entry["runs"] = runs
            entry["quality"] = quality(name, train, test, workdir)
            if sweeping:
                results["sweeps"] = {"dataset": name, "runs": runs, "cores": cores}
    results["load_end"] = load_average()
    write_main(results, args, out, plots_dir, command)
    return results


def sweep_configs(args, cores: int) -> list[dict]:
    configs = []
    for solver in SOLVERS:
        for k in args.sweep_factors:
            if k != args.factors:
                configs.append(config(solver, k, 0, args.sweep_iterations))
        for t in args.threads:
            if t < cores:
                configs.append(config(solver, args.factors, t, args.sweep_iterations))
    return configs


def quality(name, train, test, workdir: Path) -> dict:
    """Ranking metrics of each library's factors and the top-10 overlap, per solver."""
    out = {}
    users = np.arange(train.shape[0])
    n = min(TOPN, train.shape[1])
    for solver in SOLVERS:
        models, ids = {}, {}
        for library in LIBRARIES:
            with np.load(workdir / f"{name}-{library}-{solver}.npz") as f:
                models[library] = model_with_factors(library, f["user_factors"], f["item_factors"])
            with blas_scope(library):
                ids[library] = models[library].recommend(users, train, N=n)[0]
        out[solver] = {
            "metrics": {
                lib: data.ranking_metrics(models[lib], train, test, K=TOPN) for lib in LIBRARIES
            },
            "overlap": data.topn_overlap(ids["fastals"], ids["implicit"]),
            "users": int(len(users)),
        }
    return out
