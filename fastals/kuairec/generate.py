"""A KuaiRec-format data folder from the planted model, at any scale.

:func:`write_kuairec_folder` writes KuaiRec 2.0's two interaction tables,
``big_matrix.csv`` and ``small_matrix.csv``, with the real files' columns and
quirks, so the whole seed pipeline (load, clean, index, fit, evaluate on
``small_matrix``) runs and is tested without the real data. The four side
tables are not written: nothing in fastals reads them. The shapes follow the
real data's published statistics (the KuaiRec paper and dataset page); where a
statistic is not published, the choice made here is stated below as an
assumption.

Sizes. ``scale`` is the share of the real row counts: users and videos are
both ``sqrt(scale)`` times the real 7,176 and 10,728, so densities stay as in
KuaiRec (big_matrix ~16% of cells, small_matrix ~99.6% of its block).

=====================  ==========  ==========  ============
scale                  1.0         0.02        0.001
=====================  ==========  ==========  ============
users / videos         7176/10728  1015/1517   227/339
small users / videos   1411/3327   200/471     45/105
big_matrix rows        ~12.5M      ~250k       ~12.5k
small_matrix rows      ~4.68M      ~94k        ~4.7k
=====================  ==========  ==========  ============

Writing is mostly pandas ``to_csv``; both matrices are written in chunks of
~300k rows at any scale. The time, CSV size and peak memory measured at scale
1.0 are in the repository's ``benchmarks/RESULTS.md`` (Data tools).

The planted model
-----------------
:mod:`fastals.data.planted`, with rank 8 and biases ``b_u, b_i ~ N(0, 0.4^2)``
(float64 draws). A watch has taste ``t = x_u . y_i + b_u + b_i + e`` with fresh
noise ``e ~ N(0, 0.5^2)`` and

    watch_ratio = 0.72 * exp(0.71 * t / sd(t))

(median 0.72, about 7% of watches at ``watch_ratio >= 2`` (7.2% measured at scale 1): the real
median, and the positive share reported for the real big_matrix).
``play_duration = round(watch_ratio * video_duration)`` and the written
``watch_ratio`` is exactly ``play_duration / video_duration``. Which videos
a user watches in big_matrix does not depend on taste (Poisson sampling with
power-law video popularity and a per-user activity level), so a model that
learns ``x_u . y_i + b_i`` from the positives in big_matrix ranks each
small_matrix user's videos better than popularity does.

Quirks reproduced
-----------------
- big_matrix leaves out every (small user, small video) cell, so no
  small_matrix pair occurs in it; every user and video appears in it.
- Re-watches: 5% of big_matrix's clean rows repeat a (user, video) pair at
  another time with a new ``watch_ratio`` (an assumption: the real share is
  not published).
- Exact duplicate rows: 7.71% of big_matrix's rows (the seed removed 7.71%),
  written right after the row they copy.
- small_matrix covers 99.62% of its block; 3.89% of its rows have empty
  ``time``, ``date`` and ``timestamp`` (the seed removed 3.89%).
- ``time`` is local time, e.g. ``2020-07-05 05:27:48.378``; ``date`` is its
  day, e.g. ``20200705``; ``timestamp`` is the epoch of ``time`` read as UTC+8
  (``1593898068.378``). Rows are user-major and in time order per user.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fastals.data.planted import (
    Taste,
    bernoulli,
    exposure,
    inclusion_scale,
    popularity_weights,
    row_chunks,
)
from fastals.kuairec.load import INTERACTION_COLUMNS, TABLE_FILES

__all__ = ["write_kuairec_folder"]

# ---------------------------------------------------------------- real-data constants
REAL_USERS, REAL_VIDEOS = 7176, 10728
REAL_SMALL_USERS, REAL_SMALL_VIDEOS = 1411, 3327
REAL_BIG_ROWS = 12_530_806
REAL_BIG_CLEAN_ROWS = 11_564_987
DUPLICATE_SHARE = 1.0 - REAL_BIG_CLEAN_ROWS / REAL_BIG_ROWS  # 7.71% of written rows
REWATCH_SHARE = 0.05  # of clean rows (assumption)
SMALL_DENSITY = 4_676_570 / (REAL_SMALL_USERS * REAL_SMALL_VIDEOS)  # 99.62%
SMALL_NAN_SHARE = 181_992 / 4_676_570  # 3.89%

# big_matrix and small_matrix periods, local time (UTC+8), as in KuaiRec.
BIG_START, BIG_END = (
    np.datetime64("2020-06-23T08:34:11.373"),
    np.datetime64("2020-09-10T07:32:12.427"),
)
SMALL_START = np.datetime64("2020-07-04T02:23:26.060")
SMALL_END = np.datetime64("2020-09-05T23:57:23.683")
UTC_OFFSET_MS = 8 * 3600 * 1000

# ---------------------------------------------------------------- model constants
TASTE_RANK = 8
BIAS_SD = 0.4
NOISE_SD = 0.5
MEDIAN_WATCH_RATIO = 0.72
LOG_SPREAD = 0.71  # sd of log(watch_ratio): P(watch_ratio >= 2) ~ 7.5%
POPULARITY_EXPONENT = 0.6
CHUNK_CELLS = 1 << 21  # dense cells per chunk of users (part of the random stream)
# Each chunk writes ~300k rows whatever the scale, so memory does not grow with it.


def _sizes(scale: float) -> dict[str, int]:
    f = float(np.sqrt(scale))
    n_users = max(30, round(REAL_USERS * f))
    n_videos = max(40, round(REAL_VIDEOS * f))
    return {
        "users": n_users,
        "videos": n_videos,
        "small_users": min(n_users - 10, max(6, round(REAL_SMALL_USERS * f))),
        "small_videos": min(n_videos - 10, max(12, round(REAL_SMALL_VIDEOS * f))),
        "min_rows": max(3, round(100 * f)),
    }


def _watch_ratio(
    taste: Taste, users: np.ndarray, videos: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One fresh watch_ratio (float64) per (user, video) row."""
    t = taste.pairs(users, videos) + NOISE_SD * rng.standard_normal(users.size)
    sd = np.sqrt(1.0 + 2 * BIAS_SD**2 + NOISE_SD**2)  # of t
    return MEDIAN_WATCH_RATIO * np.exp(LOG_SPREAD * t / sd)


def _times(
    n: int, start: np.datetime64, end: np.datetime64, rng: np.random.Generator
) -> np.ndarray:
    """Uniform local times in [start, end], datetime64[ms]."""
    span = int((end - start) / np.timedelta64(1, "ms"))
    return start + rng.integers(0, span + 1, n).astype("timedelta64[ms]")


def _time_columns(local: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``time`` text, ``date`` (int64 YYYYMMDD) and ``timestamp`` (UTC+8 epoch, float64)."""
    text = np.char.replace(np.datetime_as_string(local, unit="ms"), "T", " ")
    days = local.astype("datetime64[D]")
    months = local.astype("datetime64[M]")
    year = local.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    date = year * 10000 + month * 100 + day
    stamp = (local.astype(np.int64) - UTC_OFFSET_MS) / 1000.0
    return text.astype(object), date, stamp


def _interaction_frame(
    users: np.ndarray,
    videos: np.ndarray,
    watch_ratio: np.ndarray,
    durations: np.ndarray,
    local: np.ndarray,
    nan_time: np.ndarray | None = None,
) -> pd.DataFrame:
    video_duration = durations[videos]
    play = np.rint(watch_ratio * video_duration).astype(np.int64)
    text, date, stamp = _time_columns(local)
    date_col: np.ndarray | pd.arrays.IntegerArray = date
    if nan_time is not None and nan_time.any():
        text[nan_time] = None
        stamp[nan_time] = np.nan
        date_col = pd.array(date, dtype="Int64")
        date_col[nan_time] = pd.NA
    frame = pd.DataFrame(
        {
            "user_id": users,
            "video_id": videos,
            "play_duration": play,
            "video_duration": video_duration,
            "time": text,
            "date": date_col,
            "timestamp": stamp,
            "watch_ratio": play / video_duration,
        }
    )
    return frame[list(INTERACTION_COLUMNS)]


class _CsvWriter:
    """Append frames to ``<final>.tmp``; ``commit()`` renames it into place."""

    def __init__(self, final: Path):
        self.final = final
        self.tmp = final.with_name(final.name + ".tmp")
        self.handle = open(self.tmp, "w", newline="", encoding="utf-8")  # noqa: SIM115
        self.header = True

    def write(self, frame: pd.DataFrame) -> None:
        frame.to_csv(self.handle, index=False, header=self.header, lineterminator="\n")
        self.header = False

    def commit(self) -> None:
        self.handle.close()
        os.replace(self.tmp, self.final)

    def abort(self) -> None:
        self.handle.close()
        self.tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- big_matrix


def _big_matrix(
    path: Path,
    sizes: dict[str, int],
    taste: Taste,
    durations: np.ndarray,
    small_user: np.ndarray,
    small_video: np.ndarray,
    scale: float,
    rng: np.random.Generator,
    show_progress: bool,
) -> dict[str, int]:
    n_users, n_videos = sizes["users"], sizes["videos"]
    allowed = np.where(small_user, n_videos - small_video.sum(), n_videos).astype(np.float64)
    pairs_target = REAL_BIG_CLEAN_ROWS * (1.0 - REWATCH_SHARE) * scale
    mean_density = pairs_target / allowed.sum()
    # Activity: most users near the mean, a light tail and a few heavy users.
    g = np.clip(rng.normal(1.05, 0.3, n_users), 0.3, None)
    light = rng.random(n_users) < 0.05
    heavy = rng.random(n_users) < 0.02
    g[light] = rng.uniform(0.05, 0.4, light.sum())
    g[heavy] = rng.uniform(2.0, 5.0, heavy.sum())
    targets = np.clip(mean_density * g / g.mean() * allowed, sizes["min_rows"], 0.95 * allowed)

    weights = popularity_weights(n_videos, POPULARITY_EXPONENT, rng)
    scale_c = np.empty(n_users)
    masked = np.where(small_video, 0.0, weights)
    scale_c[~small_user] = inclusion_scale(targets[~small_user], weights)
    scale_c[small_user] = inclusion_scale(targets[small_user], masked)
    # Coverage: every video is watched by some non-small user, every user watches something.
    big_only_users = np.flatnonzero(~small_user)
    forced_user_of_video = big_only_users[rng.integers(0, big_only_users.size, n_videos)]
    non_small_videos = np.flatnonzero(~small_video)
    forced_video = np.where(
        small_user,
        non_small_videos[rng.integers(0, non_small_videos.size, n_users)],
        rng.integers(0, n_videos, n_users),
    )
    w32 = weights.astype(np.float32)
    p_rewatch = REWATCH_SHARE / (1.0 - REWATCH_SHARE)
    p_duplicate = DUPLICATE_SHARE / (1.0 - DUPLICATE_SHARE)

    counts = {"rows": 0, "pairs": 0, "rewatch_rows": 0, "duplicate_rows": 0, "positive_rows": 0}
    writer = _CsvWriter(path)
    try:
        chunks = list(row_chunks(n_users, n_videos, CHUNK_CELLS))
        for start, stop in tqdm(chunks, desc="writing big_matrix", disable=not show_progress):
            rows = stop - start
            prob = exposure(scale_c[start:stop], w32)
            prob[np.ix_(small_user[start:stop], small_video)] = 0.0
            prob[np.arange(rows), forced_video[start:stop]] = 1.0
            mine = (forced_user_of_video >= start) & (forced_user_of_video < stop)
            prob[forced_user_of_video[mine] - start, np.flatnonzero(mine)] = 1.0
            flat = bernoulli(prob, rng)
            users = (start + flat // n_videos).astype(np.int64)
            videos = (flat % n_videos).astype(np.int64)
            counts["pairs"] += users.size
            # Re-watches: the same pair again, at another time, with a new watch.
            again = rng.random(users.size) < p_rewatch
            users = np.concatenate([users, users[again]])
            videos = np.concatenate([videos, videos[again]])
            counts["rewatch_rows"] += int(again.sum())
            ratio = _watch_ratio(taste, users, videos, rng)
            local = _times(users.size, BIG_START, BIG_END, rng)
            order = np.lexsort((local, users))  # user-major, time order per user
            users, videos, ratio, local = users[order], videos[order], ratio[order], local[order]
            # Exact duplicates, each written right after the row it copies.
            copies = 1 + (rng.random(users.size) < p_duplicate)
            counts["duplicate_rows"] += int(copies.sum() - users.size)
            frame = _interaction_frame(users, videos, ratio, durations, local)
            frame = frame.iloc[np.repeat(np.arange(len(frame)), copies)]
            counts["positive_rows"] += int((frame["watch_ratio"].to_numpy() >= 2).sum())
            counts["rows"] += len(frame)
            writer.write(frame)
    except BaseException:
        writer.abort()
        raise
    writer.commit()
    return counts


# ---------------------------------------------------------------- small_matrix


def _small_matrix(
    path: Path,
    taste: Taste,
    durations: np.ndarray,
    small_users: np.ndarray,
    small_videos: np.ndarray,
    rng: np.random.Generator,
    show_progress: bool,
) -> dict[str, int]:
    n_su, n_sv = small_users.size, small_videos.size
    counts = {"rows": 0, "nan_time_rows": 0, "positive_rows": 0}
    writer = _CsvWriter(path)
    try:
        # small_matrix is ~dense: ~CHUNK_CELLS / 8 rows a chunk, as big_matrix's (16% of its cells)
        chunks = list(row_chunks(n_su, n_sv, CHUNK_CELLS // 8))
        for start, stop in tqdm(chunks, desc="writing small_matrix", disable=not show_progress):
            flat = np.flatnonzero(rng.random((stop - start, n_sv)) < SMALL_DENSITY)
            users = small_users[start + flat // n_sv]
            videos = small_videos[flat % n_sv]
            ratio = _watch_ratio(taste, users, videos, rng)
            local = _times(users.size, SMALL_START, SMALL_END, rng)
            nan_time = rng.random(users.size) < SMALL_NAN_SHARE
            # user-major; timed rows in time order, then the rows without a time
            order = np.lexsort((local, nan_time, users))
            users, videos, ratio, local, nan_time = (
                a[order] for a in (users, videos, ratio, local, nan_time)
            )
            frame = _interaction_frame(users, videos, ratio, durations, local, nan_time)
            counts["rows"] += len(frame)
            counts["nan_time_rows"] += int(nan_time.sum())
            counts["positive_rows"] += int((frame["watch_ratio"].to_numpy() >= 2).sum())
            writer.write(frame)
    except BaseException:
        writer.abort()
        raise
    writer.commit()
    return counts


# ---------------------------------------------------------------- public API


def write_kuairec_folder(
    path: str | os.PathLike,
    scale: float = 0.02,
    seed: int = 0,
    *,
    show_progress: bool = False,
) -> dict:
    """Write a KuaiRec-format folder (big_matrix.csv, small_matrix.csv) from the planted model.

    See the module docstring for the model, the sizes and the quirks. The same
    ``(scale, seed)`` gives byte-identical files. Memory stays bounded: the
    interaction tables are generated and written in chunks of users.

    Parameters
    ----------
    path : path-like
        Folder to write (created if needed; existing KuaiRec files are replaced).
        Each file is written to ``<name>.csv.tmp`` and renamed when complete.
    scale : float
        Share of the real KuaiRec row counts, in (0, 1]: 1.0 gives 7,176 users,
        10,728 videos and ~12.5M big_matrix rows; 0.02 (default) ~250k rows.
    seed : int
        Seed of ``np.random.default_rng`` (each table draws from its own stream).
    show_progress : bool
        tqdm bars while writing the interaction tables.

    Returns
    -------
    dict
        ``path``, ``scale``, ``seed``, ``users``, ``videos``, ``small_users``,
        ``small_videos``, ``rows`` (table -> rows written), ``big_pairs``
        (distinct pairs), ``big_rewatch_rows``, ``big_duplicate_rows``,
        ``big_positive_rows`` and ``small_positive_rows`` (``watch_ratio >= 2``,
        duplicates included), ``small_nan_time_rows``, ``bytes`` (table -> file size)
        and ``seconds``.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 1:
        raise ValueError(f"scale must be a number in (0, 1], got {scale!r}")
    started = time.perf_counter()
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = _sizes(float(scale))
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)]
    model_rng, big_rng, small_rng = streams

    n_users, n_videos = sizes["users"], sizes["videos"]
    taste = Taste(
        n_users, n_videos, model_rng, rank=TASTE_RANK, bias_sd=BIAS_SD, draw_dtype=np.float64
    )
    durations = np.clip(np.rint(model_rng.lognormal(np.log(9000.0), 0.6, n_videos)), 1000, 300_000)
    durations = durations.astype(np.int64)
    small_users = np.sort(model_rng.choice(n_users, size=sizes["small_users"], replace=False))
    small_videos = np.sort(model_rng.choice(n_videos, size=sizes["small_videos"], replace=False))
    small_user = np.zeros(n_users, dtype=bool)
    small_user[small_users] = True
    small_video = np.zeros(n_videos, dtype=bool)
    small_video[small_videos] = True

    big = _big_matrix(
        folder / TABLE_FILES["big_matrix"],
        sizes,
        taste,
        durations,
        small_user,
        small_video,
        float(scale),
        big_rng,
        show_progress,
    )
    small = _small_matrix(
        folder / TABLE_FILES["small_matrix"],
        taste,
        durations,
        small_users,
        small_videos,
        small_rng,
        show_progress,
    )
    rows = {"big_matrix": big["rows"], "small_matrix": small["rows"]}
    return {
        "path": str(folder),
        "scale": float(scale),
        "seed": seed,
        "users": n_users,
        "videos": n_videos,
        "small_users": int(small_users.size),
        "small_videos": int(small_videos.size),
        "rows": rows,
        "big_pairs": big["pairs"],
        "big_rewatch_rows": big["rewatch_rows"],
        "big_duplicate_rows": big["duplicate_rows"],
        "big_positive_rows": big["positive_rows"],
        "small_positive_rows": small["positive_rows"],
        "small_nan_time_rows": small["nan_time_rows"],
        "bytes": {n: (folder / f).stat().st_size for n, f in TABLE_FILES.items()},
        "seconds": time.perf_counter() - started,
    }
