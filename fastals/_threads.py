"""Threads for the kernels: a pool of Python threads running serial, nogil Numba kernels.

Every parallel kernel is a serial ``@jit`` function over a range of independent tasks (rows,
row blocks, query blocks) that releases the GIL; ``parallel_for`` hands out the ranges to
``num_threads`` threads, each taking the next range as soon as it finishes one. Why not
Numba's ``prange``:

- **Same answers from a cold or a warm cache.** Numba compiles a ``prange`` body as a
  separate library, loads it, then links a copy into the caller that LLVM optimises again.
  In the process that compiled it the caller runs the first copy; a process that loads the
  caller from the cache runs the second, and with reassociation allowed the two round
  differently (CG factors 1e-3 apart after 15 iterations, other top-10 ids). A serial kernel
  whose callees are inlined (``_jit``) is one library: the code that runs is the code cached.
- **A busy core does not stall the rest.** ``prange`` splits the work into one static part
  per thread and waits at a barrier for the slowest; here a thread that is descheduled
  simply takes fewer ranges.

Results never depend on the thread count or the order ranges run in: each task writes only
its own outputs. BLAS is held to one thread meanwhile (threadpoolctl).
"""

import heapq
import os
import queue
import threading
from contextlib import contextmanager, nullcontext

import numpy as np
from threadpoolctl import threadpool_limits

from ._kernels.spin import wait_for_change

# Below this many multiply-adds a call runs on one thread: handing out ranges costs more
# than the work.
SERIAL_WORK = 2_000_000
RANGES_PER_THREAD = 8  # ranges per thread and call: small enough to even out a slow thread
SPIN_POLLS = 2_000_000  # a pool thread polls ~2 ms for its next job before it blocks


def max_threads() -> int:
    """Threads ``num_threads=0`` means: ``NUMBA_NUM_THREADS`` if set, else the usable CPUs."""
    configured = os.environ.get("NUMBA_NUM_THREADS")
    if configured and configured.isdigit() and int(configured) > 0:
        return int(configured)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_num_threads(num_threads: int, work: int | None = None) -> int:
    """0 means every usable core; more than that is capped at that; small work -> 1."""
    if work is not None and work < SERIAL_WORK:
        return 1
    limit = max_threads()
    return limit if num_threads == 0 else min(num_threads, limit)


_scope = threading.local()
_pool_lock = threading.Lock()


def current_threads() -> int:
    """Threads ``parallel_for`` uses here: the innermost ``thread_scope``'s, else 1."""
    return getattr(_scope, "threads", 1)


@contextmanager
def thread_scope(num_threads: int, limit_blas: bool = True, work: int | None = None):
    """Run the enclosed ``parallel_for`` calls on ``num_threads`` threads, BLAS on 1 thread.

    ``limit_blas=False`` skips threadpoolctl (about a millisecond) for short serving calls
    that never reach BLAS. ``work`` (multiply-adds) below SERIAL_WORK runs on one thread;
    results do not depend on the thread count, so this changes only the speed. Scopes nest
    and are per calling thread; the previous setting is restored on exit.
    """
    previous = current_threads()
    with threadpool_limits(limits=1, user_api="blas") if limit_blas else nullcontext():
        _scope.threads = resolve_num_threads(num_threads, work)
        try:
            yield
        finally:
            _scope.threads = previous


class _Worker(threading.Thread):
    """A pool thread: runs the jobs put in its queue. After a job it polls for the next one
    (about SPIN_POLLS polls, ~2 ms, without the GIL: ``_kernels.spin``) before it blocks:
    ``parallel_for`` calls come in quick succession (several per half-sweep), and a thread that
    stays runnable keeps its core, where one that sleeps may be woken on its caller's core
    and wait for the scheduler to move it."""

    def __init__(self):
        super().__init__(name="fastals-worker", daemon=True)
        self.jobs = queue.SimpleQueue()

    def run(self):
        while True:
            self._next()()

    def _next(self):
        seen = int(_signal[0])  # read before the queue: a job put after it changes the signal
        try:
            return self.jobs.get_nowait()
        except queue.Empty:
            pass
        if wait_for_change(_signal, seen, SPIN_POLLS) != seen:
            try:
                return self.jobs.get_nowait()
            except queue.Empty:
                pass
        return self.jobs.get()


_signal = np.zeros(1, np.int64)  # incremented whenever jobs are handed out
_workers: list[_Worker] = []


def _forget_workers():
    """In a forked child the parent's pool threads do not exist: start afresh there."""
    global _pool_lock
    _workers.clear()
    _pool_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def _pool(n: int) -> list[_Worker]:
    """At least ``n`` started pool threads."""
    with _pool_lock:
        while len(_workers) < n:
            worker = _Worker()
            worker.start()
            _workers.append(worker)
        return _workers[:n]


def parallel_for(kernel, n_tasks: int, *args, grain: int = 1, per_thread: int = RANGES_PER_THREAD):
    """``kernel(start, stop, *args)`` over ranges covering tasks 0..n_tasks-1, in parallel.

    ``kernel`` is a nogil Numba function whose tasks are independent (each writes only its
    own outputs). Ranges hold at least ``grain`` tasks, about ``per_thread`` per thread (each
    costs a call through Numba's dispatcher, some microseconds); the calling thread works
    too, and the call returns when every range is done (the first exception is raised then).
    """
    threads = min(current_threads(), -(-n_tasks // max(1, grain)))
    if threads <= 1:
        if n_tasks > 0:
            kernel(0, n_tasks, *args)
        return
    size = max(grain, -(-n_tasks // (threads * per_thread)))
    starts = iter(range(0, n_tasks, size))
    lock = threading.Lock()
    errors = []

    def work():
        while not errors:
            with lock:
                start = next(starts, None)
            if start is None:
                return
            try:
                kernel(start, min(n_tasks, start + size), *args)
            except BaseException as exc:
                errors.append(exc)  # the other threads stop taking ranges
                return

    _team(work, threads - 1)
    if errors:
        raise errors[0]


def _team(work, helpers):
    """``work()`` on the calling thread and on ``helpers`` pool threads at once; returns when
    every copy has returned (so the arrays it uses outlive it)."""
    done = threading.Semaphore(0)
    caller_done = threading.Event()

    def job():
        try:
            work()
        finally:
            done.release()
        # A helper out of work sleeps until the caller is out of it too, instead of polling
        # for its next job meanwhile: a caller descheduled in its last range (a busy
        # neighbour on its core) can then be moved to this core at once.
        caller_done.wait()

    for worker in _pool(helpers):
        worker.jobs.put(job)
    _signal[0] += 1
    try:
        work()
    finally:
        caller_done.set()
        for _ in range(helpers):
            done.acquire()


def parallel_tasks(ready, run, finish, n_tasks: int):
    """Run ``n_tasks`` tasks with dependencies on the scope's threads, without barriers.

    ``ready``: the tasks runnable at first; ``run(task)`` runs one (a nogil kernel call);
    ``finish(task)``, called under a lock once ``run`` returned, returns the tasks it made
    runnable. Tasks are comparable: the least runnable one runs first. Where ``parallel_for``
    steps wait for their slowest range, here a thread descheduled in a task (a busy neighbour
    on its core) holds back only what depends on that task; the other threads go on with the
    rest. Returns when every task has run (the first exception is raised then).
    """
    heap = list(ready)
    heapq.heapify(heap)
    threads = current_threads()
    if threads <= 1:
        while heap:
            task = heapq.heappop(heap)
            run(task)
            for new in finish(task):
                heapq.heappush(heap, new)
            n_tasks -= 1
        if n_tasks:
            raise RuntimeError(f"{n_tasks} tasks left that nothing made runnable")
        return
    state = threading.Condition()
    left = [n_tasks, 0]  # tasks not run yet, tasks running
    errors = []

    def work():
        while True:
            with state:
                while not heap and left[0] and left[1] and not errors:
                    state.wait()
                if not heap and left[0] and not left[1] and not errors:
                    errors.append(RuntimeError(f"{left[0]} tasks left that nothing made runnable"))
                if errors or not left[0]:
                    state.notify_all()
                    return
                task = heapq.heappop(heap)
                left[1] += 1
            try:
                run(task)
            except BaseException as exc:
                with state:
                    errors.append(exc)
                    state.notify_all()
                return
            with state:
                for new in finish(task):
                    heapq.heappush(heap, new)
                left[0] -= 1
                left[1] -= 1
                state.notify_all()

    _team(work, threads - 1)
    if errors:
        raise errors[0]
