"""The one decorator every kernel uses."""

import numba

# Not fastmath=True: "nnan"/"ninf" would let LLVM drop NaN/inf checks (umap shipped NaN
# embeddings that way). "reassoc" lets dot products vectorise.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
# Serving divides scores by norms as implicit does: "arcp" would turn a division by one norm
# into a product with its reciprocal, one rounding off implicit's (and off the other path's).
EXACT_DIVISION = FASTMATH - {"arcp"}


def jit(parallel: bool = False, fastmath=FASTMATH, inline: str = "never"):
    """``numba.njit`` with on-disk caching, the project's fastmath flags and nogil.

    ``inline="always"`` inlines a helper into its callers in Numba's IR (a call passing
    arrays otherwise updates each one's reference count, an atomic operation).
    """
    return numba.njit(
        cache=True,
        fastmath=fastmath,
        parallel=parallel,
        nogil=True,
        error_model="numpy",
        inline=inline,
    )
