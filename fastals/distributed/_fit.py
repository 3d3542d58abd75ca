"""``fit``: train a fastals model on a Dask cluster; the same factors as ``model.fit``.

The driver holds the factors and runs the model's own training loop
(``FactorizationModel._train``: progress bar, callback, loss history). Each half-sweep it
computes the fixed side's Gram, broadcasts the fixed factors to every worker once, and
submits one solve per block; the workers solve their resident blocks with fastals' kernels
and only the new rows come back.
"""

import logging
import time

import numpy as np

from ._plans import plan_for, w_ials_observed
from ._source import Source, build_blocks

log = logging.getLogger("fastals")
LOST_WORKER_TRIES = 5  # attempts at one half-sweep while workers are being lost
SCATTER_TIMEOUT = 10  # seconds to wait for a worker to scatter to


def fit(
    model,
    interactions,
    client=None,
    user_col="user",
    item_col="item",
    weight_col=None,
    shape=None,
    blocks=None,
    show_progress=True,
    callback=None,
):
    """Fit ``model`` (``fastals.AlternatingLeastSquares`` or ``fastals.iALS``) on a cluster.

    Parameters
    ----------
    model : AlternatingLeastSquares or iALS (any solver; "ials++" with block_order "sides")
        Trained in place, exactly as ``model.fit`` would be (the same seed gives the same
        factors, bit for bit, for any number of blocks and workers; iALS's "ials++" and
        "cd" up to rounding: each block recomputes its prediction cache); returned.
    interactions : dask.dataframe.DataFrame, str / path / list of paths, or scipy sparse
        A dataframe (or Parquet files: a path, folder or glob) with one row per interaction
        (``user_col``, ``item_col`` integer ids in [0, n), ``weight_col`` the stored value;
        1 per row when None; repeated pairs are summed), or a users x items matrix.
    client : dask.distributed.Client
    shape : (n_users, n_items)
        Required for a dataframe or Parquet input; a matrix's own shape otherwise.
    blocks : int, (user_blocks, item_blocks) or None
        Row blocks per side; None: one per worker thread. Each block is a range of ids of
        near-equal work (a row weighing its entries plus ``factors``), so skewed ids do not
        leave one worker with most of the work. Results do not depend on it.
    show_progress, callback
        As in ``model.fit``: a progress bar on the driver, ``callback(iteration,
        elapsed_seconds, loss_or_None)`` after each iteration (False stops).
    """
    plan = plan_for(model)
    n_workers, n_threads = cluster_size(client)
    n_user_blocks, n_item_blocks = _block_counts(blocks, n_threads)
    source = Source(interactions, user_col, item_col, weight_col, shape, chunks=n_user_blocks)
    n_users, n_items = source.shape
    model._check_refit_shape(n_users, n_items)
    n_blocks = (min(n_user_blocks, n_users), min(n_item_blocks, n_items))
    raw = build_blocks(client, source, n_blocks, row_cost=model.factors)
    sides = plan.prepare(client, raw)  # the first read: bad values raise here
    del raw
    model._init_factors(n_users, n_items)
    plan.fitted()
    step = _step(client, plan, sides, n_workers)
    model._train(step, show_progress, callback, max(int(plan.nnz), n_users))
    return model


def check_client(client):
    from distributed import Client

    if client is None:
        raise ValueError(
            "client is required: a dask.distributed.Client, e.g. "
            "Client(LocalCluster(n_workers=2, threads_per_worker=1))"
        )
    if not isinstance(client, Client):
        raise TypeError(f"client must be a dask.distributed.Client, got {type(client).__name__}")


def cluster_size(client):
    """(workers, worker threads) of the client's cluster; refuses a cluster without workers."""
    check_client(client)
    workers = client.scheduler_info()["workers"]
    if not workers:
        raise ValueError("the client's cluster has no workers")
    return len(workers), sum(w["nthreads"] for w in workers.values())


def _block_counts(blocks, n_threads):
    if blocks is None:
        return n_threads, n_threads
    pair = (blocks, blocks) if np.ndim(blocks) == 0 else tuple(blocks)
    if len(pair) != 2 or not all(
        isinstance(b, (int, np.integer)) and not isinstance(b, bool) and b >= 1 for b in pair
    ):
        raise ValueError(
            f"blocks must be a positive integer or a pair (user_blocks, item_blocks), got "
            f"{blocks!r:.80}"
        )
    return int(pair[0]), int(pair[1])


def _step(client, plan, sides, n_workers):
    model = plan.model
    loss_wanted = bool(model.calculate_training_loss)
    fused = loss_wanted and plan.wants_loss_in_item_sweep

    def step(iteration):
        X, Y = model.user_factors, model.item_factors
        half_sweep(client, plan, sides["user"], "user", X, Y, False)
        extras = half_sweep(client, plan, sides["item"], "item", Y, X, fused)
        if not loss_wanted:
            return None
        if not fused:  # iALS: the observed term on the user blocks, at the new factors
            extras = over_blocks(client, sides["user"], w_ials_observed, X, Y, model.num_threads)
        return plan.loss(extras, X, Y)

    return step


def half_sweep(client, plan, blocks, side, X, Y, with_loss):
    """New rows of ``X`` (in place) for ``side``'s blocks against the fixed ``Y``."""
    G = plan.gram(side, Y)
    solve, *args = plan.sweep_args(side, with_loss)
    results = over_blocks(client, blocks, solve, X if plan.warm else None, Y, G, *args)
    bounds = blocks[0]
    for r0, r1, (rows, _) in zip(bounds[:-1], bounds[1:], results, strict=True):
        X[r0:r1] = rows
    return [extra for _, extra in results]


def over_blocks(client, blocks, function, X, Y, *args, with_index=False):
    """``function(block, X[rows of the block] or None, Y, *args)`` for every block, on the
    worker that holds it (``with_index``: ``function(block, b, ...)`` for block b); ``Y`` goes
    to the workers once. Returns the results in block order.

    ``Y`` is scattered to one worker and fetched from there by the others (each fetched copy
    serves further fetches), so the driver sends it once; each block's rows of ``X`` go
    straight to the block's worker. If a worker is lost meanwhile
    (with the only copy of ``Y``, or during the scatter), the whole call is redone: the
    driver still holds every input, and the lost blocks are rebuilt by the scheduler.
    """
    from distributed.utils import CancelledError  # FutureCancelledError's base

    bounds, futures = blocks
    for attempt in range(LOST_WORKER_TRIES):
        try:
            shared = client.scatter(Y, hash=False, direct=True, timeout=SCATTER_TIMEOUT)
            holders = client.who_has(futures)
            tasks = []
            for b, (f, r0, r1) in enumerate(zip(futures, bounds[:-1], bounds[1:], strict=True)):
                lead = (f, b) if with_index else (f,)
                rows = None if X is None else X[r0:r1]
                where = list(holders.get(f.key, ())) or None  # loose: elsewhere if it is lost
                if rows is not None:  # straight to the block's worker, not via the scheduler
                    rows = client.scatter(rows, workers=where, hash=False, direct=True,
                                          timeout=SCATTER_TIMEOUT)  # fmt: skip
                task = client.submit(function, *lead, rows, shared, *args, pure=False,
                                     workers=where, allow_other_workers=bool(where))  # fmt: skip
                tasks.append(task)
            return client.gather(tasks, direct=True)  # from the workers, not via the scheduler
        except (OSError, TimeoutError, CancelledError) as exc:  # a lost worker
            if attempt == LOST_WORKER_TRIES - 1:
                raise
            log.warning("a worker was lost (%r): running the half-sweep again", exc)
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def bytes_per_iteration(n_users, n_items, factors, workers, blocks=None, itemsize=4, warm=True):
    """Bytes one iteration moves between driver and workers (payload, without framing).

    Each half-sweep sends the fixed factors to every worker (workers x n x k: the driver
    sends one copy, the workers copy it among themselves), ships the
    Gram with each block's task (blocks x k^2), sends the solved side's rows down as the warm
    start (all but Cholesky: ``warm``) and gets them back (n x k), all in the factor dtype:

        itemsize * [k (n_users + n_items) (workers + 1 + warm) + k^2 (user + item blocks)]

    ``blocks``: (user_blocks, item_blocks), default one per worker each.
    """
    user_blocks, item_blocks = (workers, workers) if blocks is None else blocks
    rows = n_users + n_items
    return itemsize * (
        factors * rows * (workers + 1 + int(warm)) + factors**2 * (user_blocks + item_blocks)
    )
