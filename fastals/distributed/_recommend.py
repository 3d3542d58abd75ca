"""``recommend_all``: every user's top N, ranked on the workers, written as Parquet parts."""

import numpy as np
import pandas as pd

from ..factorization import FactorizationModel
from ..recommend import check_n
from ._fit import cluster_size, over_blocks
from ._plans import bare_model, worker_threads
from ._source import Source, build_blocks

PART = "part-{:05d}.parquet"


def recommend_all(
    model,
    interactions,
    client=None,
    N=10,
    out="recs.parquet",
    user_col="user",
    item_col="item",
    weight_col=None,
    shape=None,
    blocks=None,
    filter_already_liked_items=True,
    overwrite=False,
):
    """Rank all items for every user on the workers; write (user, rank, item, score) Parquet.

    Each worker builds its users' rows of ``interactions`` (as ``fit`` reads them) and runs
    ``model.recommend`` on them with the liked items filtered, so no machine holds every
    score. ``out`` (a folder, local or any fsspec URL the workers can write) gets one file
    per user block, ``part-00000.parquet``, ...: rows sorted by user then rank (1 = best),
    item ids int32, scores in the model dtype; a user with fewer than N unfiltered items
    gets a shorter list. Returns the result as a lazy ``dask.dataframe`` (read from ``out``).
    ``out`` must be empty or absent unless ``overwrite`` (then its part files are replaced).
    """
    import dask.dataframe as dd
    import fsspec

    if not isinstance(model, FactorizationModel):
        raise TypeError(
            "model must be a fitted fastals.AlternatingLeastSquares or fastals.iALS, got "
            f"{type(model).__module__}.{type(model).__name__}"
        )
    n_users, n_items = model._require_fitted()
    N = check_n(N, n_items)
    _, n_threads = cluster_size(client)
    shape = (n_users, n_items) if shape is None else shape
    n_blocks = n_threads if blocks is None else blocks
    if not isinstance(n_blocks, (int, np.integer)) or isinstance(n_blocks, bool) or n_blocks < 1:
        raise ValueError(f"blocks must be a positive integer, got {blocks!r:.80}")
    source = Source(interactions, user_col, item_col, weight_col, shape, chunks=n_blocks)
    if source.shape != (n_users, n_items):
        raise ValueError(
            f"interactions has shape {source.shape}, the model {(n_users, n_items)} (users x items)"
        )
    fs, root = fsspec.core.url_to_fs(str(out))
    _prepare_folder(fs, root, overwrite)
    users = build_blocks(client, source, (min(n_blocks, n_users), 0), sides=("user",))["user"]
    folder = str(out).rstrip("/")
    over_blocks(
        client, (users.bounds, users.futures), w_recommend, model.user_factors,
        np.ascontiguousarray(model.item_factors), bare_model(model), N,
        filter_already_liked_items, users.bounds, folder + "/" + PART, with_index=True,
    )  # fmt: skip
    return dd.read_parquet(folder)


def _prepare_folder(fs, root, overwrite):
    if fs.exists(root):
        if not fs.isdir(root):
            raise FileExistsError(f"out={root!r} exists and is not a folder")
        listed = fs.ls(root, detail=False)
        if listed and not overwrite:
            raise FileExistsError(
                f"out={root!r} is not empty ({len(listed)} entries): pass overwrite=True to "
                "replace its part files, or another folder"
            )
        for path in listed:
            if path.rsplit("/", 1)[-1].startswith("part-"):
                fs.rm(path)
    fs.makedirs(root, exist_ok=True)


def w_recommend(raw, b, user_factors, item_factors, bare, N, filter_liked, bounds, path):
    """User block ``b``'s top N, written to its part file (``path`` formatted with ``b``);
    returns the number of rows written."""
    first_user = int(bounds[b])
    model = bare_model(bare)
    model.user_factors = np.asarray(user_factors)
    model.item_factors = np.asarray(item_factors)
    model.num_threads = worker_threads(bare.num_threads)
    n_rows = raw.shape[0]
    ids, scores = model.recommend(
        np.arange(n_rows), raw, N=N, filter_already_liked_items=filter_liked
    )
    keep = (scores > -np.finfo(scores.dtype).max).ravel()  # filtered items sink to the tail
    frame = pd.DataFrame(
        {
            "user": np.repeat(np.arange(first_user, first_user + n_rows, dtype=np.int64), N),
            "rank": np.tile(np.arange(1, N + 1, dtype=np.int32), n_rows),
            "item": ids.ravel(),
            "score": scores.ravel(),
        }
    )[keep]
    frame.to_parquet(path.format(b), index=False)
    return len(frame)
