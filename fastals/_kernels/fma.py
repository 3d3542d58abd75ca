"""``fma(a, b, c)``: a * b + c rounded once, for the scoring loops (``topk``).

An LLVM intrinsic (``llvm.fma``), but scalar and on every CPU (where the CPU has no FMA
instruction LLVM calls libm's ``fma``): not part of the SIMD layer, so ``FASTALS_SIMD=0``
leaves it on. The loops of ``topk._score_block_loops`` add their products with it, in the
order ``simd.tile.score_tile`` does, so both give the same floats whatever LLVM does with
``contract``/``reassoc``, and serving gives the same answers with the switch on or off.
"""

from numba import types
from numba.extending import intrinsic

from .simd.ir import fma_function


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (LLVM's fma), for float32 or float64 scalars of one type."""
    if not (a == b == c and a in (types.float32, types.float64)):
        raise TypeError(f"fma needs three floats of one type, got {a}, {b}, {c}")
    sig = a(a, b, c)

    def codegen(context, builder, signature, args):
        scalar = context.get_value_type(signature.return_type)
        return builder.call(fma_function(builder, scalar), list(args))

    return sig, codegen
