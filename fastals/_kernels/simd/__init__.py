"""The SIMD layer: the kernels written as LLVM vector IR, behind one switch.

Numba's auto-vectoriser leaves some hot loops short of the CPU (256-bit vectors, scores
spilled to memory, masks built lane by lane). The kernels here write those loops as LLVM IR
through ``numba.extending.intrinsic``, which leans on Numba's and llvmlite's internals
(``cgutils``, array structs, typed or opaque pointers: ``ir``); pyproject.toml declares the
versions they are tested on.

- ``tile``: the register tile of the scoring product (serving, ``topk``): 8 x 32 with AVX-512,
  6 x 16 in 256-bit vectors elsewhere.
- ``masks``: 64 comparisons into one bit mask (selection: ``select``, ``pairs``).
- ``gathered``: eight gathered rows of Y at once (the CG weighted pass, ``rows``).
- ``outer``: 4 x 16 register tiles of a row's weighted outer products (Cholesky, iALS++).

**The switch.** ``FASTALS_SIMD=0`` turns every one of them off (``switch``): each kernel
compiles to its plain loops, which are also what runs where the IR does not apply (float64,
non-contiguous arrays, no AVX-512 for ``gathered``). ``FASTALS_SIMD=force`` runs
the 512-bit kernels on a CPU without AVX-512 too (to test them there). Read at import; give
each setting its own ``NUMBA_CACHE_DIR``, as Numba's cache does not know it.

**Adding an IR kernel.** Callers never call IR directly; they call a plain function that
Numba compiles to the IR or to loops:

1. the IR: ``@switch.ir_kernel`` (``intrinsic`` that refuses to compile with the switch
   off), its typing checking its arrays with ``require(suits(...))``;
2. the loops: an ordinary ``@jit`` function with the same result;
3. the dispatch: a stub plus ``@overload(stub, inline="always")`` returning the IR where
   ``ENABLED`` (or ``WIDE``) and ``suits(...)``, else the loops;
4. export the stub here; tests: IR and loops against each other (as ``tests/test_masks.py``),
   and a call in ``tests/test_simd.py``'s ``answers`` (the switched-off run compares them).

A Numba pitfall met on the way (0.68): in a function that calls an inlined overload, arrays
taken from a tuple argument by unpacking (``status, loss = out``) lost their writes; index the
tuple instead (``status = out[0]``), as ``cholesky._solve_row`` does. Its test caught it.

That is the *replacement* kind (``masks.mask_above``). The *partial* kind does what suits
the IR and returns how much, the caller's loops doing the rest (``tile.score_tiles``,
``gathered.span``). Two LLVM intrinsics stay outside, on whatever the switch says: the
scalar ``_kernels.fma`` (one rounding, on every CPU: it keeps the loops' floats equal to the
tile's) and ``_kernels.spin`` (a compiler barrier for the thread pool's wait). Neither is SIMD.
"""

from .gathered import gathered_axpy, gathered_dots, span
from .masks import WIDTH, mask_above, mask_above_fma, mask_above_loops
from .outer import add_outer_products, outer_scratch
from .switch import ENABLED, LANES, VARIABLE, WIDE
from .tile import panels, score_tiles

__all__ = [
    "ENABLED",
    "LANES",
    "VARIABLE",
    "WIDE",
    "WIDTH",
    "add_outer_products",
    "gathered_axpy",
    "gathered_dots",
    "mask_above",
    "mask_above_fma",
    "mask_above_loops",
    "outer_scratch",
    "panels",
    "score_tiles",
    "span",
]
