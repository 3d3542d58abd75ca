"""fastals' iALS against irspack 0.5.2 (C++/Eigen) on the same objective: from irspack's own
initial factors, one epoch of each solver gives irspack's factors to float32 rounding."""

import numpy as np
import pytest
import scipy.sparse as sp

from fastals import iALS

irspack_ials = pytest.importorskip("irspack.recommenders.ials")

SOLVERS = {"cholesky": "CHOLESKY", "cg": "CG", "ials++": "IALSPP"}


def binary_matrix(n_users=300, n_items=200, density=0.06, seed=0):
    W = sp.random(n_users, n_items, density=density, random_state=seed, format="csr")
    W.data[:] = 1.0
    return W.astype(np.float32)


@pytest.mark.parametrize("nu", [0.0, 1.0])
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_one_epoch_equals_irspack(solver, nu):
    W = binary_matrix()
    k, block = 16, 8
    trainer = irspack_ials.IALSTrainer(
        W, k, 0.1, 0.01, nu, 0.1, irspack_ials.str_to_solver_type(SOLVERS[solver]), 3, block,
        irspack_ials.str_to_loss_type("IALSPP"), 0, 1, 5, 7,
    )  # fmt: skip
    X0, Y0 = trainer.core_trainer.user.copy(), trainer.core_trainer.item.copy()
    model = iALS(factors=k, regularization=0.01, regularization_exp=nu, unobserved_weight=0.1,
                 iterations=2, solver=solver, block_size=block, num_threads=1)  # fmt: skip
    model.user_factors, model.item_factors = X0, Y0
    model.fit(W, show_progress=False)
    trainer.run_epoch()
    trainer.run_epoch()
    scale = np.abs(trainer.core_trainer.item).max()
    np.testing.assert_allclose(model.user_factors, trainer.core_trainer.user, atol=1e-4 * scale)
    np.testing.assert_allclose(model.item_factors, trainer.core_trainer.item, atol=1e-4 * scale)


def test_objective_is_twice_irspacks_loss():
    W = binary_matrix()
    trainer = irspack_ials.IALSTrainer(
        W, 8, 0.1, 0.01, 1.0, 0.1, irspack_ials.str_to_solver_type("CG"), 3, 8,
        irspack_ials.str_to_loss_type("IALSPP"), 0, 1, 5, 7,
    )  # fmt: skip
    trainer.run_epoch()
    model = iALS(factors=8, regularization=0.01, unobserved_weight=0.1, iterations=0)
    model.fit(W, show_progress=False)
    model.user_factors = trainer.core_trainer.user.copy()
    model.item_factors = trainer.core_trainer.item.copy()
    # irspack reports L / 2 (the usual 1/2 in front of a least-squares loss)
    assert model.objective(W) == pytest.approx(2 * trainer.compute_loss(), rel=1e-4)
