"""Side tables of a KuaiRec-format folder: social network, item categories, user features,
item daily features (see ``kuairec_format.write_kuairec_folder``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fastals.data.kuairec_schema import ITEM_DAILY_FEATURES_COLUMNS, USER_FEATURES_COLUMNS

DAILY_FIRST, DAILY_DAYS = np.datetime64("2020-07-05"), 63


def _list_strings(lists: list[np.ndarray]) -> np.ndarray:
    return np.array(["[" + ", ".join(str(int(v)) for v in x) + "]" for x in lists], dtype=object)


def _social_network(n_users: int, n_social: int, rng: np.random.Generator) -> pd.DataFrame:
    members = np.sort(rng.choice(n_users, size=min(n_social, n_users), replace=False))
    n_friends = rng.choice([1, 2, 3, 4, 5], size=members.size, p=[0.55, 0.2, 0.12, 0.08, 0.05])
    friends = []
    for user, k in zip(members, n_friends, strict=True):
        pool = rng.choice(n_users - 1, size=min(int(k), n_users - 1), replace=False)
        friends.append(np.where(pool >= user, pool + 1, pool))  # never oneself
    return pd.DataFrame({"user_id": members, "friend_list": _list_strings(friends)})


def _item_categories(n_videos: int, rng: np.random.Generator) -> pd.DataFrame:
    n_tags = rng.choice([1, 2, 3, 4], size=n_videos, p=[0.835, 0.15, 0.013, 0.002])
    tag_p = np.arange(1, 32, dtype=np.float64) ** -0.7
    tag_p = rng.permutation(tag_p / tag_p.sum())
    feats = [rng.choice(31, size=int(k), replace=False, p=tag_p) for k in n_tags]
    return pd.DataFrame({"video_id": np.arange(n_videos), "feat": _list_strings(feats)})


def _binned(values: np.ndarray, edges: list[float], labels: list[str], right: bool) -> np.ndarray:
    idx = np.searchsorted(np.asarray(edges), values, side="left" if right else "right")
    return np.asarray(labels, dtype=object)[idx]


def _user_features(n_users: int, rng: np.random.Generator) -> tuple[pd.DataFrame, int]:
    n = n_users
    follow = np.where(rng.random(n) < 0.05, 0, np.rint(rng.lognormal(3.0, 1.3, n))).astype(np.int64)
    fans = np.where(rng.random(n) < 0.4, 0, np.rint(rng.lognormal(0.8, 1.5, n))).astype(np.int64)
    friend = np.where(rng.random(n) < 0.5, 0, np.rint(rng.lognormal(0.7, 1.0, n))).astype(np.int64)
    register = np.rint(15 + rng.lognormal(5.3, 0.9, n)).astype(np.int64)
    cols: dict[str, np.ndarray] = {
        "user_id": np.arange(n),
        "user_active_degree": rng.choice(
            np.array(["full_active", "high_active", "middle_active", "UNKNOWN"], dtype=object),
            size=n,
            p=[0.55, 0.3, 0.14, 0.01],
        ),
        "is_lowactive_period": (rng.random(n) < 0.01).astype(np.int64),
        "is_live_streamer": (rng.random(n) < 0.02).astype(np.int64),
        "is_video_author": (rng.random(n) < 0.1).astype(np.int64),
        "follow_user_num": follow,
        "follow_user_num_range": _binned(
            follow,
            [0, 10, 50, 100, 150, 250, 500],
            ["0", "(0,10]", "(10,50]", "(50,100]", "(100,150]", "(150,250]", "(250,500]", "500+"],
            right=True,
        ),
        "fans_user_num": fans,
        "fans_user_num_range": _binned(
            fans,
            [1, 10, 100, 1000, 5000, 10000],
            ["0", "[1,10)", "[10,100)", "[100,1k)", "[1k,5k)", "[5k,1w)", "[1w,10w)"],
            right=False,
        ),
        "friend_user_num": friend,
        "friend_user_num_range": _binned(
            friend,
            [1, 5, 30, 60, 120, 250],
            ["0", "[1,5)", "[5,30)", "[30,60)", "[60,120)", "[120,250)", "250+"],
            right=False,
        ),
        "register_days": register,
        "register_days_range": _binned(
            register,
            [30, 60, 90, 180, 365, 730],
            ["15-30", "31-60", "61-90", "91-180", "181-365", "366-730", "730+"],
            right=True,
        ),
    }
    cards = [2, 8, 30, 1076, 12, 10, 3, 47, 340, 7, 5, 3, 2, 2, 2, 2, 2, 2]
    for k, card in enumerate(cards):
        cols[f"onehot_feat{k}"] = rng.integers(0, card, n)
    # NaN as in KuaiRec: onehot_feat4 on ~2.8% of rows, onehot_feat12..17 together on ~1.05%
    # (written as empty fields; the other values print as integers, as in the real file).
    u = rng.random(n)
    nan4 = u < 0.028
    nan12 = (u >= 0.028) & (u < 0.0385)
    for k, mask in [(4, nan4)] + [(k, nan12) for k in range(12, 18)]:
        column = pd.array(cols[f"onehot_feat{k}"], dtype="Int64")
        column[mask] = pd.NA
        cols[f"onehot_feat{k}"] = column
    frame = pd.DataFrame(cols)
    return frame[list(USER_FEATURES_COLUMNS)], int((nan4 | nan12).sum())


# (column, share of show_cnt) for the derived per-day counts.
_DAILY_RATES = {
    "show_user_num": 0.97,
    "play_cnt": 0.9,
    "play_user_num": 0.85,
    "complete_play_cnt": 0.35,
    "complete_play_user_num": 0.33,
    "valid_play_cnt": 0.6,
    "valid_play_user_num": 0.58,
    "long_time_play_cnt": 0.3,
    "long_time_play_user_num": 0.29,
    "short_time_play_cnt": 0.4,
    "short_time_play_user_num": 0.38,
    "like_cnt": 0.03,
    "like_user_num": 0.028,
    "click_like_cnt": 0.02,
    "double_click_cnt": 0.01,
    "cancel_like_cnt": 0.001,
    "cancel_like_user_num": 0.001,
    "comment_cnt": 0.004,
    "comment_user_num": 0.003,
    "direct_comment_cnt": 0.003,
    "reply_comment_cnt": 0.001,
    "delete_comment_cnt": 0.0002,
    "delete_comment_user_num": 0.0002,
    "comment_like_cnt": 0.002,
    "comment_like_user_num": 0.0015,
    "follow_cnt": 0.002,
    "follow_user_num": 0.002,
    "cancel_follow_cnt": 0.0002,
    "cancel_follow_user_num": 0.0002,
    "share_cnt": 0.002,
    "share_user_num": 0.0018,
    "download_cnt": 0.001,
    "download_user_num": 0.001,
    "report_cnt": 0.0001,
    "report_user_num": 0.0001,
    "reduce_similar_cnt": 0.0005,
    "reduce_similar_user_num": 0.0005,
    "collect_cnt": 0.001,
    "collect_user_num": 0.001,
    "cancel_collect_cnt": 0.0001,
    "cancel_collect_user_num": 0.0001,
}
# NaN shares per row in KuaiRec's item_daily_features (independent here: ~30% of rows).
_DAILY_NAN = {"video_duration": 0.0309, "video_tag_name": 0.0945, "collect": 0.203}


def _item_daily_features(
    n_videos: int, durations: np.ndarray, rng: np.random.Generator
) -> tuple[pd.DataFrame, int]:
    days = rng.integers(1, DAILY_DAYS + 1, n_videos)  # rows per video, mean ~32 (real 32.0)
    first = rng.integers(0, DAILY_DAYS - days + 1)
    video = np.repeat(np.arange(n_videos), days)
    offset = np.arange(video.size) - np.repeat(np.cumsum(days) - days, days) + first[video]
    day = DAILY_FIRST + offset.astype("timedelta64[D]")
    n = video.size
    # Per-video constants.
    upload = (
        DAILY_FIRST
        - rng.integers(0, 400, n_videos).astype("timedelta64[D]")
        + first.astype("timedelta64[D]")
    )
    tag_id = rng.integers(0, 40, n_videos)
    width = rng.choice([576, 720, 1080], size=n_videos, p=[0.2, 0.6, 0.2])
    portrait = rng.random(n_videos) < 0.85
    height = np.where(portrait, width * 16 // 9, width * 9 // 16)
    vtype = rng.choice(np.array(["NORMAL", "AD"], dtype=object), size=n_videos, p=[0.98, 0.02])
    utype = rng.choice(
        np.array(["ShortImport", "Web", "Kmovie", "LongImport", "ShortCamera"], dtype=object),
        size=n_videos,
        p=[0.5, 0.2, 0.1, 0.1, 0.1],
    )
    cols: dict[str, np.ndarray] = {
        "video_id": video,
        "date": np.char.replace(np.datetime_as_string(day), "-", "").astype(np.int64),
        "author_id": rng.integers(0, max(2, n_videos // 2), n_videos)[video],
        "video_type": vtype[video],
        "upload_dt": np.datetime_as_string(upload).astype(object)[video],
        "upload_type": utype[video],
        "visible_status": rng.choice(
            np.array(["public", "friend_visible", "private"], dtype=object),
            size=n_videos,
            p=[0.97, 0.01, 0.02],
        )[video],
        "video_duration": durations[video].astype(np.float64),
        "video_width": width[video],
        "video_height": height[video],
        "music_id": rng.integers(0, 10 * n_videos, n_videos)[video],
        "video_tag_id": tag_id[video],
        "video_tag_name": np.array([f"tag_{t}" for t in range(40)], dtype=object)[tag_id][video],
    }
    show = rng.poisson(rng.lognormal(6.0, 1.5, n_videos)[video] * rng.uniform(0.3, 1.2, n))
    cols["show_cnt"] = show
    for name, rate in _DAILY_RATES.items():
        cols[name] = rng.binomial(show, rate)
    cols["play_duration"] = cols["play_cnt"] * np.rint(0.8 * durations[video]).astype(np.int64)
    cols["play_progress"] = np.round(rng.beta(4, 3, n), 6)
    cols["comment_stay_duration"] = cols["comment_cnt"] * rng.integers(0, 20000, n)
    frame = pd.DataFrame(cols)
    nan_dur = rng.random(n) < _DAILY_NAN["video_duration"]
    nan_tag = rng.random(n) < _DAILY_NAN["video_tag_name"]
    nan_collect = rng.random(n) < _DAILY_NAN["collect"]
    frame.loc[nan_dur, "video_duration"] = np.nan
    frame.loc[nan_tag, "video_tag_name"] = None
    collect = ["collect_cnt", "collect_user_num", "cancel_collect_cnt", "cancel_collect_user_num"]
    frame[collect] = frame[collect].astype("Int64")
    frame.loc[nan_collect, collect] = pd.NA
    return frame[list(ITEM_DAILY_FEATURES_COLUMNS)], int((nan_dur | nan_tag | nan_collect).sum())


# ---------------------------------------------------------------- public API
