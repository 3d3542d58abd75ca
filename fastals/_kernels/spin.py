"""A pool thread's wait for its next job, without the GIL (``fastals._threads``).

``wait_for_change(signal, seen, spins)`` polls ``signal[0]`` until it differs from ``seen``
or ``spins`` polls have passed, and returns the last value read. Called with ``nogil``, so a
waiting thread never competes for the GIL with the thread that hands out the work (a Python
loop around ``time.sleep(0)`` does: each of its turns takes the GIL back). Each poll goes
through an empty inline-assembly statement that clobbers memory: a compiler barrier, so LLVM
reads ``signal[0]`` again every time instead of hoisting the load out of the loop.
"""

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ._jit import jit


@intrinsic
def _barrier(typingctx):
    """A compiler barrier: memory may have changed (no instruction is emitted)."""

    def codegen(context, builder, signature, args):
        asm = ir.InlineAsm(ir.FunctionType(ir.VoidType(), []), "", "~{memory}", side_effect=True)
        builder.call(asm, [])
        return context.get_dummy_value()

    return types.void(), codegen


@jit(inline="never")
def wait_for_change(signal, seen, spins):
    """The value of ``signal[0]`` once it differs from ``seen``, or after ``spins`` polls."""
    value = signal[0]
    for _ in range(spins):
        if value != seen:
            break
        _barrier()
        value = signal[0]
    return value
