"""Every row's top k against every row (``recommend.top_k_pairs``): ``_kernels.pairs``' strips
run as tasks with dependencies (``_threads.parallel_tasks``) instead of parallel steps.

Strip s (rows r0..r1-1) has *column tasks*, one per group of GROUP_COLUMNS columns on a fixed
grid (columns r0.. only): score the strip against the group and offer the strip's rows to the
group's rows past the strip (``pairs.strip_columns``); and *row tasks*, ranges of the strip's
rows, each taking the strip's columns from r0 on and sorting its heaps (``pairs.strip_rows``).
What orders them:

- a group's column task of strip s after the same group's of strip s - 1 (a row's heap takes
  its columns in increasing order: ties are decided by that order);
- a strip's row tasks after all its column tasks (they read the whole strip of scores);
- strip s's scores go to buffer s % SLOTS: its column tasks after strip s - SLOTS's row tasks.

So nothing waits for a whole step: a thread descheduled in a task holds back that group and,
SLOTS strips later, the buffers; the other threads meanwhile run later strips' tasks. Every heap
is offered the same scores in the same order as with one thread: same results, ties included.
"""

import numpy as np

from ._kernels import pairs
from ._threads import current_threads, parallel_tasks

SLOTS = 2  # strips of scores held at once (each up to pairs.STRIP_BYTES: 16 MiB in all)
GROUP_COLUMNS = 2 * pairs.PAIRS_CHUNK  # columns per column task
ROW_TASKS = 2  # row tasks per strip and thread
ROWS, COLUMNS = 0, 1  # task kinds: (strip, kind, index) tuples order a strip's row tasks first


class _Plan:
    """The tasks of one call and what each one's end makes runnable (``finish``)."""

    def __init__(self, n, height, threads):
        self.n, self.height = n, height
        self.n_strips = -(-n // height)
        self.n_groups = -(-n // GROUP_COLUMNS)
        self.row_task_rows = max(8, -(-height // (ROW_TASKS * threads)))
        self.columns_left = [self.n_groups - self.first_group(s) for s in range(self.n_strips)]
        self.rows_left = [self.n_row_tasks(s) for s in range(self.n_strips)]
        self.parked = [[] for _ in range(self.n_strips)]  # column tasks waiting for a buffer
        self.n_tasks = sum(self.columns_left) + sum(self.rows_left)

    def rows(self, s):
        """Strip s's rows (r0, r1)."""
        return s * self.height, min(self.n, (s + 1) * self.height)

    def first_group(self, s):
        return self.rows(s)[0] // GROUP_COLUMNS

    def columns(self, s, group):
        """Column task (s, group)'s columns (c_lo, c_hi)."""
        return max(self.rows(s)[0], group * GROUP_COLUMNS), min(self.n, (group + 1) * GROUP_COLUMNS)

    def n_row_tasks(self, s):
        r0, r1 = self.rows(s)
        return -(-(r1 - r0) // self.row_task_rows)

    def ready(self):
        return [(0, COLUMNS, g) for g in range(self.n_groups)]

    def finish(self, task):
        s, kind, index = task
        new = []
        if kind == COLUMNS:
            self.columns_left[s] -= 1
            if not self.columns_left[s]:
                new += [(s, ROWS, r) for r in range(self.n_row_tasks(s))]
            if s + 1 < self.n_strips and index >= self.first_group(s + 1):
                follower = (s + 1, COLUMNS, index)
                freed_by = s + 1 - SLOTS  # the strip whose buffer it takes
                if freed_by < 0 or not self.rows_left[freed_by]:
                    new.append(follower)
                else:
                    self.parked[freed_by].append(follower)
        else:
            self.rows_left[s] -= 1
            if not self.rows_left[s]:
                new += self.parked[s]
                self.parked[s] = []
        return new


def all_pairs(Y, YT, YP, k, norms, ids, scores):
    """Each row's top k (``ids``, ``scores``, sorted) against all rows of ``Y``, its own
    included, scores divided by ``norms`` (empty: none); YT, YP as ``_kernels.topk`` takes."""
    n = Y.shape[0]
    dtype = scores.dtype
    if norms.shape[0] == 0:
        norms = np.ones(n, dtype)  # d / 1 == d exactly
    sizes = np.zeros(n, np.int64)
    floors = np.full(n, np.nan, dtype)  # lowered heap minimum of each full heap
    bounds = np.full(n, np.nan, dtype)  # the first strip's k-th best per column
    lows = np.full(n, np.nan, dtype)  # bounds, lowered
    height = max(pairs.MIN_STRIP, min(pairs.PAIRS_STRIP, pairs.STRIP_BYTES // (n * dtype.itemsize)))
    plan = _Plan(n, height, current_threads())
    buffers = np.empty((min(SLOTS, plan.n_strips), min(n, height), n), dtype)
    candidates = (Y, YT, YP, norms)
    heaps = (ids, scores, sizes, floors)

    def run(task):
        s, kind, index = task
        r0, r1 = plan.rows(s)
        strip = buffers[s % SLOTS]
        if kind == COLUMNS:
            c_lo, c_hi = plan.columns(s, index)
            pairs.strip_columns(
                c_lo, c_hi, r0, r1, s == 0, candidates, k, strip, (lows, bounds), heaps
            )
        else:
            i0 = index * plan.row_task_rows
            i1 = min(r1 - r0, i0 + plan.row_task_rows)
            pairs.strip_rows(i0, i1, r0, strip, norms, k, sizes, ids, scores)

    parallel_tasks(plan.ready(), run, plan.finish, plan.n_tasks)
