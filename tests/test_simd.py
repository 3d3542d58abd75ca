"""The SIMD layer's one switch (``FASTALS_SIMD``, ``fastals._kernels.simd``).

Off, no IR kernel compiles (``switch.ir_kernel`` refuses) and the answers are the loops':
serving bit for bit (the tile adds as the loops do, the masks are exact comparisons), fits
to float32 rounding (the gathered rows sum in another order). Each child process gets a
fresh Numba cache, so every kernel is compiled, not loaded, under its setting.
"""

import os
import subprocess
import sys

import numba
import numpy as np
import pytest

from fastals._kernels.rows import weighted_pass
from fastals._kernels.simd import add_outer_products, masks, outer_scratch, switch
from fastals._kernels.simd.masks import WIDTH
from fastals.recommend import top_k, top_k_pairs

HERE = os.path.dirname(os.path.abspath(__file__))


@numba.njit
def _outer(indices, data, Y, A):
    add_outer_products(indices, data, 0, indices.shape[0], Y, A, A.dtype.type(1),
                       outer_scratch(A.shape[0], A))  # fmt: skip


def answers():
    """The weighted pass of an all-weighted row (the gathered rows), a row's outer products
    (the Cholesky tiles), many-query top-k (the scoring tile, the masks) and all-pairs top-k
    (the fused-threshold masks)."""
    rng = np.random.default_rng(5)
    Y = rng.standard_normal((700, 48)).astype(np.float32)
    indices = rng.integers(0, 700, 61).astype(np.int32)
    data = rng.uniform(0.5, 5, 61).astype(np.float32)
    v = rng.standard_normal(48).astype(np.float32)
    out = np.zeros(48, np.float32)
    one = np.float32(1)
    weighted_pass(indices, data, 0, 61, Y, v, out, -one, True, one)
    outer = np.eye(48, dtype=np.float32)
    _outer(indices, data, Y, outer)
    Y[350:420] = Y[:70]  # duplicated rows: tied scores
    norms = np.linalg.norm(Y, axis=1).astype(np.float32)
    top = top_k(Y[:300], Y, 7)
    pairs = top_k_pairs(Y, 7, norms=norms)
    return {
        "enabled": np.array(switch.ENABLED),
        "weighted_pass": out,
        "outer": np.tril(outer),
        "top_ids": top[0],
        "top_scores": top[1],
        "pair_ids": pairs[0],
        "pair_scores": pairs[1],
    }


CHILD = f"""
import sys
import numpy as np
sys.path.insert(0, {HERE!r})
from test_simd import answers
np.savez(sys.argv[1], **answers())
"""


def run(code, tmp_path, *args, **env):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), **env)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.skipif(not switch.ENABLED, reason="already off: this whole run is switched off")
def test_switched_off_no_ir_compiles_and_answers_are_the_loops(tmp_path):
    run(CHILD, tmp_path, str(tmp_path / "off.npz"), FASTALS_SIMD="0")
    with np.load(tmp_path / "off.npz") as data:
        off = {key: data[key] for key in data.files}
    on = answers()
    assert not off["enabled"]
    for key in ("top_ids", "top_scores", "pair_ids", "pair_scores"):
        np.testing.assert_array_equal(off[key], on[key], err_msg=key)
    np.testing.assert_allclose(off["weighted_pass"], on["weighted_pass"], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(off["outer"], on["outer"], rtol=1e-5, atol=1e-3)


ASM = """
import numpy as np
from numba import typeof
from fastals._kernels import simd
from fastals._kernels.rows import weighted_pass
from fastals._kernels.topk import _score_block
f32 = np.float32
Y, v, idx, data = np.ones((9, 48), f32), np.ones(48, f32), np.zeros(9, np.int32), np.ones(9, f32)
kernels = {
    "weighted_pass": (weighted_pass, (idx, data, 0, 9, Y, v, v, f32(1), True, f32(1))),
    "score_block": (_score_block, (Y, Y.T.copy(), simd.panels(Y.T.copy()), 0, 9, 0, 9, 64, Y)),
}
print("wide" if simd.WIDE else "narrow")
for name, (kernel, args) in kernels.items():
    signature = tuple(typeof(a) for a in args)
    kernel.compile(signature)  # compiled, never run: this machine may lack AVX-512
    print(name, "zmm" in kernel.inspect_asm(signature))
"""


@pytest.mark.parametrize("setting", ["1", "0"])
def test_512_bit_ir_compiles_for_an_avx512_cpu_and_only_with_the_switch_on(tmp_path, setting):
    """Compiled for Skylake-AVX512 (not run): the tile and the gathered rows use 512-bit
    registers, which Numba's own loops do not (LLVM prefers 256 bits there); off, none."""
    out = run(
        ASM,
        tmp_path,
        FASTALS_SIMD=setting,
        NUMBA_CPU_NAME="skylake-avx512",
        NUMBA_CPU_FEATURES="+avx512f,+avx512dq,+avx512bw,+avx512vl,+avx512cd",
    )
    on = setting == "1"
    assert out.split() == ["wide" if on else "narrow", "weighted_pass", str(on)] + [
        "score_block",
        str(on),
    ]


@numba.njit
def _mask_ir_float64_c(values, base, threshold):
    return masks.mask_above_ir(values, base, threshold)


def test_ir_kernels_refuse_to_compile_with_the_switch_off(monkeypatch):
    monkeypatch.setattr(switch, "ENABLED", False)
    values = np.zeros(2 * WIDTH, np.float64)
    with pytest.raises((TypeError, numba.core.errors.TypingError), match="FASTALS_SIMD=0"):
        _mask_ir_float64_c(values, np.int16(0), np.float64(0))


@pytest.mark.parametrize(
    "value, setting", [(None, "1"), ("", "1"), ("1", "1"), (" 0 ", "0"), ("force", "force")]
)
def test_the_switch_reads_0_1_and_force(value, setting):
    assert switch._read_switch(value) == setting


def test_the_switch_refuses_other_values():
    with pytest.raises(ValueError, match="FASTALS_SIMD"):
        switch._read_switch("off")
