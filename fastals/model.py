"""FactorModel: serving for every model that scores user u and item i by x_u . y_i.

A model supplies ``user_factors`` (n_users, k) and ``item_factors`` (n_items, k) and, when it
can fold new rows in, ``recalculate_user`` / ``recalculate_item``; this class owns
recommend, similar_items, similar_users, predict and the deprecated implicit entry points,
with implicit 0.7.3's output contract: int32 ids, scores in the factor dtype, 1-D results
for a scalar id and 2-D for an array, filtered items at ``-finfo(dtype).max`` in the tail,
ties broken as implicit breaks them.
"""

import warnings

import numpy as np

from . import recommend  # the module: method bodies see it, not FactorModel.recommend
from ._validation import (
    NotFittedError,
    batch_shape,
    check_ids,
    check_positive_int,
    check_rows,
)


class FactorModel:
    """Top-k serving over ``user_factors`` and ``item_factors``; models supply the factors."""

    user_factors: np.ndarray | None = None
    item_factors: np.ndarray | None = None
    num_threads: int = 0
    _user_norms: np.ndarray | None = None
    _item_norms: np.ndarray | None = None

    def _require_fitted(self):
        if self.user_factors is None or self.item_factors is None:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet (no factors): call fit() (or load()) "
                "first"
            )
        return len(self.user_factors), len(self.item_factors)

    def recalculate_user(self, userid, user_items):
        """Factors for users from their rows (folded in, not stored on the model)."""
        raise NotImplementedError(f"{type(self).__name__} cannot recalculate users")

    def recalculate_item(self, itemid, item_users):
        """Factors for items from their rows (folded in, not stored on the model)."""
        raise NotImplementedError(f"{type(self).__name__} cannot recalculate items")

    def recommend(
        self,
        userid,
        user_items,
        N=10,
        filter_already_liked_items=True,
        filter_items=None,
        recalculate_user=False,
        items=None,
    ):
        """Top-N items for a user id (1-D results) or an array of ids (2-D results).

        ``user_items`` holds one row per requested user (CSR; needed when filtering liked
        items or recalculating). Filtered items score ``-finfo(dtype).max`` and sink to the
        tail. ``items`` restricts the ranking to those ids (then ids come from the sorted
        ``items``). Ties are broken exactly as implicit breaks them. Returns (ids int32,
        scores in the factor dtype); N is capped at the number of candidate items.
        """
        n_users, n_items = self._require_fitted()
        scalar, count = batch_shape(userid, "userid", "users")
        rows = None
        if filter_already_liked_items or recalculate_user:
            rows = check_rows(user_items, count, n_items, "user_items", "users", "items", n_users)
        if recalculate_user:
            queries = np.atleast_2d(self.recalculate_user(userid, rows))
        else:
            queries = self.user_factors[
                np.atleast_1d(check_ids(userid, n_users, "userid", "users"))
            ]
        candidates, item_pos = self.item_factors, None
        if items is not None:
            if recommend.nonempty(filter_items):
                raise ValueError("Can't set both items and filter_items in recommend call")
            items, item_pos = recommend.subset_positions(items, n_items, "items", "items")
            candidates = candidates[items]
        ids, scores = recommend.top_k(
            queries,
            candidates,
            recommend.check_n(N, len(candidates)),
            liked=rows if filter_already_liked_items else None,
            item_pos=item_pos,
            filter_pos=recommend.filter_positions(filter_items, n_items, "filter_items", "items"),
            num_threads=self.num_threads,
        )
        if items is not None:
            ids = items[ids]
        return (ids[0], scores[0]) if scalar else (ids, scores)

    def similar_items(
        self, itemid, N=10, recalculate_item=False, item_users=None, filter_items=None, items=None
    ):
        """Items most similar to ``itemid`` by cosine of the factors (the item itself included)."""
        _, n_items = self._require_fitted()
        ids = None
        if recalculate_item:
            factor = self.recalculate_item(itemid, item_users)
            norm = norms(np.atleast_2d(factor))
        else:
            ids = np.atleast_1d(check_ids(itemid, n_items, "itemid", "items"))
            factor, norm = self.item_factors[ids], self.item_norms[ids]
        return self._similar(
            factor,
            norm,
            side="items",
            scalar=np.ndim(itemid) == 0,
            N=N,
            filter_ids=filter_items,
            subset=items,
            every_row=_every_row(ids, n_items),
        )

    def similar_users(self, userid, N=10, filter_users=None, users=None):
        """Users most similar to ``userid`` by cosine of the factors (the user itself included)."""
        n_users, _ = self._require_fitted()
        ids = np.atleast_1d(check_ids(userid, n_users, "userid", "users"))
        return self._similar(
            self.user_factors[ids],
            self.user_norms[ids],
            side="users",
            scalar=np.ndim(userid) == 0,
            N=N,
            filter_ids=filter_users,
            subset=users,
            every_row=_every_row(ids, n_users),
        )

    def _similar(self, factor, norm, *, side, scalar, N, filter_ids, subset, every_row):
        """Cosine top-N of the query ``factor`` rows (norms ``norm``) among the ``side``
        ("items" or "users"); ``every_row``: the queries are all rows, in order."""
        factors = self.item_factors if side == "items" else self.user_factors
        all_norms = self.item_norms if side == "items" else self.user_norms
        filter_name, subset_name = f"filter_{side}", side
        count = len(factors)
        if subset is not None:
            if recommend.nonempty(filter_ids):
                raise ValueError(f"Can't set both {subset_name} and {filter_name} in similar call")
            subset, _ = recommend.subset_positions(subset, count, subset_name, side)
            factors, all_norms = factors[subset], all_norms[subset]
        N = recommend.check_n(N, len(factors))
        filter_pos = recommend.filter_positions(filter_ids, count, filter_name, side)
        if every_row and subset is None and filter_pos is None:
            ids, scores = recommend.top_k_pairs(
                factors, N, norms=all_norms, num_threads=self.num_threads
            )
        else:
            ids, scores = recommend.top_k(
                np.atleast_2d(factor),
                factors,
                N,
                norms=all_norms,
                filter_pos=filter_pos,
                num_threads=self.num_threads,
            )
        with np.errstate(over="ignore"):  # filtered -finfo.max / small norm -> -inf, as implicit
            scores /= np.asarray(norm, dtype=scores.dtype).reshape(-1, 1)
        if subset is not None:
            ids = subset[ids]
        return (ids[0], scores[0]) if scalar else (ids, scores)

    def predict(self, userids, itemids):
        """Scores x_u . y_i for the given (user, item) pairs, broadcast like NumPy arrays."""
        n_users, n_items = self._require_fitted()
        u, i = np.broadcast_arrays(
            check_ids(userids, n_users, "userid", "users", any_shape=True),
            check_ids(itemids, n_items, "itemid", "items", any_shape=True),
        )
        scores = np.einsum("...f,...f->...", self.user_factors[u], self.item_factors[i])
        return scores[()] if scores.ndim == 0 else scores

    def rank_items(self, userid, user_items, selected_items, recalculate_user=False):
        """Deprecated in implicit (use ``recommend(..., items=selected_items)``); kept for
        older scripts with implicit 0.7.3's semantics: the top 10 of ``selected_items``,
        liked items not filtered."""
        warnings.warn(
            "rank_items is deprecated. Use recommend with the 'items' parameter instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.recommend(
            userid,
            user_items,
            recalculate_user=recalculate_user,
            items=selected_items,
            filter_already_liked_items=False,
        )

    def recommend_all(
        self,
        user_items,
        N=10,
        recalculate_user=False,
        filter_already_liked_items=True,
        filter_items=None,
        users_items_offset=0,
    ):
        """Deprecated in implicit (use ``recommend`` with an array of user ids); kept for older
        scripts. Row r of ``user_items`` is user ``users_items_offset + r``; returns the ids
        only, (n_rows, N). (implicit 0.7.3 pads ``user_items`` with ``users_items_offset``
        empty rows, which its own ``recommend`` then refuses: an offset works here.)"""
        warnings.warn(
            "recommend_all is deprecated. Use recommend with an array of userids instead",
            DeprecationWarning,
            stacklevel=2,
        )
        offset = check_positive_int("users_items_offset", users_items_offset, minimum=0)
        n_rows = user_items.shape[0] if hasattr(user_items, "shape") else None
        if n_rows is None or len(user_items.shape) != 2:
            raise TypeError("user_items must be a users x items CSR matrix")
        ids, _ = self.recommend(
            np.arange(offset, offset + n_rows),
            user_items,
            N=N,
            filter_already_liked_items=filter_already_liked_items,
            filter_items=filter_items,
            recalculate_user=recalculate_user,
        )
        return ids

    def to_gpu(self):
        """Not available: fastals has no GPU build."""
        raise ValueError("to_gpu() is not supported: fastals has no GPU build (CPU only)")

    @property
    def user_norms(self):
        """L2 norm of each user factor (n_users,), 0 replaced by 1e-10."""
        if self._user_norms is None:
            self._user_norms = norms(self.user_factors)
        return self._user_norms

    @property
    def item_norms(self):
        """L2 norm of each item factor (n_items,), 0 replaced by 1e-10."""
        if self._item_norms is None:
            self._item_norms = norms(self.item_factors)
        return self._item_norms


def _every_row(ids, count):
    """True when the query ids are all ``count`` rows in order (the all-pairs fast path)."""
    return (
        ids is not None
        and len(ids) == count >= recommend.TRANSPOSE_MIN_QUERIES
        and bool(np.all(ids == np.arange(count)))
    )


def norms(factors):
    """Row norms of ``factors``, 0 replaced by 1e-10 (as implicit)."""
    out = np.linalg.norm(factors, axis=-1)
    out[out == 0] = 1e-10
    return out
