"""Scoped thread settings: Numba's thread count for our kernels, BLAS held to one thread."""

from contextlib import contextmanager, nullcontext

import numba
from threadpoolctl import threadpool_limits


def resolve_num_threads(num_threads: int) -> int:
    """0 means every core Numba may use; more than that is capped at that."""
    limit = numba.config.NUMBA_NUM_THREADS
    return limit if num_threads == 0 else min(num_threads, limit)


@contextmanager
def thread_scope(num_threads: int, limit_blas: bool = True):
    """Run the enclosed kernels on ``num_threads`` Numba threads, BLAS limited to 1 thread.

    The caller's Numba thread count is restored on exit, even after an exception.
    ``limit_blas=False`` skips threadpoolctl (about a millisecond) for short serving calls
    that never reach BLAS.
    """
    previous = numba.get_num_threads()
    with threadpool_limits(limits=1, user_api="blas") if limit_blas else nullcontext():
        numba.set_num_threads(resolve_num_threads(num_threads))
        try:
            yield
        finally:
            numba.set_num_threads(previous)
