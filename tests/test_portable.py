"""Serving compiled for a CPU without AVX-512 (NUMBA_CPU_NAME=haswell) gives the same answers.

The AVX-512 register tile (``_kernels/simd/tile.py``) is then off and the 64-wide masks
(``_kernels/simd/masks.py``) lower to 256-bit vectors; results must not change. (CI also runs
the whole suite so: ``.ci/run``.)
"""

import json
import os
import subprocess
import sys

import numpy as np

from fastals.recommend import top_k, top_k_pairs

SCRIPT = """
import json, sys
import numpy as np
from fastals._kernels import simd
from fastals.recommend import top_k, top_k_pairs
Y = np.random.default_rng(3).standard_normal((700, 20)).astype(np.float32)
Y[350:420] = Y[:70]  # duplicated rows: tied scores
norms = np.linalg.norm(Y, axis=1).astype(np.float32)
pairs = top_k_pairs(Y, 7, norms=norms)
plain = top_k(Y[:90], Y, 7)
json.dump({"wide": simd.WIDE, "pairs": [a.tolist() for a in pairs],
           "plain": [a.tolist() for a in plain]}, sys.stdout)
"""


def _inputs():
    Y = np.random.default_rng(3).standard_normal((700, 20)).astype(np.float32)
    Y[350:420] = Y[:70]
    return Y, np.linalg.norm(Y, axis=1).astype(np.float32)


def test_serving_without_avx512_gives_the_same_answers(tmp_path):
    env = dict(os.environ, NUMBA_CPU_NAME="haswell", NUMBA_CACHE_DIR=str(tmp_path))
    env.pop("NUMBA_CPU_FEATURES", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    there = json.loads(done.stdout)
    assert there["wide"] is False
    Y, norms = _inputs()
    for name, (ids, scores) in {
        "pairs": top_k_pairs(Y, 7, norms=norms),
        "plain": top_k(Y[:90], Y, 7),
    }.items():
        np.testing.assert_array_equal(np.array(there[name][0]), ids, err_msg=name)
        np.testing.assert_allclose(np.array(there[name][1]), scores, rtol=1e-6, err_msg=name)
