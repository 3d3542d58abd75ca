"""AlternatingLeastSquares: implicit ALS with implicit 0.7.3's API, on fastals' own kernels."""

import numpy as np

from . import solvers
from ._threads import thread_scope
from ._validation import check_hyperparameters, confidences, to_csr
from .factorization import FactorizationModel, rng, warn_if_over_parameterised


class AlternatingLeastSquares(FactorizationModel):
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
        warn_if_over_parameterised(self.factors, n_users, n_items, stacklevel=2)
        Cui = confidences(Cui, self.alpha, self.dtype)
        users = solvers.SweepMatrix(Cui)
        items = users.transpose()
        del Cui
        self._init_factors(n_users, n_items)
        loss_wanted = bool(self.calculate_training_loss)
        run = dict(
            regularization=self.regularization,
            solver=self.solver,
            cg_steps=self.cg_steps,
            native=bool(self.use_native),
        )

        def step(iteration):
            X, Y = self.user_factors, self.item_factors
            _, XtX = solvers.half_sweep(users, X, Y, **run, next_gram=True)
            # the loss is taken in the item sweep, at the new item factors
            numerator = solvers.half_sweep(items, Y, X, **run, with_loss=loss_wanted, YtY=XtX)
            if not loss_wanted:
                return None
            return solvers.finish_loss(numerator, items, X, self.regularization)

        self._train(step, show_progress, callback, max(int(users.indptr[-1]), n_users))

    def _init_factors(self, n_users, n_items):
        generator = rng(self.random_state)
        # implicit's order: users first, then items, each only when missing
        user_factors = item_factors = None
        if self.user_factors is None:
            user_factors = generator.random((n_users, self.factors), dtype=self.dtype) * 0.01
        if self.item_factors is None:
            item_factors = generator.random((n_items, self.factors), dtype=self.dtype) * 0.01
        self._set_factors(user_factors, item_factors)

    def _solve_rows(self, rows, side):
        other = self.item_factors if side == "user" else self.user_factors
        other_gram = self.YtY if side == "user" else self.XtX
        M = solvers.SweepMatrix(confidences(rows, self.alpha, self.dtype))
        out = np.zeros((rows.shape[0], self.factors), dtype=self.dtype)
        other = np.ascontiguousarray(other, dtype=self.dtype)
        with thread_scope(self.num_threads):
            lam = self.regularization
            solvers.half_sweep(M, out, other, lam, solver="cholesky", YtY=other_gram)
        return out

    def _explain_system(self, row):
        """A_u = Y^T Y + lambda I + sum (C - 1) y y^T; b_u = sum_{c >= 0} c y (Hu et al.)."""
        row = confidences(row, self.alpha, np.dtype(np.float64))
        liked, conf = row.indices, row.data

        def system():
            Y = self.item_factors.astype(np.float64)
            A = self.YtY.astype(np.float64) + self.regularization * np.eye(self.factors)
            Yl = Y[liked]
            return A + (Yl * (np.abs(conf) - 1)[:, None]).T @ Yl

        keep = conf >= 0
        return system, liked[keep], conf[keep]

    def _saved_params(self):
        return {
            "regularization": self.regularization,
            "factors": self.factors,
            "num_threads": self.num_threads,
            "iterations": self.iterations,
            "use_native": self.use_native,
            "use_cg": self.use_cg,
            "cg_steps": self.cg_steps,
            "calculate_training_loss": self.calculate_training_loss,
            "dtype": np.dtype(self.dtype).name,
            "random_state": self.random_state,
            "alpha": self.alpha,
        }
