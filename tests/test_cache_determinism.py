"""The same script gives the same bits whether Numba's cache was cold or warm.

A fresh ``NUMBA_CACHE_DIR`` makes the first child process compile every kernel; the second
loads them from that cache. Fits (CG and Cholesky, with the loss) and serving (recommend,
similar_items over all items) must agree bit for bit. Before the kernels ran on Python
threads with their helpers inlined (``fastals._threads``), CG factors differed by up to 1e-3
here and top-10 lists changed.
"""

import os
import subprocess
import sys

import numpy as np

CHILD = r"""
import sys
import numpy as np
import scipy.sparse as sp
from fastals import AlternatingLeastSquares

rng = np.random.default_rng(7)
n_users, n_items = 1000, 4000
nnz = 50000
users = rng.integers(0, n_users, nnz)
items = np.minimum(rng.zipf(1.2, nnz) - 1, n_items - 1)
values = np.log1p(rng.integers(1, 500, nnz)).astype(np.float32)  # weights != 1
matrix = sp.csr_matrix((values, (users, items)), shape=(n_users, n_items))
out = {}
for solver in ("cg", "cholesky"):
    model = AlternatingLeastSquares(
        factors=64, iterations=6, random_state=0, use_cg=solver == "cg",
        calculate_training_loss=True,
    )
    model.fit(matrix, show_progress=False)
    ids, scores = model.recommend(np.arange(n_users), matrix, N=10)
    similar, similarity = model.similar_items(np.arange(n_items), N=10)
    out.update({
        f"{solver}_user_factors": model.user_factors,
        f"{solver}_item_factors": model.item_factors,
        f"{solver}_loss": np.array(model.loss_history),
        f"{solver}_ids": ids, f"{solver}_scores": scores,
        f"{solver}_similar": similar, f"{solver}_similarity": similarity,
    })
np.savez(sys.argv[1], **out)
"""


def run_child(cache_dir, out):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(out)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(out) as data:
        return {key: data[key] for key in data.files}


def test_cold_and_warm_cache_give_identical_bits(tmp_path):
    cache = tmp_path / "numba_cache"
    cold = run_child(cache, tmp_path / "cold.npz")
    assert any(cache.rglob("*.nbi")), "the first run wrote no cache: the test would be vacuous"
    warm = run_child(cache, tmp_path / "warm.npz")
    differing = [key for key in cold if not np.array_equal(cold[key], warm[key])]
    assert not differing, f"cold and warm cache runs differ in {differing}"
