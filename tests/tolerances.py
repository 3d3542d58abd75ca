"""Every numerical tolerance of the test suite, in one place (relative errors)."""

import numpy as np

# Numba kernel vs the NumPy reference on the same inputs
KERNEL_F64 = 1e-10
KERNEL_F32 = 1e-4

# fastals vs implicit 0.7.3 on identical inputs and seed (tests/test_vs_implicit.py)
# ||fastals - implicit||_F / ||implicit||_F per factor matrix, by model dtype
FACTOR_RTOL = {np.float64: 1e-8, np.float32: 1e-3}
# float64 only: tight enough to catch a missed float32 rounding of the data, alpha * data
# or lambda (each moves implicit's factors by ~1e-8..1e-7 relative on these problems;
# fastals measured at <= 2e-14).
ROUNDING_RTOL_F64 = 1e-11
LOSS_RTOL_F64 = 1e-6  # per-iteration training loss, float64 models
KUAIREC_FACTOR_RTOL = 1e-3  # KuaiRec-like float32 run: factors
KUAIREC_LOSS_RTOL = 1e-4  # KuaiRec-like float32 run: per-iteration loss


# evaluation metrics vs implicit.evaluation and the plain-Python oracle
METRIC_RTOL = 1e-9


def rel_err(a, b, scale=0.0):
    """||a - b|| / max(||b||, scale) in float64; ``scale`` guards answers near 0."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    denom = max(float(np.linalg.norm(b)), scale)
    return float(np.linalg.norm(a - b) / denom) if denom else float(np.linalg.norm(a))
