"""Every numerical tolerance of the test suite, in one place (relative errors)."""

# Numba kernel vs the NumPy reference on the same inputs
KERNEL_F64 = 1e-10
KERNEL_F32 = 1e-4

# fastals vs implicit 0.7.3 on identical inputs and seed
IMPLICIT_F64 = 1e-8
IMPLICIT_F32 = 1e-3
IMPLICIT_LOSS_F64 = 1e-6
IMPLICIT_LOSS_F32 = 1e-4


def rel_err(a, b, scale=0.0):
    """||a - b|| / max(||b||, scale) in float64; ``scale`` guards answers near 0."""
    import numpy as np

    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    denom = max(float(np.linalg.norm(b)), scale)
    return float(np.linalg.norm(a - b) / denom) if denom else float(np.linalg.norm(a))
