"""iALS: Rendle et al.'s objective (RecSys 2022) with four solvers on fastals' kernels.

    L = sum_{(u,i) stored} w_ui (x_u.y_i - 1)^2 + sum_u sum_{i in all items} c_i (x_u.y_i)^2
        + lambda (sum_u nu_u |x_u|^2 + sum_i nu_i |y_i|^2)

c_i = alpha0 (``unobserved_weight``) for every item, or eALS's popularity weighting
(``popularity_exp``); nu_u = (|I_u| + sum_i c_i)^nu and nu_i = (|U_i| + c_i |U|)^nu with
nu = ``regularization_exp`` (0: classic regularisation, 1: the paper's). The all-pairs sum
includes the stored pairs, as in the paper. Serving, fold-in, explain and save/load are
``AlternatingLeastSquares``'s (``factorization.FactorizationModel``), under this objective.
"""

import numpy as np

from . import ials_sweeps as sweeps
from ._threads import thread_scope
from ._validation import (
    check_dtype,
    check_finite_real,
    check_num_threads,
    check_positive_int,
    check_random_state,
    to_csr,
)
from .factorization import FactorizationModel, rng, warn_if_over_parameterised


class iALS(FactorizationModel):  # noqa: N801 (the published name)
    """Implicit ALS on Rendle et al.'s objective, solved by Cholesky, CG, iALS++ or CD.

    Parameters
    ----------
    factors : int
        Dimension k of the factors.
    regularization : float
        lambda >= 0.
    regularization_exp : float
        nu >= 0: lambda_u = lambda (|I_u| + alpha0 |I|)^nu (1: the paper's setting).
    unobserved_weight : float
        alpha0 >= 0, the weight of every (user, item) pair's (x_u.y_i)^2.
    init_stddev : float
        Initial factors are normal(0, init_stddev / sqrt(factors)), users then items, from
        ``np.random.default_rng(random_state)``.
    iterations : int
        Epochs; each solves all users, then all items (iALS++: see ``block_order``).
    solver : "cholesky", "cg", "ials++" or "cd"
        Exact row solves; ``cg_steps`` CG steps from the warm start (Takacs et al. 2011);
        block coordinate descent over ``block_size`` dimensions (iALS++); element-wise
        coordinate descent (eALS, He et al. 2016).
    block_size : int or None
        iALS++'s block of dimensions, 1..factors (None: min(64, factors)); factors gives
        the exact solve, 1 is iCD.
    block_order : "sides" or "interleaved"
        iALS++'s order: "sides" steps every block of every user, then every block of every
        item (irspack's order; each epoch solves all users, then all items); "interleaved"
        steps block 1 of the users, block 1 of the items, block 2 of the users, ...
        (google-research's ``ialspp_main.cc``).
    cg_steps : int
        CG steps per row per epoch.
    dtype : float32 or float64
    random_state : int, None, np.random.Generator or np.random.RandomState
    num_threads : int
        Threads (0: all cores); results do not depend on it.
    popularity_exp : float or None
        None: every pair weighs alpha0. A number e >= 0: eALS's item weights
        c_i = alpha0 f_i^e / mean_j f_j^e (f_i the item's training count).
    calculate_training_loss : bool
        Record the objective L after each epoch in ``loss_history``.
    """

    def __init__(
        self,
        factors=64,
        regularization=0.003,
        regularization_exp=1.0,
        unobserved_weight=0.1,
        init_stddev=0.1,
        iterations=16,
        solver="cholesky",
        block_size=None,
        cg_steps=3,
        dtype=np.float32,
        random_state=None,
        num_threads=0,
        popularity_exp=None,
        calculate_training_loss=False,
        block_order="sides",
    ):
        self.factors = factors
        self.regularization = regularization
        self.regularization_exp = regularization_exp
        self.unobserved_weight = unobserved_weight
        self.init_stddev = init_stddev
        self.iterations = iterations
        self.solver = solver
        self.block_size = block_size
        self.cg_steps = cg_steps
        self.dtype = dtype
        self.random_state = random_state
        self.num_threads = num_threads
        self.popularity_exp = popularity_exp
        self.calculate_training_loss = calculate_training_loss
        self.block_order = block_order
        self._check_hyperparameters()
        self.user_factors = self.item_factors = None
        self.item_unobserved_weights = None
        self._popularity_normaliser = None
        self.fit_callback = None
        self.loss_history = []

    def _check_hyperparameters(self):
        check_positive_int("factors", self.factors)
        check_positive_int("iterations", self.iterations, minimum=0)
        check_positive_int("cg_steps", self.cg_steps)
        for name in ("regularization", "regularization_exp", "unobserved_weight", "init_stddev"):
            check_finite_real(name, getattr(self, name), minimum=0)
        if self.popularity_exp is not None:
            check_finite_real("popularity_exp", self.popularity_exp, minimum=0)
        if self.solver not in sweeps.SOLVERS:
            raise ValueError(
                f"solver must be one of {', '.join(map(repr, sweeps.SOLVERS))}, got {self.solver!r}"
            )
        if self.block_order not in sweeps.BLOCK_ORDERS:
            raise ValueError(
                f"block_order must be 'sides' or 'interleaved', got {self.block_order!r}"
            )
        if self.block_size is None:
            self.block_size = min(64, self.factors)
        check_positive_int("block_size", self.block_size)
        if self.block_size > self.factors:
            raise ValueError(
                f"block_size must be between 1 and factors={self.factors}, got {self.block_size}"
            )
        check_num_threads(self.num_threads)
        check_random_state(self.random_state)
        self.dtype = check_dtype(self.dtype)

    # ------------------------------------------------------------------ training

    def _weights(self, user_items, name="user_items", allow_no_rows=False):
        """``user_items`` as a CSR of weights w > 0 in the model dtype (stored zeros dropped:
        they are not interactions); negative weights are refused."""
        W = to_csr(user_items, name, allow_no_rows=allow_no_rows)
        if W.nnz and W.data.min() < 0:
            raise ValueError(
                f"{name} holds negative values ({int((W.data < 0).sum())} entries, the first "
                f"{W.data[W.data < 0][0]!r}): iALS weights must be >= 0"
            )
        data = W.data.astype(self.dtype)
        if not np.isfinite(data).all():
            raise ValueError(f"{name} holds values that overflow {self.dtype.name}")
        if (data == 0).any():  # scipy prunes in place: on copies, never the caller's arrays
            W = W.__class__((data, W.indices.copy(), W.indptr.copy()), shape=W.shape)
            W.eliminate_zeros()
            return W
        return W.__class__((data, W.indices, W.indptr), shape=W.shape)

    def fit(self, user_items, show_progress=True, callback=None):
        """Factorise ``user_items`` (users x items, CSR; stored value = w_ui >= 0).

        Factors already set are a warm start. ``callback(iteration, elapsed_seconds,
        loss_or_None)`` runs after each epoch (``fit_callback`` when none is given);
        returning ``False`` stops training.
        """
        self._check_hyperparameters()
        W = self._weights(user_items)
        n_users, n_items = W.shape
        self._check_refit_shape(n_users, n_items)
        warn_if_over_parameterised(self.factors, n_users, n_items, stacklevel=2)
        self._init_factors(n_users, n_items)
        c, self._popularity_normaliser = sweeps.item_weights(
            np.bincount(W.indices, minlength=n_items), self.unobserved_weight, self.popularity_exp
        )
        self.item_unobserved_weights = c
        users, items = sweeps.build_sides(W, self, c)
        c_gram = None if self.popularity_exp is None else c

        def step(iteration):
            sweeps.epoch(self, users, items, self.user_factors, self.item_factors, c_gram)
            if not self.calculate_training_loss:
                return None
            return sweeps.objective(W, self.user_factors, self.item_factors, self, c)

        self._train(step, show_progress, callback, max(int(W.nnz), n_users))

    def _init_factors(self, n_users, n_items):
        generator = rng(self.random_state)
        scale = self.init_stddev / np.sqrt(self.factors)
        draw = [None, None]
        for side, (name, n) in enumerate((("user_factors", n_users), ("item_factors", n_items))):
            if getattr(self, name) is None:
                draw[side] = (generator.standard_normal((n, self.factors)) * scale).astype(
                    self.dtype
                )
        self._set_factors(*draw)

    def objective(self, user_items):
        """Rendle et al.'s loss L of the current factors on ``user_items`` (float64)."""
        n_users, n_items = self._require_fitted()
        W = self._weights(user_items)
        if W.shape != (n_users, n_items):
            raise ValueError(
                f"user_items has shape {W.shape}, the model {(n_users, n_items)} (users x items)"
            )
        with thread_scope(self.num_threads):
            return sweeps.objective(
                W, self.user_factors, self.item_factors, self, self._item_weights()
            )

    def _item_weights(self):
        """c_i for every item of the model (float64)."""
        c = self.item_unobserved_weights
        if c is None:
            return np.full(len(self.item_factors), float(self.unobserved_weight))
        if len(c) != len(self.item_factors):
            raise ValueError(
                f"item_unobserved_weights has {len(c)} entries for {len(self.item_factors)} items"
            )
        return c

    def partial_fit_items(self, itemids, item_users):
        """Re-solve and store the factors of ``itemids``; new ids grow the model (and, with
        ``popularity_exp``, get unobserved weights from their rows' counts)."""
        c = self._item_weights()
        super().partial_fit_items(itemids, item_users)
        W = self._weights(item_users, "item_users", allow_no_rows=True)
        grown = np.zeros(len(self.item_factors))
        grown[: len(c)] = c
        new_c, _ = sweeps.item_weights(
            np.diff(W.indptr), self.unobserved_weight, self.popularity_exp,
            self._popularity_normaliser,
        )  # fmt: skip
        grown[np.asarray(itemids, dtype=np.int64)] = new_c
        self.item_unobserved_weights = grown

    # ------------------------------------------------------------------ fold-in

    def _solve_rows(self, rows, side):
        """Exact solves of ``rows`` against the other side's fixed factors (this objective)."""
        name = "user_items" if side == "user" else "item_users"
        W = self._weights(rows, name, allow_no_rows=True)
        counts = np.diff(W.indptr)
        c = self._item_weights()
        uniform = self.popularity_exp is None
        if side == "user":  # the cached Gram unless the items weigh differently
            other = self.item_factors
            G = self.YtY if uniform else sweeps.gram_matrix(self.item_factors, c)
            scale = np.full(len(counts), self.unobserved_weight if uniform else 1.0)
            total = c.sum()
        else:
            other, G = self.user_factors, self.XtX
            scale, _ = sweeps.item_weights(
                counts, self.unobserved_weight, self.popularity_exp, self._popularity_normaliser
            )
            total = scale * len(self.user_factors)
        reg = sweeps.row_regularization(self.regularization, self.regularization_exp, counts, total)
        out = np.zeros((W.shape[0], self.factors), self.dtype)
        dtype = self.dtype
        sweep_side = sweeps.Side(
            (W.indptr, W.indices, W.data), None, scale.astype(dtype), reg.astype(dtype)
        )
        with thread_scope(self.num_threads):
            sweeps.exact_sweep(sweep_side, out, np.ascontiguousarray(other), G, "cholesky", 0)
        return out

    def _explain_system(self, row):
        """A_u = s G + lambda_u I + sum w y y^T, b_u = sum w y (this objective)."""
        W = self._weights(row)
        liked, w = W.indices, W.data.astype(np.float64)
        c = self._item_weights()

        def system():
            Y = self.item_factors.astype(np.float64)
            A = (Y * c[:, None]).T @ Y
            lam = sweeps.row_regularization(
                self.regularization, self.regularization_exp, len(liked), c.sum()
            )
            A += float(lam) * np.eye(self.factors)
            Yl = Y[liked]
            return A + (Yl * w[:, None]).T @ Yl

        return system, liked, w

    # ------------------------------------------------------------------ persistence

    MODEL_TAG = "iALS"
    SAVED_KEYS = (
        "factors", "regularization", "regularization_exp", "unobserved_weight", "init_stddev",
        "iterations", "solver", "block_size", "cg_steps", "dtype", "num_threads",
        "calculate_training_loss", "block_order",
    )  # fmt: skip
    OPTIONAL_SAVED_KEYS = ("random_state", "popularity_exp", "popularity_normaliser")
    SAVED_VECTORS = ("item_unobserved_weights",)

    @classmethod
    def _from_saved(cls, params, vectors):
        normaliser = params.pop("popularity_normaliser", None)
        model = cls(**params)
        model._popularity_normaliser = normaliser
        model.item_unobserved_weights = vectors["item_unobserved_weights"]
        return model

    def _saved_vectors(self):
        return {"item_unobserved_weights": self.item_unobserved_weights}

    def _saved_params(self):
        return {
            "model": self.MODEL_TAG,
            "factors": self.factors,
            "regularization": self.regularization,
            "regularization_exp": self.regularization_exp,
            "unobserved_weight": self.unobserved_weight,
            "init_stddev": self.init_stddev,
            "iterations": self.iterations,
            "solver": self.solver,
            "block_size": self.block_size,
            "cg_steps": self.cg_steps,
            "dtype": np.dtype(self.dtype).name,
            "random_state": self.random_state,
            "num_threads": self.num_threads,
            "popularity_exp": self.popularity_exp,
            "calculate_training_loss": self.calculate_training_loss,
            "block_order": self.block_order,
            "popularity_normaliser": self._popularity_normaliser,
        }
