"""Bit masks of 64 comparisons at once: which candidates of a block could enter a heap.

Selection (``select.py``, ``pairs.py``) tests candidates 64 at a time and visits only the set
bits of a block's mask. A mask is what this loop computes::

    mask = 0
    for t in range(64):
        mask |= (not values[base + t] <= threshold) << t

Written so in Numba, LLVM builds the integer lane by lane (a shift and an or per lane, ~50
instructions a block, where a separate "any?" test first cost another ~35). The intrinsics
below are the same comparisons written as LLVM vector IR: 64 values are loaded as one
vector and compared into a vector of 64 booleans, and that vector *is* the 64-bit mask (a
bitcast). On AVX-512 that is four loads, four compares and three mask merges. The tests
check both against the loop.

Both read ``values[base:base + 64]`` (and ``factors[base:base + 64]``) unchecked: callers
pass full blocks only. The arrays are 1-D, C-contiguous, float32 or float64 (both the same).
``not x <= t`` is LLVM's unordered "greater than": a NaN on either side sets the bit.
"""

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ._ir import element_pointer, fma_function, is_c_array, load, splat

WIDTH = 64  # bits of a mask: candidates per block


def _check_block_arrays(*arrays):
    dtype = arrays[0].dtype
    for array in arrays:
        if not (is_c_array(array, 1, dtype) and dtype in (types.float32, types.float64)):
            raise TypeError(f"masks need 1-D C-contiguous float arrays of one dtype, got {array}")
    return dtype


def _load_block(context, builder, array_type, array, base):
    """values[base:base + 64] as one <64 x float> (unaligned load)."""
    vector = ir.VectorType(context.get_value_type(array_type.dtype), WIDTH)
    pointer = element_pointer(context, builder, array_type, array, base)
    return load(builder, pointer, vector, align=1), vector


def _splat(context, builder, value, from_type, dtype, vector):
    return splat(builder, context.cast(builder, value, from_type, dtype), vector)


def _to_mask(builder, above):
    return builder.bitcast(above, ir.IntType(WIDTH))


@intrinsic
def mask_above(typingctx, values, base, threshold):
    """uint64, bit t set when not values[base + t] <= threshold, t = 0..63."""
    dtype = _check_block_arrays(values)
    sig = types.uint64(values, base, threshold)

    def codegen(context, builder, signature, args):
        x, vector = _load_block(context, builder, signature.args[0], args[0], args[1])
        t = _splat(context, builder, args[2], signature.args[2], dtype, vector)
        return _to_mask(builder, builder.fcmp_unordered(">", x, t))

    return sig, codegen


@intrinsic
def mask_above_fma(typingctx, values, factors, base, scale, offset):
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
