"""The interactions as the workers read them once: partitions, then one CSR per row block.

``Source`` checks the input on the driver (columns, id dtypes, shape: nothing is scheduled
before these pass) and holds it as partitions. ``build_blocks`` splits every partition by
user block and by item block on the workers (the one all-to-all exchange of a fit) and builds
each block's CSR: user block b holds rows u0..u1-1 of user_items, item block b rows i0..i1-1
of its transpose. The values checks (ids in range, finite weights) run in that first read.

Every block is a future whose lineage reaches back to the input: a dask.dataframe's or
Parquet files' own tasks, or, for a CSR, its row chunks embedded in the task graph (the
scheduler keeps them). A block lost with its worker is rebuilt from there by the scheduler.
"""

import os
import warnings
from dataclasses import dataclass
from operator import getitem

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .._validation import INT32_MAX, to_csr

BUCKETS_PER_BLOCK = 1024  # a dataframe's ids are counted in this many buckets per block


@dataclass(frozen=True)
class Columns:
    user: str
    item: str
    weight: str | None


class Source:
    """``interactions`` as partitions: a dask.dataframe, a Parquet path or glob, or a CSR.

    ``partitions`` is a list of Delayed (dataframe input: pandas DataFrames; CSR input:
    ``(first_row, indptr, indices, data)`` row chunks); ``shape`` is (n_users, n_items);
    ``matrix`` the CSR for a matrix input, None for a dataframe.
    """

    def __init__(self, interactions, user_col, item_col, weight_col, shape, chunks=1):
        import dask
        import dask.dataframe as dd

        self.columns = Columns(user_col, item_col, weight_col)
        if sp.issparse(interactions):
            self.kind = "csr"
            csr = to_csr(interactions, "interactions")
            if shape is not None and tuple(shape) != csr.shape:
                raise ValueError(
                    f"shape={tuple(shape)} does not match the interactions matrix's shape "
                    f"{csr.shape}"
                )
            self.shape, self.matrix = csr.shape, csr
            self.partitions = [
                dask.delayed(_csr_chunk, pure=True)(r0, *_row_chunk(csr, r0, r1))
                for r0, r1 in _bounds_pairs(self.shape[0], chunks)
            ]
            return
        if isinstance(interactions, (str, os.PathLike, list, tuple)):
            self.kind = "parquet"
            interactions = dd.read_parquet(interactions)
        elif isinstance(interactions, dd.DataFrame):
            self.kind = "dataframe"
        else:
            raise TypeError(
                "interactions must be a dask.dataframe, a Parquet path or glob, or a scipy "
                f"sparse matrix (users x items), got {type(interactions).__name__}"
            )
        self.shape = _check_shape(shape)
        self.matrix = None  # rows counted on the workers when blocks are balanced
        _check_frame_columns(interactions, self.columns)
        wanted = [c for c in (user_col, item_col, weight_col) if c is not None]
        self.partitions = list(interactions[wanted].to_delayed())


def _check_shape(shape):
    if shape is None:
        raise ValueError(
            "shape=(n_users, n_items) is required for a dask.dataframe or Parquet input "
            "(ids are integers in [0, n_users) and [0, n_items))"
        )
    try:
        n_users, n_items = (int(n) for n in shape)
    except (TypeError, ValueError):
        raise TypeError(f"shape must be a pair of positive integers, got {shape!r:.80}") from None
    if n_users < 1 or n_items < 1 or (n_users, n_items) != tuple(shape):
        raise ValueError(f"shape must be a pair of positive integers, got {shape!r:.80}")
    return n_users, n_items


def _check_frame_columns(frame, columns):
    names = [("user_col", columns.user), ("item_col", columns.item)]
    if columns.weight is not None:
        names.append(("weight_col", columns.weight))
    for arg, name in names:
        if name not in frame.columns:
            raise KeyError(
                f"{arg}={name!r} is not a column of interactions (columns: "
                f"{', '.join(map(str, frame.columns))})"
            )
        dtype = frame[name].dtype
        kind = getattr(dtype, "kind", "O")
        if arg != "weight_col" and kind not in "iu":
            raise TypeError(
                f"{arg}={name!r} must hold integer ids in [0, n), got dtype {dtype} "
                "(map raw ids to 0..n-1 first: fastals.data.build_matrix's id maps)"
            )
        if arg == "weight_col" and kind not in "biuf":
            raise TypeError(f"weight_col={name!r} must hold real numbers, got dtype {dtype}")


def _row_chunk(csr, r0, r1):
    indptr = csr.indptr[r0 : r1 + 1]
    lo, hi = indptr[0], indptr[-1]
    return indptr - lo, csr.indices[lo:hi], csr.data[lo:hi]


def _csr_chunk(r0, indptr, indices, data):
    return (r0, indptr, indices, data)


def block_bounds(n, blocks):
    """Row bounds (blocks + 1,) int64 of ``blocks`` near-equal ranges of 0..n-1."""
    return (np.arange(blocks + 1, dtype=np.int64) * n) // blocks


def balanced_bounds(edges, costs, blocks):
    """Row bounds (blocks + 1,) int64 cutting 0..n-1 (n = ``edges[-1]``) into ``blocks``
    ranges of near-equal cost, at bucket edges: bucket j holds rows edges[j]..edges[j+1]-1
    and costs ``costs[j]``. Every range keeps at least one row (needs n >= blocks)."""
    n = int(edges[-1])
    cumulative = np.concatenate([[0.0], np.cumsum(costs, dtype=np.float64)])
    targets = cumulative[-1] * np.arange(1, blocks) / blocks
    inner = np.asarray(edges, np.int64)[np.searchsorted(cumulative, targets)]
    bounds = np.concatenate([[0], inner, [n]]).astype(np.int64)
    rank = np.arange(blocks + 1, dtype=np.int64)  # bounds - rank non-decreasing, <= n - blocks:
    spare = np.minimum(np.maximum.accumulate(bounds - rank), n - blocks)  # a row per block
    return spare + rank


def bucket_edges(n, blocks):
    """Edges of the id buckets a dataframe's rows are counted in to balance ``blocks``
    blocks: one bucket per id up to BUCKETS_PER_BLOCK per block, equal ranges beyond."""
    return block_bounds(n, max(1, min(n, BUCKETS_PER_BLOCK * blocks)))


def row_histogram(part, columns, shape, edges):
    """Entries per id bucket of one partition: (user buckets, item buckets) int64 counts."""
    users, items, _ = triplets(part, columns, shape)
    return tuple(
        np.bincount(np.searchsorted(e, ids, side="right") - 1, minlength=len(e) - 1)
        if e is not None else None
        for ids, e in ((users, edges["user"]), (items, edges["item"]))
    )  # fmt: skip


def _bounds_pairs(n, blocks):
    bounds = block_bounds(n, max(1, min(blocks, n)))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))


# ---------------------------------------------------------------------- on the workers


def triplets(part, columns, shape):
    """(users, items, weights) of one partition, checked against ``shape``."""
    if isinstance(part, tuple):  # a CSR chunk, checked on the driver
        r0, indptr, indices, data = part
        users = r0 + np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
        return users, indices.astype(np.int64), data
    n_users, n_items = shape
    users = _ids(part[columns.user], "user", columns.user, n_users, shape)
    items = _ids(part[columns.item], "item", columns.item, n_items, shape)
    if columns.weight is None:
        return users, items, np.ones(len(users), np.float32)
    weights = pd.to_numeric(part[columns.weight]).to_numpy()
    if weights.dtype.kind not in "biuf":
        raise TypeError(f"weight column {columns.weight!r} holds {weights.dtype}, not numbers")
    bad = ~np.isfinite(weights) if weights.dtype.kind == "f" else None
    if bad is not None and bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"weight column {columns.weight!r} holds {int(bad.sum())} NaN or infinite values "
            f"(the first for user {users[first]}, item {items[first]})"
        )
    return users, items, weights


def _ids(column, what, name, count, shape):
    if column.hasnans:
        raise ValueError(f"{what} id column {name!r} holds missing values")
    ids = column.to_numpy()
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{what} id column {name!r} must hold integers, got dtype {ids.dtype}")
    bad = (ids < 0) | (ids >= count)
    if bad.any():
        first = int(ids[bad][0])
        raise ValueError(
            f"{what} id {first} (column {name!r}) is out of range of shape={tuple(shape)}: "
            f"{what} ids must be in [0, {count}) ({int(bad.sum())} rows out of range)"
        )
    return ids.astype(np.int64, copy=False)


def split(part, columns, shape, user_bounds, item_bounds):
    """One partition cut by user block, then by item block: a list of
    (local rows, other ids, weights) pieces, the user blocks' first."""
    users, items, weights = triplets(part, columns, shape)
    pieces = []
    for keys, others, bounds in ((users, items, user_bounds), (items, users, item_bounds)):
        if bounds is None:
            continue
        index = np.int32 if max(shape) <= INT32_MAX else np.int64
        block = np.searchsorted(bounds, keys, side="right") - 1
        order = np.argsort(block, kind="stable")  # keeps the partition's order in a block
        cuts = np.searchsorted(block[order], np.arange(len(bounds)))
        for b in range(len(bounds) - 1):
            take = order[cuts[b] : cuts[b + 1]]
            pieces.append(
                ((keys[take] - bounds[b]).astype(index), others[take].astype(index), weights[take])
            )
    return pieces


def build_block(n_rows, n_cols, *pieces):
    """The block's canonical CSR (n_rows x n_cols): duplicates summed, indices sorted."""
    rows = np.concatenate([p[0] for p in pieces])
    cols = np.concatenate([p[1] for p in pieces])
    data = np.concatenate([p[2] for p in pieces])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
        csr = sp.csr_matrix((data, (rows, cols)), shape=(n_rows, n_cols))
    csr.sum_duplicates()
    index = np.int32 if csr.nnz <= INT32_MAX else np.int64
    return sp.csr_matrix(
        (csr.data, csr.indices.astype(index), csr.indptr.astype(index)), shape=csr.shape
    )


# ---------------------------------------------------------------------- on the driver


@dataclass
class Blocks:
    """One side's blocks on the workers: ``futures[b]`` holds rows bounds[b]..bounds[b+1]-1."""

    bounds: np.ndarray
    futures: list

    def ranges(self):
        return zip(self.bounds[:-1].tolist(), self.bounds[1:].tolist(), strict=True)


def build_blocks(client, source, n_blocks, sides=("user", "item"), row_cost=None):
    """Raw CSR blocks (futures) per side, spread over the workers round-robin.

    ``n_blocks`` is (user blocks, item blocks). ``row_cost`` None: blocks of equal id
    ranges; a number: ranges of near-equal work, a row costing its entries plus
    ``row_cost`` (counted in a first pass over the partitions: exact per row for a matrix,
    per id bucket for a dataframe). Placement is a preference (``allow_other_workers``): a
    lost worker's blocks are rebuilt wherever there is room.
    """
    n_users, n_items = source.shape
    sizes = {"user": (n_users, n_blocks[0]), "item": (n_items, n_blocks[1])}  # (rows, blocks)
    with warnings.catch_warnings():  # a matrix's chunks are meant to be in the graph
        warnings.filterwarnings("ignore", message="Sending large graph")
        parts = client.compute(source.partitions)
    if row_cost is None:
        bounds = {side: block_bounds(*sizes[side]) if side in sides else None
                  for side in sizes}  # fmt: skip
    else:
        bounds = _balanced(client, source, parts, sizes, sides, row_cost)
    splits = client.map(
        split, parts, columns=source.columns, shape=source.shape, user_bounds=bounds["user"],
        item_bounds=bounds["item"], pure=False,
    )  # fmt: skip
    workers = sorted(client.scheduler_info()["workers"])
    out, offset, turn = {}, 0, 0
    for side in ("user", "item"):
        if bounds[side] is None:
            continue
        n_cols = n_items if side == "user" else n_users
        futures = []
        for r0, r1 in zip(bounds[side][:-1], bounds[side][1:], strict=True):
            pieces = [client.submit(getitem, s, offset, pure=False) for s in splits]
            futures.append(
                client.submit(
                    build_block,
                    int(r1 - r0),
                    n_cols,
                    *pieces,
                    pure=False,
                    workers=[workers[turn % len(workers)]],
                    allow_other_workers=True,
                )  # fmt: skip
            )
            offset += 1
            turn += 1
        out[side] = Blocks(bounds[side], futures)
    return out


def _balanced(client, source, parts, sizes, sides, row_cost):
    """Each side's bounds balanced by entries + ``row_cost`` per row (``build_blocks``);
    ``sizes``: each side's (rows, blocks)."""
    edges = {side: bucket_edges(*sizes[side]) if side in sides else None for side in sizes}
    if source.matrix is not None:  # a matrix: exact counts, one bucket per row
        csr = source.matrix
        edges = {side: None if e is None else np.arange(sizes[side][0] + 1)
                 for side, e in edges.items()}  # fmt: skip
        entries = {"user": np.diff(csr.indptr),
                   "item": np.bincount(csr.indices, minlength=csr.shape[1])}  # fmt: skip
    else:
        histograms = client.gather(
            client.map(
                row_histogram,
                parts,
                columns=source.columns,
                shape=source.shape,
                edges=edges,
                pure=False,
            )
        )
        entries = {side: sum(h[j] for h in histograms) if edges[side] is not None else None
                   for j, side in enumerate(("user", "item"))}  # fmt: skip
    return {
        side: None if edges[side] is None
        else balanced_bounds(edges[side], entries[side] + row_cost * np.diff(edges[side]),
                             sizes[side][1])
        for side in sizes
    }  # fmt: skip
