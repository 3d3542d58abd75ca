"""``_threads.parallel_tasks``: every task once, after what it depends on, on any thread count."""

import threading
import time

import pytest

from fastals._threads import parallel_tasks, thread_scope


def chains(n_chains, length):
    """Tasks (step, chain): (s, c) after (s - 1, c), and every task of step s after a
    "gate" task (s, -1) that waits for all of step s - 1: fan-in, fan-out and chains."""
    done = set()
    lock = threading.Lock()
    log = []

    def run(task):
        step, chain = task
        with lock:
            if chain >= 0 and step:
                assert (step - 1, chain) in done
            if chain == -1:
                assert all((step - 1, c) in done for c in range(n_chains))
        if chain == 1:
            time.sleep(0.002)  # a slow task: others go on meanwhile
        with lock:
            done.add(task)
            log.append(task)

    left = {s: n_chains for s in range(length)}

    def finish(task):
        step, chain = task
        new = []
        if step + 1 < length and chain >= 0:
            new.append((step + 1, chain))
        if chain >= 0:
            left[step] -= 1
            if not left[step] and step + 1 < length:
                new.append((step + 1, -1))
        return new

    ready = [(0, c) for c in range(n_chains)]
    n_tasks = length * n_chains + (length - 1)
    return ready, run, finish, n_tasks, log


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_every_task_runs_once_after_its_dependencies(threads):
    ready, run, finish, n_tasks, log = chains(5, 12)
    with thread_scope(threads):
        parallel_tasks(ready, run, finish, n_tasks)
    assert len(log) == n_tasks == len(set(log))


def test_the_least_ready_task_runs_first_on_one_thread():
    ready, run, finish, n_tasks, log = chains(3, 4)
    with thread_scope(1):
        parallel_tasks(ready, run, finish, n_tasks)
    assert log[:4] == [(0, 0), (0, 1), (0, 2), (1, -1)]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_an_exception_in_a_task_is_raised_and_nothing_hangs(threads):
    ready, run, finish, n_tasks, _ = chains(4, 10)

    def failing(task):
        if task == (3, 2):
            raise RuntimeError("task (3, 2) failed")
        run(task)

    with thread_scope(threads), pytest.raises(RuntimeError, match=r"task \(3, 2\) failed"):
        parallel_tasks(ready, failing, finish, n_tasks)
    # the pool is still usable afterwards
    ready, run, finish, n_tasks, log = chains(4, 3)
    with thread_scope(threads):
        parallel_tasks(ready, run, finish, n_tasks)
    assert len(log) == n_tasks


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_tasks_that_never_become_runnable_are_an_error_not_a_hang(threads):
    ready, run, finish, n_tasks, _ = chains(3, 4)
    with thread_scope(threads), pytest.raises(RuntimeError, match="1 tasks left"):
        parallel_tasks(ready, run, finish, n_tasks + 1)
