"""The 64-wide comparison masks: the LLVM vector IR, the loops, and the dispatch between them
(``simd.mask_above``: the IR where the switch is on and the arrays suit it) give the same bits."""

from fractions import Fraction

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastals._kernels.simd import masks, switch
from fastals._kernels.simd.masks import WIDTH

KINDS = ["ir", "loops", "dispatch"]


@numba.njit
def _mask_ir(values, base, threshold):
    return masks.mask_above_ir(values, base, threshold)


@numba.njit
def _mask_loops(values, base, threshold):
    return masks.mask_above_loops(values, base, base + WIDTH, threshold)


@numba.njit
def _mask_dispatch(values, base, threshold):
    return masks.mask_above(values, base, threshold)


@numba.njit
def _mask_fma_ir(values, factors, base, scale, offset):
    return masks.mask_above_fma_ir(values, factors, base, scale, offset)


@numba.njit
def _mask_fma_loops(values, factors, base, scale, offset):
    return masks.mask_above_fma_loops(values, factors, base, scale, offset)


@numba.njit
def _mask_fma_dispatch(values, factors, base, scale, offset):
    return masks.mask_above_fma(values, factors, base, scale, offset)


MASK = {"ir": _mask_ir, "loops": _mask_loops, "dispatch": _mask_dispatch}
MASK_FMA = {"ir": _mask_fma_ir, "loops": _mask_fma_loops, "dispatch": _mask_fma_dispatch}


@pytest.fixture(params=KINDS)
def kind(request):
    if request.param == "ir" and not switch.ENABLED:
        pytest.skip("FASTALS_SIMD=0: the IR does not compile")
    return request.param


def _bits(mask):
    return [bool((int(mask) >> t) & 1) for t in range(WIDTH)]


def _special_values(rng, dtype, n):
    x = rng.standard_normal(n).astype(dtype)
    x[rng.choice(n, 12, replace=False)] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0] * 2
    x[rng.choice(n, 4, replace=False)] = np.finfo(dtype).tiny / 4  # subnormal
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("base", [0, 7, 136])
def test_mask_above_is_the_loop(kind, dtype, base):
    rng = np.random.default_rng(base)
    values = _special_values(rng, dtype, 200)
    for threshold in (0.0, 0.5, -1.0, np.nan, np.inf, -np.inf, values[base + 3]):
        threshold = dtype(threshold)
        expected = [not values[base + t] <= threshold for t in range(WIDTH)]
        assert _bits(MASK[kind](values, base, threshold)) == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mask_above_fma_exact_cases_are_the_loop(kind, dtype):
    """scale 1, offset 0: the threshold is factors[t] itself, no rounding at all."""
    rng = np.random.default_rng(0)
    values = _special_values(rng, dtype, 128)
    factors = values.copy()
    factors[::3] = _special_values(rng, dtype, 128)[::3]
    for base in (0, 64):
        expected = [not values[base + t] <= factors[base + t] for t in range(WIDTH)]
        assert _bits(MASK_FMA[kind](values, factors, base, dtype(1), dtype(0))) == expected


def _nearest_float32(x: Fraction) -> np.float32:
    """x rounded once to float32, ties to even (np.float32(float(x)) rounds twice)."""
    low = np.float32(float(x))
    if Fraction(float(low)) > x:
        low = np.nextafter(low, np.float32(-np.inf))
    high = np.nextafter(low, np.float32(np.inf))
    below, above = x - Fraction(float(low)), Fraction(float(high)) - x
    if below != above:
        return low if below < above else high
    return low if low.view(np.int32) % 2 == 0 else high


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-3, 1e3),
    offset=st.sampled_from([0.0, float(np.finfo(np.float32).tiny), 1e-3]),
)
def test_mask_above_fma_rounds_once(kind, seed, scale, offset):
    """Bit t is the exact test values[t] > factors[t] * scale - offset, except where the
    exact threshold rounds onto or past values[t] (one rounding: a fused multiply-add)."""
    if kind == "ir" and not switch.ENABLED:
        pytest.skip("FASTALS_SIMD=0: the IR does not compile")
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(WIDTH).astype(np.float32)
    factors = rng.standard_normal(WIDTH).astype(np.float32)
    values[::5] = factors[::5] * np.float32(scale)  # near-ties on purpose
    scale, offset = np.float32(scale), np.float32(offset)
    bits = _bits(MASK_FMA[kind](values, factors, 0, scale, offset))
    for t in range(WIDTH):
        exact = Fraction(float(factors[t])) * Fraction(float(scale)) - Fraction(float(offset))
        rounded = _nearest_float32(exact)  # one rounding, as the fma does
        assert bits[t] == (values[t] > rounded), (t, values[t], exact)


@pytest.mark.skipif(not switch.ENABLED, reason="FASTALS_SIMD=0: the IR does not compile")
def test_ir_refuses_strided_arrays_and_the_dispatch_takes_the_loops():
    values = np.arange(256, dtype=np.float32)[::2]
    with pytest.raises((TypeError, numba.core.errors.TypingError), match="C-contiguous"):
        _mask_ir(values, 0, np.float32(0))
    assert _bits(_mask_dispatch(values, 1, np.float32(100))) == [
        2 * (1 + t) > 100 for t in range(WIDTH)
    ]
