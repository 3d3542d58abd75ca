"""Scoped thread settings: Numba's thread count for our kernels, BLAS held to one thread."""

from contextlib import contextmanager, nullcontext

import numba
from threadpoolctl import threadpool_limits

# Below this many multiply-adds a call runs on one thread: a parallel region's start and
# barrier cost more than the work, and on a machine where another process holds a core the
# barrier waits for a descheduled thread (measured: a tiny fit 0.6 ms -> 75 ms per iteration).
SERIAL_WORK = 2_000_000


def resolve_num_threads(num_threads: int, work: int | None = None) -> int:
    """0 means every core Numba may use; more than that is capped at that; small work -> 1."""
    if work is not None and work < SERIAL_WORK:
        return 1
    limit = numba.config.NUMBA_NUM_THREADS
    return limit if num_threads == 0 else min(num_threads, limit)


@contextmanager
def thread_scope(num_threads: int, limit_blas: bool = True, work: int | None = None):
    """Run the enclosed kernels on ``num_threads`` Numba threads, BLAS limited to 1 thread.

    The caller's Numba thread count is restored on exit, even after an exception.
    ``limit_blas=False`` skips threadpoolctl (about a millisecond) for short serving calls
    that never reach BLAS. ``work`` (multiply-adds) below SERIAL_WORK runs on one thread;
    results do not depend on the thread count, so this changes only the speed.
    """
    previous = numba.get_num_threads()
    with threadpool_limits(limits=1, user_api="blas") if limit_blas else nullcontext():
        numba.set_num_threads(resolve_num_threads(num_threads, work))
        try:
            yield
        finally:
            numba.set_num_threads(previous)
