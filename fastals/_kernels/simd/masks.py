"""Bit masks of 64 comparisons at once: which candidates of a block could enter a heap.

Selection (``select.py``, ``pairs.py``) tests candidates 64 at a time and visits only the set
bits of a block's mask. A mask is what this loop computes::

    mask = 0
    for t in range(64):
        mask |= (not values[base + t] <= threshold) << t

Written so in Numba, LLVM builds the integer lane by lane (a shift and an or per lane, ~50
instructions a block, where a separate "any?" test first cost another ~35). The IR kernels
below are the same comparisons written as LLVM vector IR: 64 values are loaded as one
vector and compared into a vector of 64 booleans, and that vector *is* the 64-bit mask (a
bitcast). On AVX-512 that is four loads, four compares and three mask merges (on AVX2,
LLVM lowers the same IR to 256-bit vectors).

Replacement kind (see ``simd``): callers use ``mask_above`` / ``mask_above_fma``, which
compile to the IR where the switch is on and the arrays suit it, else to the loops
``mask_above_loops`` / ``mask_above_fma_loops``; the two give the same bits (the tests check).

All read ``values[base:base + 64]`` (and ``factors[base:base + 64]``) unchecked: callers
pass full blocks only. The arrays are 1-D, C-contiguous, float32 or float64 (both the same).
``not x <= t`` is LLVM's unordered "greater than": a NaN on either side sets the bit.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import overload

from .._jit import EXACT_DIVISION, jit
from ..fma import fma
from .ir import element_pointer, fma_function, load, splat
from .switch import ENABLED, FLOATS, ir_kernel, require, suits

WIDTH = 64  # bits of a mask: candidates per block


def _check_block_arrays(*arrays):
    require(
        suits(arrays, 1, FLOATS),
        "masks need 1-D C-contiguous float arrays of one dtype",
        *arrays,
    )
    return arrays[0].dtype


def _load_block(context, builder, array_type, array, base):
    """values[base:base + 64] as one <64 x float> (unaligned load)."""
    vector = ir.VectorType(context.get_value_type(array_type.dtype), WIDTH)
    pointer = element_pointer(context, builder, array_type, array, base)
    return load(builder, pointer, vector, align=1), vector


def _splat(context, builder, value, from_type, dtype, vector):
    return splat(builder, context.cast(builder, value, from_type, dtype), vector)


def _to_mask(builder, above):
    return builder.bitcast(above, ir.IntType(WIDTH))


@ir_kernel
def mask_above_ir(typingctx, values, base, threshold):
    """uint64, bit t set when not values[base + t] <= threshold, t = 0..63."""
    dtype = _check_block_arrays(values)
    sig = types.uint64(values, base, threshold)

    def codegen(context, builder, signature, args):
        x, vector = _load_block(context, builder, signature.args[0], args[0], args[1])
        t = _splat(context, builder, args[2], signature.args[2], dtype, vector)
        return _to_mask(builder, builder.fcmp_unordered(">", x, t))

    return sig, codegen


@ir_kernel
def mask_above_fma_ir(typingctx, values, factors, base, scale, offset):
    """uint64, bit t set when not values[base + t] <= factors[base + t] * scale - offset.

    The threshold is one fused multiply-add (one rounding), t = 0..63.
    """
    dtype = _check_block_arrays(values, factors)
    sig = types.uint64(values, factors, base, scale, offset)

    def codegen(context, builder, signature, args):
        x, vector = _load_block(context, builder, signature.args[0], args[0], args[2])
        y, _ = _load_block(context, builder, signature.args[1], args[1], args[2])
        s = _splat(context, builder, args[3], signature.args[3], dtype, vector)
        o = _splat(context, builder, args[4], signature.args[4], dtype, vector)
        threshold = builder.call(fma_function(builder, vector), [y, s, builder.fneg(o)])
        return _to_mask(builder, builder.fcmp_unordered(">", x, threshold))

    return sig, codegen


@jit(fastmath=EXACT_DIVISION)
def mask_above_loops(values, lo, hi, threshold):
    """Bit t set when not values[lo + t] <= threshold, for t < hi - lo <= 64, as a loop.

    Also the whole of a block shorter than 64 (the last of a row: ``select.offer_range``).
    """
    threshold = values.dtype.type(threshold)
    mask = np.uint64(0)
    for t in range(np.uint64(0), np.uint64(hi - lo)):
        mask |= np.uint64(not values[np.uint64(lo) + t] <= threshold) << t
    return mask


@jit(fastmath=EXACT_DIVISION)
def mask_above_fma_loops(values, factors, base, scale, offset):
    """``mask_above_fma_ir`` as a loop: the same thresholds (one rounding each), the same bits."""
    scale = values.dtype.type(scale)
    offset = values.dtype.type(offset)
    mask = np.uint64(0)
    for t in range(np.uint64(0), np.uint64(WIDTH)):
        c = np.uint64(base) + t
        mask |= np.uint64(not values[c] <= fma(factors[c], scale, -offset)) << t
    return mask


def mask_above(values, base, threshold):
    """uint64, bit t set when not values[base + t] <= threshold, t = 0..63 (compiled only)."""
    raise NotImplementedError("compiled only: call from a Numba function")


def mask_above_fma(values, factors, base, scale, offset):
    """uint64, bit t set when not values[base + t] <= factors[base + t] * scale - offset
    (rounded once), t = 0..63 (compiled only)."""
    raise NotImplementedError("compiled only: call from a Numba function")


@overload(mask_above, inline="always")
def _mask_above(values, base, threshold):
    if ENABLED and suits((values,), 1, FLOATS):
        return lambda values, base, threshold: mask_above_ir(values, base, threshold)
    return lambda values, base, threshold: mask_above_loops(values, base, base + WIDTH, threshold)


@overload(mask_above_fma, inline="always")
def _mask_above_fma(values, factors, base, scale, offset):
    if ENABLED and suits((values, factors), 1, FLOATS):
        return lambda values, factors, base, scale, offset: mask_above_fma_ir(
            values, factors, base, scale, offset
        )
    return lambda values, factors, base, scale, offset: mask_above_fma_loops(
        values, factors, base, scale, offset
    )
