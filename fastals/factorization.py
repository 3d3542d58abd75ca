"""FactorizationModel: what every least-squares factor model shares beyond serving.

The training loop (progress bar, callback, loss history, threads), warm starts and refit
checks, fold-in (``recalculate_*``, ``partial_fit_*``), ``explain``, the Gram caches and
save/load. A model (``AlternatingLeastSquares``, ``iALS``) supplies its objective through
three hooks:

- ``_solve_rows(rows, side)``: exact factors for rows (CSR) of ``side`` ("user" or "item")
  against the other side's fixed factors;
- ``_explain_system(row)``: (A_u, liked ids, their coefficients in b_u) for one user row;
- ``_saved_params()`` / ``_from_saved(params)``: its hyper-parameters in a model file.
"""

import logging
import time
import warnings

import numpy as np
from tqdm.auto import tqdm

from . import recommend, solvers
from ._kernels.linalg import cholesky_factor, cholesky_substitute
from ._threads import thread_scope
from ._validation import ModelFitError, batch_shape, check_ids, check_rows, to_csr
from .model import FactorModel

log = logging.getLogger("fastals")
# ids come back as int32 (as implicit's): the largest id a model grows to
MAX_ID = np.iinfo(np.int32).max - 1


class FactorizationModel(FactorModel):
    """Shared training scaffolding, fold-in, explain and persistence (see the module doc)."""

    factors: int
    dtype: np.dtype
    iterations: int
    fit_callback = None
    _YtY = _XtX = None

    # ------------------------------------------------------------------ training

    def _train(self, step, show_progress, callback, entries):
        """Run ``step(iteration)`` (returns the loss or None) ``iterations`` times.

        ``callback(iteration, elapsed_seconds, loss_or_None)`` (``fit_callback`` when None)
        runs after each; returning ``False`` stops training. ``entries`` x ``factors`` sizes
        the threads (a Python int: an int32 count of 100M entries times 64 would wrap
        negative and leave the fit on one thread).
        """
        work = int(entries) * int(self.factors)
        self._YtY = self._XtX = None
        self._user_norms = self._item_norms = None
        self.loss_history = []
        callback = callback or self.fit_callback
        with (
            thread_scope(self.num_threads, work=work),
            tqdm(total=self.iterations, disable=not show_progress) as progress,
        ):
            for iteration in range(self.iterations):
                start = time.time()
                loss = step(iteration)
                # the factors moved: caches a callback may fill must be fresh
                self._YtY = self._XtX = None
                self._user_norms = self._item_norms = None
                progress.update(1)
                if loss is not None:
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

    def _set_factors(self, user_factors, item_factors):
        """Keep factors already set (a warm start), else take the new ones; check shapes."""
        if self.user_factors is None:
            self.user_factors = user_factors
        if self.item_factors is None:
            self.item_factors = item_factors
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

    # ------------------------------------------------------------------ fold-in

    def _solve_rows(self, rows, side):
        raise NotImplementedError

    def recalculate_user(self, userid, user_items):
        """Exact factors for users from their rows under the model's objective, not stored.

        ``user_items`` has one row per user in ``userid``; returns (factors,) for a scalar
        id or (len(userid), factors).
        """
        return self._recalculate(userid, user_items, "user")

    def recalculate_item(self, itemid, item_users):
        """Exact factors for items from their rows (items x users), not stored."""
        return self._recalculate(itemid, item_users, "item")

    def _recalculate(self, ids, rows, side):
        n_users, n_items = self._require_fitted()
        names = ("userid", "user_items", "users", "items", n_items, n_users)
        if side == "item":
            names = ("itemid", "item_users", "items", "users", n_users, n_items)
        name, rows_name, what, columns, n_columns, n_rows = names
        scalar, count = batch_shape(ids, name, what)
        rows = check_rows(rows, count, n_columns, rows_name, what, columns, n_rows)
        out = self._solve_rows(rows, side)
        return out[0] if scalar else out

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

    # ------------------------------------------------------------------ explain

    def _explain_system(self, row):
        raise NotImplementedError

    def explain(self, userid, user_items, itemid, user_weights=None, N=10):
        """Why ``itemid`` is recommended to ``userid``: each liked item's share of the score.

        ``user_items`` is the users x items matrix (row ``userid`` is read). Returns
        (total_score, [(itemid, contribution), ...] top N, user_weights) where user_weights
        is the lower Cholesky factor L of A_u (pass it back to skip the factorisation; a
        scipy ``cho_factor`` tuple is accepted too). Hu et al. 2008, section 5: with
        x_u = A_u^{-1} b_u and b_u = sum_j beta_j y_j, the score x_u . y_i splits into
        beta_j y_j^T A_u^{-1} y_i per liked item j.
        """
        n_users, n_items = self._require_fitted()
        for value, name, count, what in (
            (userid, "userid", n_users, "users"),
            (itemid, "itemid", n_items, "items"),
        ):
            if check_ids(value, count, name, what).ndim != 0:
                raise TypeError(f"explain takes one {name} (an integer), got {value!r:.80}")
        userid, itemid = int(userid), int(itemid)
        N = recommend.check_n(N, n_items)
        rows = to_csr(user_items, "user_items")
        n_rows, n_cols = rows.shape
        transposed = (n_rows, n_cols) == (n_items, n_users)
        if n_cols > n_items or n_rows <= userid or (n_cols < n_items and transposed):
            hint = " It looks transposed (items x users)." if n_cols == n_users else ""
            raise ValueError(
                f"user_items must be the users x items matrix (row {userid} is read): expected "
                f"{n_items} columns and more than {userid} rows, got shape {rows.shape}.{hint}"
            )
        system, liked, beta = self._explain_system(rows[userid])
        Y = self.item_factors.astype(np.float64)
        if user_weights is None:
            A = system()
            if cholesky_factor(A) != 0:
                raise ValueError(f"A_u of user {userid} is not positive definite")
            user_weights = np.tril(A)
        L = _as_lower_factor(user_weights, self.factors)
        weighted = Y[itemid].copy()
        cholesky_substitute(L, weighted)
        contributions = (Y[liked] @ weighted) * beta
        if not np.isfinite(contributions).all():
            raise ValueError(
                "user_weights gives non-finite contributions: it is not the Cholesky factor of "
                "this user's A_u (pass back the user_weights explain returned, or None)"
            )
        order = np.lexsort((liked, contributions))[::-1][:N]
        top = [(int(liked[j]), float(contributions[j])) for j in order]
        return float(contributions.sum()), top, user_weights

    # ------------------------------------------------------------------ persistence

    def save(self, fileobj_or_path):
        """Save to an .npz (implicit 0.7.3's layout for ALS: loadable by implicit too); no
        pickle."""
        from .model_files import save_model

        save_model(self, fileobj_or_path)

    @classmethod
    def load(cls, fileobj_or_path):
        """Load a model saved by fastals (or, for ALS, by implicit 0.7.3)."""
        from .model_files import load_model

        return load_model(cls, fileobj_or_path)

    # ------------------------------------------------------------------ Gram caches

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


def warn_if_over_parameterised(factors, n_users, n_items, stacklevel):
    """A UserWarning when ``factors`` exceeds min(n_users, n_items) (``stacklevel``: the
    caller's caller's frame is 1 + the number of frames between it and this function)."""
    if factors > min(n_users, n_items):
        warnings.warn(
            f"factors={factors} exceeds min(n_users, n_items)={min(n_users, n_items)}: "
            "the model is over-parameterised (regularization keeps the solves well-posed)",
            UserWarning,
            stacklevel=stacklevel + 1,
        )


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


def rng(random_state):
    """A Generator, as implicit makes it (its RandomState branch crashes; this one works)."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    return np.random.default_rng(random_state)
