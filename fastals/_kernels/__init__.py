"""Numba kernels: every ``@njit`` function of fastals and nothing else, plus the few LLVM IR
intrinsics they call (``masks``, ``tile``, ``gathered``: each beside the loops it replaces).

Kernels assume valid, canonical inputs (CSR with sorted indices, data already in the
factor dtype, C-contiguous factors) and never raise: failures come back as status codes
that the Python layer (``fastals.solvers``) turns into readable errors.
"""
