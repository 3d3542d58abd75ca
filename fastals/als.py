"""AlternatingLeastSquares: implicit ALS with implicit 0.7.3's API, on fastals' own kernels."""

import logging
import time
import warnings

import numpy as np
from tqdm.auto import tqdm

from . import recommend as serving
from . import solvers
from ._kernels.linalg import cholesky_factor, cholesky_substitute
from ._threads import thread_scope
from ._validation import (
    ModelFitError,
    NotFittedError,
    batch_shape,
    check_hyperparameters,
    check_ids,
    check_positive_int,
    check_rows,
    confidences,
    to_csr,
)

log = logging.getLogger("fastals")
# ids come back as int32 (as implicit's): the largest id a model grows to
MAX_ID = np.iinfo(np.int32).max - 1


class AlternatingLeastSquares:
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) solved by CG or Cholesky.

    A drop-in for ``implicit.als.AlternatingLeastSquares`` (0.7.3, CPU): same parameters in
    the same order, same confidence semantics, same seeding (same ``random_state`` gives the
    same factors up to rounding).

    Parameters
    ----------
    factors : int
        Number of latent factors k.
    regularization : float
        lambda >= 0 in the objective.
    alpha : float
        Stored values are multiplied by alpha (in float32) to give confidences.
    dtype : float32 or float64
        dtype of the factors.
    use_native : bool
        True: the Numba kernels. False: the readable NumPy reference (slow; for teaching).
    use_cg : bool
        True: ``cg_steps`` conjugate-gradient steps per row per sweep. False: exact Cholesky.
    use_gpu : bool
        Must be False: fastals has no GPU build.
    iterations : int
        ALS iterations (each solves all users, then all items).
    calculate_training_loss : bool
        Compute the loss after each iteration (kept in ``loss_history``).
    num_threads : int
        Numba threads for fit; 0 means all cores. Results do not depend on it.
    random_state : int, None, np.random.Generator or np.random.RandomState
        Seed of the initial factors.
    cg_steps : int, keyword only
        CG steps per row per sweep (implicit: attribute only, default 3).

    Attributes
    ----------
    user_factors : ndarray (n_users, factors) or None
    item_factors : ndarray (n_items, factors) or None
    loss_history : list of float
        Training loss after each iteration of the last fit (when calculated).
    fit_callback : callable or None
        Used when ``fit`` gets no callback.
    """

    def __init__(
        self,
        factors=100,
        regularization=0.01,
        alpha=1.0,
        dtype=np.float32,
        use_native=True,
        use_cg=True,
        use_gpu=False,
        iterations=15,
        calculate_training_loss=False,
        num_threads=0,
        random_state=None,
        *,
        cg_steps=3,
    ):
        if use_gpu:
            raise ValueError("use_gpu=True is not supported: fastals has no GPU build (CPU only)")
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.dtype = dtype
        self.use_native = use_native
        self.use_cg = use_cg
        self.iterations = iterations
        self.calculate_training_loss = calculate_training_loss
        self.num_threads = num_threads
        self.random_state = random_state
        self.cg_steps = cg_steps
        check_hyperparameters(self)

        self.user_factors = None
        self.item_factors = None
        self.fit_callback = None
        self.loss_history = []
        self._YtY = self._XtX = None
        self._user_norms = self._item_norms = None

    @property
    def solver(self):
        """Name of the solver ``fit`` runs: "cg" or "cholesky"."""
        return "cg" if self.use_cg else "cholesky"

    def fit(self, user_items, show_progress=True, callback=None):
        """Factorise ``user_items`` (users x items, CSR) into user and item factors.

        Stored value v (times alpha) gives confidence C = |v| and preference p = [v > 0];
        a stored 0 gives C = 0; absent cells have C = 1, p = 0. Factors are initialised
        (from ``random_state``) only when they are None, so a second fit warm-starts; a
        refit on a matrix of another shape raises ValueError (implicit segfaults): set both
        factor attributes to None to train afresh.

        ``callback(iteration, elapsed_seconds, loss_or_None)`` runs after each iteration
        (``fit_callback`` when none is given). Beyond implicit: if it returns ``False``,
        training stops after that iteration.
        """
        check_hyperparameters(self)
        Cui = to_csr(user_items, "user_items")
        n_users, n_items = Cui.shape
        self._check_refit_shape(n_users, n_items)
        if self.factors > min(n_users, n_items):
            warnings.warn(
                f"factors={self.factors} exceeds min(n_users, n_items)={min(n_users, n_items)}: "
                "the model is over-parameterised (regularization keeps the solves well-posed)",
                UserWarning,
                stacklevel=2,
            )
        Cui = confidences(Cui, self.alpha, self.dtype)
        users = solvers.SweepMatrix(Cui)
        items = users.transpose()
        del Cui
        self._init_factors(n_users, n_items)
        self._YtY = self._XtX = None
        self._user_norms = self._item_norms = None
        self.loss_history = []
        callback = callback or self.fit_callback
        loss_wanted = bool(self.calculate_training_loss)

        run = dict(
            regularization=self.regularization,
            solver=self.solver,
            cg_steps=self.cg_steps,
            native=bool(self.use_native),
        )
        with (
            thread_scope(self.num_threads, work=max(users.indptr[-1], n_users) * self.factors),
            tqdm(total=self.iterations, disable=not show_progress) as progress,
        ):
            for iteration in range(self.iterations):
                start = time.time()
                X, Y = self.user_factors, self.item_factors
                solvers.half_sweep(users, X, Y, **run)
                # the loss is taken in the item sweep, at the new item factors
                numerator = solvers.half_sweep(items, Y, X, **run, with_loss=loss_wanted)
                progress.update(1)
                loss = None
                if loss_wanted:
                    loss = solvers.finish_loss(numerator, items, X, self.regularization)
                    self.loss_history.append(loss)
                    progress.set_postfix({"loss": loss})
                    if not show_progress:
                        log.info("loss %.4f", loss)
                if callback and callback(iteration, time.time() - start, loss) is False:
                    log.info("callback returned False: stopping after iteration %d", iteration)
                    break
        self._check_fit_errors()

    def _check_refit_shape(self, n_users, n_items):
        expected = (
            None if self.user_factors is None else len(self.user_factors),
            None if self.item_factors is None else len(self.item_factors),
        )
        if expected[0] in (None, n_users) and expected[1] in (None, n_items):
            return
        hint = ""
        if (n_items, n_users) == expected:
            hint = " It looks transposed: fit expects users x items."
        raise ValueError(
            f"user_items has shape {(n_users, n_items)} but the model's factors were trained for "
            f"{expected[0]} users x {expected[1]} items.{hint} To train afresh on another matrix, "
            "set user_factors and item_factors to None (or create a new model)."
        )

    def _init_factors(self, n_users, n_items):
        rng = _rng(self.random_state)
        # implicit's order: users first, then items, each only when missing
        if self.user_factors is None:
            self.user_factors = rng.random((n_users, self.factors), dtype=self.dtype) * 0.01
        if self.item_factors is None:
            self.item_factors = rng.random((n_items, self.factors), dtype=self.dtype) * 0.01
        for name in ("user_factors", "item_factors"):
            factors = getattr(self, name)
            if factors.ndim != 2 or factors.shape[1] != self.factors:
                raise ValueError(
                    f"{name} has shape {factors.shape} but factors={self.factors}; set it to None "
                    "to re-initialise"
                )
            setattr(self, name, np.ascontiguousarray(factors, dtype=self.dtype))

    def _check_fit_errors(self):
        for name in ("user_factors", "item_factors"):
            bad = ~np.isfinite(getattr(self, name)).all(axis=1)
            if bad.any():
                raise ModelFitError(
                    f"NaN encountered in factors: {int(bad.sum())} rows of {name} are not finite "
                    f"(first row {int(np.flatnonzero(bad)[0])}). Try a larger regularization or a "
                    "smaller alpha."
                )

    # ------------------------------------------------------------------ serving

    def _require_fitted(self):
        if self.user_factors is None or self.item_factors is None:
            raise NotFittedError("the model has no factors yet: call fit() (or load()) first")
        return len(self.user_factors), len(self.item_factors)

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
        return serving.rank_items(
            queries,
            self.item_factors,
            rows,
            N,
            filter_already_liked_items,
            filter_items,
            items,
            self.num_threads,
            scalar,
        )

    def similar_items(
        self, itemid, N=10, recalculate_item=False, item_users=None, filter_items=None, items=None
    ):
        """Items most similar to ``itemid`` by cosine of the factors (the item itself included)."""
        _, n_items = self._require_fitted()
        ids = None
        if recalculate_item:
            factor = self.recalculate_item(itemid, item_users)
            norm = _norms(np.atleast_2d(factor))
        else:
            ids = np.atleast_1d(check_ids(itemid, n_items, "itemid", "items"))
            factor, norm = self.item_factors[ids], self.item_norms[ids]
        return self._similar(
            np.ndim(itemid) == 0,
            factor,
            norm,
            self.item_factors,
            self.item_norms,
            N,
            filter_items,
            items,
            ("filter_items", "items", "items"),
            _every_row(ids, n_items),
        )

    def similar_users(self, userid, N=10, filter_users=None, users=None):
        """Users most similar to ``userid`` by cosine of the factors (the user itself included)."""
        n_users, _ = self._require_fitted()
        ids = np.atleast_1d(check_ids(userid, n_users, "userid", "users"))
        return self._similar(
            np.ndim(userid) == 0,
            self.user_factors[ids],
            self.user_norms[ids],
            self.user_factors,
            self.user_norms,
            N,
            filter_users,
            users,
            ("filter_users", "users", "users"),
            _every_row(ids, n_users),
        )

    def _similar(
        self, scalar, factor, norm, factors, norms, N, filter_ids, subset, names, every_row
    ):
        """Shared by similar_items/users; ``every_row``: the queries are all rows, in order."""
        filter_name, subset_name, what = names
        count = len(factors)
        if subset is not None:
            if serving.nonempty(filter_ids):
                raise ValueError(f"Can't set both {subset_name} and {filter_name} in similar call")
            subset, _ = serving.subset_positions(subset, count, subset_name, what)
            factors, norms = factors[subset], norms[subset]
        N = serving.check_n(N, len(factors))
        filter_pos = serving.filter_positions(filter_ids, count, filter_name, what)
        if every_row and subset is None and filter_pos is None:
            ids, scores = serving.top_k_pairs(factors, N, norms=norms, num_threads=self.num_threads)
        else:
            ids, scores = serving.top_k(
                np.atleast_2d(factor),
                factors,
                N,
                norms=norms,
                filter_pos=filter_pos,
                num_threads=self.num_threads,
            )
        with np.errstate(over="ignore"):  # filtered -finfo.max / small norm -> -inf, as implicit
            scores /= np.asarray(norm, dtype=scores.dtype).reshape(-1, 1)
        if subset is not None:
            ids = subset[ids]
        return (ids[0], scores[0]) if scalar else (ids, scores)

    def recalculate_user(self, userid, user_items):
        """Exact (Cholesky) factors for users from their rows, not stored on the model.

        ``user_items`` has one row per user in ``userid``; returns (factors,) for a scalar
        id or (len(userid), factors).
        """
        n_users, n_items = self._require_fitted()
        scalar, count = batch_shape(userid, "userid", "users")
        rows = check_rows(user_items, count, n_items, "user_items", "users", "items", n_users)
        out = self._solve_rows(rows, self.item_factors, self.YtY)
        return out[0] if scalar else out

    def recalculate_item(self, itemid, item_users):
        """Exact (Cholesky) factors for items from their rows (items x users), not stored."""
        n_users, n_items = self._require_fitted()
        scalar, count = batch_shape(itemid, "itemid", "items")
        rows = check_rows(item_users, count, n_users, "item_users", "items", "users", n_items)
        out = self._solve_rows(rows, self.user_factors, self.XtX)
        return out[0] if scalar else out

    def _solve_rows(self, rows, other, other_gram):
        M = solvers.SweepMatrix(confidences(rows, self.alpha, self.dtype))
        out = np.zeros((rows.shape[0], self.factors), dtype=self.dtype)
        other = np.ascontiguousarray(other, dtype=self.dtype)
        with thread_scope(self.num_threads):
            solvers.half_sweep(M, out, other, self.regularization, "cholesky", YtY=other_gram)
        return out

    def partial_fit_users(self, userids, user_items):
        """Re-solve and store the factors of ``userids``; new ids grow the model."""
        self.user_factors = self._partial_fit(userids, user_items, self.user_factors, "user")
        self._user_norms = self._XtX = None

    def partial_fit_items(self, itemids, item_users):
        """Re-solve and store the factors of ``itemids``; new ids grow the model."""
        self.item_factors = self._partial_fit(itemids, item_users, self.item_factors, "item")
        self._item_norms = self._YtY = None

    def _partial_fit(self, ids, rows, factors, side):
        self._require_fitted()
        name, rows_name = f"{side}ids", ("user_items" if side == "user" else "item_users")
        ids = check_ids(ids, None, name, f"{side}s")
        if ids.ndim == 0:
            raise TypeError(f"{name} must be a 1-D array of integer ids")
        if ids.size and ids.min() < 0:
            raise IndexError(f"{side}id {int(ids.min())} is negative")
        if ids.size and ids.max() > MAX_ID:
            raise IndexError(
                f"{side}id {int(ids.max())} is too large: a model holds ids up to {MAX_ID} "
                "(ids are returned as int32, as implicit returns them)"
            )
        n_rows = rows.shape[0] if hasattr(rows, "shape") else None
        if n_rows != ids.size:
            raise ValueError(f"{rows_name} must contain 1 row for every {side} in {name}")
        recalculate = self.recalculate_user if side == "user" else self.recalculate_item
        solved = recalculate(ids, rows)
        if ids.size and ids.max() >= len(factors):
            new_size = int(ids.max()) + 1
            try:
                grown = np.zeros((new_size, factors.shape[1]), dtype=factors.dtype)
            except MemoryError:
                raise ValueError(
                    f"{side}id {new_size - 1} would grow the model to {new_size} {side}s, "
                    f"{new_size * factors.shape[1] * factors.itemsize / 2**30:.1f} GiB of "
                    "factors: more memory than there is"
                ) from None
            grown[: len(factors)] = factors
            factors = grown
        factors[ids] = solved
        return factors

    def explain(self, userid, user_items, itemid, user_weights=None, N=10):
        """Why ``itemid`` is recommended to ``userid``: each liked item's share of the score.

        ``user_items`` is the users x items matrix (row ``userid`` is read). Returns
        (total_score, [(itemid, contribution), ...] top N, user_weights) where user_weights
        is the lower Cholesky factor L of A_u (pass it back to skip the factorisation; a
        scipy ``cho_factor`` tuple is accepted too). Hu et al. 2008, section 5.
        """
        n_users, n_items = self._require_fitted()
        for value, name, count, what in (
            (userid, "userid", n_users, "users"),
            (itemid, "itemid", n_items, "items"),
        ):
            if check_ids(value, count, name, what).ndim != 0:
                raise TypeError(f"explain takes one {name} (an integer), got {value!r:.80}")
        userid, itemid = int(userid), int(itemid)
        N = serving.check_n(N, n_items)
        rows = to_csr(user_items, "user_items")
        n_rows, n_cols = rows.shape
        transposed = (n_rows, n_cols) == (n_items, n_users)
        if n_cols > n_items or n_rows <= userid or (n_cols < n_items and transposed):
            hint = " It looks transposed (items x users)." if n_cols == n_users else ""
            raise ValueError(
                f"user_items must be the users x items matrix (row {userid} is read): expected "
                f"{n_items} columns and more than {userid} rows, got shape {rows.shape}.{hint}"
            )
        row = confidences(rows[userid], self.alpha, np.dtype(np.float64))
        liked, conf = row.indices, row.data
        Y = self.item_factors.astype(np.float64)
        if user_weights is None:
            A = self.YtY.astype(np.float64) + self.regularization * np.eye(self.factors)
            Yl = Y[liked]
            A += (Yl * (np.abs(conf) - 1)[:, None]).T @ Yl
            if cholesky_factor(A) != 0:
                raise ValueError(f"A_u of user {userid} is not positive definite")
            user_weights = np.tril(A)
        L = _as_lower_factor(user_weights, self.factors)
        weighted = Y[itemid].copy()
        cholesky_substitute(L, weighted)
        keep = conf >= 0
        liked, contributions = liked[keep], (Y[liked[keep]] @ weighted) * conf[keep]
        if not np.isfinite(contributions).all():
            raise ValueError(
                "user_weights gives non-finite contributions: it is not the Cholesky factor of "
                "this user's A_u (pass back the user_weights explain returned, or None)"
            )
        order = np.lexsort((liked, contributions))[::-1][:N]
        top = [(int(liked[j]), float(contributions[j])) for j in order]
        return float(contributions.sum()), top, user_weights

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

    def predict(self, userids, itemids):
        """Scores x_u . y_i for the given (user, item) pairs, broadcast like NumPy arrays."""
        n_users, n_items = self._require_fitted()
        u, i = np.broadcast_arrays(
            check_ids(userids, n_users, "userid", "users", any_shape=True),
            check_ids(itemids, n_items, "itemid", "items", any_shape=True),
        )
        scores = np.einsum("...f,...f->...", self.user_factors[u], self.item_factors[i])
        return scores[()] if scores.ndim == 0 else scores

    # ------------------------------------------------------------------ persistence

    def save(self, fileobj_or_path):
        """Save to an .npz in implicit 0.7.3's layout (loadable by implicit too); no pickle."""
        from .io import save_model

        save_model(self, fileobj_or_path)

    @classmethod
    def load(cls, fileobj_or_path):
        """Load a model saved by fastals or by implicit 0.7.3."""
        from .io import load_model

        return load_model(cls, fileobj_or_path)

    def _gram(self, factors):
        with thread_scope(self.num_threads):
            return solvers.gram(factors)

    @property
    def YtY(self):
        """Y^T Y (factors, factors), without regularisation; cached until the next fit."""
        if self._YtY is None:
            self._YtY = self._gram(self.item_factors)
        return self._YtY

    @property
    def XtX(self):
        """X^T X (factors, factors), without regularisation; cached until the next fit."""
        if self._XtX is None:
            self._XtX = self._gram(self.user_factors)
        return self._XtX

    @property
    def user_norms(self):
        """L2 norm of each user factor (n_users,), 0 replaced by 1e-10."""
        if self._user_norms is None:
            self._user_norms = _norms(self.user_factors)
        return self._user_norms

    @property
    def item_norms(self):
        """L2 norm of each item factor (n_items,), 0 replaced by 1e-10."""
        if self._item_norms is None:
            self._item_norms = _norms(self.item_factors)
        return self._item_norms


def _as_lower_factor(user_weights, factors):
    """``explain``'s ``user_weights`` as a checked lower Cholesky factor, float64 (k, k)."""
    if isinstance(user_weights, tuple):  # scipy.linalg.cho_factor's (c, lower)
        if len(user_weights) != 2:
            raise ValueError("user_weights as a tuple must be scipy's cho_factor (c, lower)")
        c, lower = user_weights
        c = _weights_array(c, factors)
        L = np.tril(c) if lower else np.triu(c).T
    else:
        L = np.tril(_weights_array(user_weights, factors))
    diagonal = np.diagonal(L)
    if not np.all(diagonal > 0):
        raise ValueError(
            "user_weights is not a Cholesky factor: its diagonal must be positive "
            "(pass back the user_weights explain returned, or None)"
        )
    return np.ascontiguousarray(L)


def _weights_array(weights, factors):
    try:
        W = np.asarray(weights)
    except ValueError:  # ragged nested sequences
        raise TypeError("user_weights must be a (factors, factors) array") from None
    if W.dtype.kind not in "biuf":
        raise TypeError(f"user_weights must be a real array, got dtype {W.dtype}")
    if W.shape != (factors, factors):
        raise ValueError(
            f"user_weights must have shape (factors, factors) = ({factors}, {factors}), "
            f"got {W.shape}"
        )
    W = W.astype(np.float64)
    if not np.isfinite(W).all():
        raise ValueError("user_weights contains NaN or infinite values")
    return W


def _every_row(ids, count):
    """True when the query ids are all ``count`` rows in order (the all-pairs fast path)."""
    return (
        ids is not None
        and len(ids) == count >= serving.TRANSPOSE_MIN_QUERIES
        and bool(np.all(ids == np.arange(count)))
    )


def _norms(factors):
    norms = np.linalg.norm(factors, axis=-1)
    norms[norms == 0] = 1e-10
    return norms


def _rng(random_state):
    """A Generator, as implicit makes it (its RandomState branch crashes; this one works)."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    return np.random.default_rng(random_state)
