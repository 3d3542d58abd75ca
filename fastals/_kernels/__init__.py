"""Numba kernels: every ``@njit`` function of fastals and nothing else, plus the LLVM IR
they call: the SIMD layer in ``simd`` (behind ``FASTALS_SIMD``), and two scalar intrinsics
that stay on (``fma``, ``spin``).

Kernels assume valid, canonical inputs (CSR with sorted indices, data already in the
factor dtype, C-contiguous factors) and never raise: failures come back as status codes
that the Python layer (``fastals.solvers``) turns into readable errors.
"""
