"""The one decorator every kernel uses."""

import numba

# Not fastmath=True: "nnan"/"ninf" would let LLVM drop NaN/inf checks (umap shipped NaN
# embeddings that way). "reassoc" lets dot products vectorise.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
# Serving divides scores by norms as implicit does: "arcp" would turn a division by one norm
# into a product with its reciprocal, one rounding off implicit's (and off the other path's).
EXACT_DIVISION = FASTMATH - {"arcp"}


def jit(parallel: bool = False, fastmath=FASTMATH, inline: str = "always"):
    """``numba.njit`` with on-disk caching, the project's fastmath flags and nogil.

    Helpers are inlined into their callers in Numba's IR (``inline="always"``), so that each
    kernel called from Python is one library whose code is the code cached. A helper called
    as a separate function exists twice, compiled on its own and linked into the caller,
    where LLVM optimises it again: with reassociation allowed the two copies can round
    differently, and a process that compiled the kernel runs the first copy while one that
    loaded it from the cache runs the second (see ``_threads``). Inlining also saves the
    reference-count updates of the arrays a call passes. ``inline="never"`` is for helpers
    without floating-point arithmetic (integer or comparison only: every copy is exact).
    """
    return numba.njit(
        cache=True,
        fastmath=fastmath,
        parallel=parallel,
        nogil=True,
        error_model="numpy",
        inline=inline,
    )
