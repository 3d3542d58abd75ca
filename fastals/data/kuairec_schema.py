"""The KuaiRec 2.0 files: table names, file names, columns and read dtypes (no data).

Shared by the loader (``kuairec.py``) and the KuaiRec-format generator (``kuairec_format.py``).
"""

from __future__ import annotations

import numpy as np

TABLES = (
    "big_matrix",
    "small_matrix",
    "social_network",
    "item_categories",
    "user_features",
    "item_daily_features",
)
TABLE_FILES = {name: f"{name}.csv" for name in TABLES}
REQUIRED_TABLES = ("big_matrix", "small_matrix")
INTERACTION_TABLES = ("big_matrix", "small_matrix")

# The seed's printed labels, in its order.
TABLE_LABELS = {
    "big_matrix": "Big matrix",
    "small_matrix": "Small matrix",
    "social_network": "Social network",
    "item_categories": "Item categories",
    "user_features": "User features",
    "item_daily_features": "Item daily features",
}

INTERACTION_COLUMNS = (
    "user_id",
    "video_id",
    "play_duration",
    "video_duration",
    "time",
    "date",
    "timestamp",
    "watch_ratio",
)

# Compact in-memory dtypes of the interaction columns after cleaning. Every
# numeric column is parsed as float64 first (the real small_matrix has NaN
# ``date``/``timestamp`` and a float-looking ``date``), nulls are dropped, then
# integer columns are checked to be whole and in range and cast down.
_INTERACTION_DTYPES = {
    "user_id": np.dtype(np.int32),
    "video_id": np.dtype(np.int32),
    "play_duration": np.dtype(np.int32),
    "video_duration": np.dtype(np.int32),
    "date": np.dtype(np.int32),
    "timestamp": np.dtype(np.float64),  # epoch seconds with milliseconds: needs float64
    "watch_ratio": np.dtype(np.float32),
}

USER_FEATURES_COLUMNS = (
    "user_id",
    "user_active_degree",
    "is_lowactive_period",
    "is_live_streamer",
    "is_video_author",
    "follow_user_num",
    "follow_user_num_range",
    "fans_user_num",
    "fans_user_num_range",
    "friend_user_num",
    "friend_user_num_range",
    "register_days",
    "register_days_range",
    *(f"onehot_feat{k}" for k in range(18)),
)

ITEM_DAILY_FEATURES_COLUMNS = (
    "video_id",
    "date",
    "author_id",
    "video_type",
    "upload_dt",
    "upload_type",
    "visible_status",
    "video_duration",
    "video_width",
    "video_height",
    "music_id",
    "video_tag_id",
    "video_tag_name",
    "show_cnt",
    "show_user_num",
    "play_cnt",
    "play_user_num",
    "play_duration",
    "complete_play_cnt",
    "complete_play_user_num",
    "valid_play_cnt",
    "valid_play_user_num",
    "long_time_play_cnt",
    "long_time_play_user_num",
    "short_time_play_cnt",
    "short_time_play_user_num",
    "play_progress",
    "comment_stay_duration",
    "like_cnt",
    "like_user_num",
    "click_like_cnt",
    "double_click_cnt",
    "cancel_like_cnt",
    "cancel_like_user_num",
    "comment_cnt",
    "comment_user_num",
    "direct_comment_cnt",
    "reply_comment_cnt",
    "delete_comment_cnt",
    "delete_comment_user_num",
    "comment_like_cnt",
    "comment_like_user_num",
    "follow_cnt",
    "follow_user_num",
    "cancel_follow_cnt",
    "cancel_follow_user_num",
    "share_cnt",
    "share_user_num",
    "download_cnt",
    "download_user_num",
    "report_cnt",
    "report_user_num",
    "reduce_similar_cnt",
    "reduce_similar_user_num",
    "collect_cnt",
    "collect_user_num",
    "cancel_collect_cnt",
    "cancel_collect_user_num",
)

SOCIAL_NETWORK_COLUMNS = ("user_id", "friend_list")
ITEM_CATEGORIES_COLUMNS = ("video_id", "feat")

TABLE_COLUMNS = {
    "big_matrix": INTERACTION_COLUMNS,
    "small_matrix": INTERACTION_COLUMNS,
    "social_network": SOCIAL_NETWORK_COLUMNS,
    "item_categories": ITEM_CATEGORIES_COLUMNS,
    "user_features": USER_FEATURES_COLUMNS,
    "item_daily_features": ITEM_DAILY_FEATURES_COLUMNS,
}

# Columns a file must have; the others of TABLE_COLUMNS are read when present.
REQUIRED_COLUMNS = {
    "big_matrix": ("user_id", "video_id", "watch_ratio"),
    "small_matrix": ("user_id", "video_id", "watch_ratio"),
    "social_network": SOCIAL_NETWORK_COLUMNS,
    "item_categories": ITEM_CATEGORIES_COLUMNS,
    "user_features": ("user_id",),
    "item_daily_features": ("video_id", "date"),
}

LIST_COLUMNS = {"social_network": ("friend_list",), "item_categories": ("feat",)}

DEFAULT_CHUNKSIZE = 500_000
