"""fastals: implicit-feedback ALS on Numba kernels, a drop-in for implicit's ALS."""

__version__ = "0.1.0"

from ._validation import ModelFitError, ParameterWarning  # noqa: E402
from .als import AlternatingLeastSquares  # noqa: E402
from .ials import iALS  # noqa: E402

__all__ = ["AlternatingLeastSquares", "iALS", "ModelFitError", "ParameterWarning", "__version__"]
