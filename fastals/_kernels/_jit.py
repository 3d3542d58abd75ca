"""The one decorator every kernel uses."""

import numba

# Not fastmath=True: "nnan"/"ninf" would let LLVM drop NaN/inf checks (umap shipped NaN
# embeddings that way). "reassoc" lets dot products vectorise.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


def jit(parallel: bool = False):
    """``numba.njit`` with on-disk caching, the project's fastmath flags and nogil."""
    return numba.njit(
        cache=True, fastmath=FASTMATH, parallel=parallel, nogil=True, error_model="numpy"
    )
