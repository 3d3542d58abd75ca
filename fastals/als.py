"""AlternatingLeastSquares: implicit ALS with implicit 0.7.3's API, on fastals' own kernels."""

import logging
import time
import warnings

import numpy as np
from tqdm.auto import tqdm

from . import solvers
from ._kernels.gram import gram
from ._threads import thread_scope
from ._validation import (
    ModelFitError,
    check_hyperparameters,
    confidences,
    to_csr,
)

log = logging.getLogger("fastals")


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
        items = solvers.SweepMatrix(Cui.T.tocsr())
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
            thread_scope(self.num_threads),
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
                    lam = float(np.float32(self.regularization))
                    numerator += lam * float(np.einsum("ij,ij->", X, X, dtype=np.float64))
                    loss = solvers.normalise_loss(numerator, items)
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

    def _gram(self, factors):
        with thread_scope(self.num_threads):
            return gram(np.ascontiguousarray(factors))

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


def _norms(factors):
    norms = np.linalg.norm(factors, axis=-1)
    norms[norms == 0] = 1e-10
    return norms


def _rng(random_state):
    """A Generator, as implicit makes it (its RandomState branch crashes; this one works)."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    return np.random.default_rng(random_state)
