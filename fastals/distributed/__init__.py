"""fastals on a Dask cluster: ``fit`` and ``recommend_all`` with the same kernels and answers.

Needs the ``dask`` extra (``pip install fastals[dask]``: dask[distributed], pyarrow); the rest
of fastals never imports Dask. The design, and the bytes each iteration moves, are in
``docs/scale-out.md``.
"""

try:
    import dask  # noqa: F401
    import distributed  # noqa: F401
    import pyarrow  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        f"fastals.distributed needs Dask's distributed scheduler and pyarrow ({exc.name} is "
        "missing): pip install fastals[dask]"
    ) from exc

from ._fit import bytes_per_iteration, fit
from ._recommend import recommend_all

__all__ = ["fit", "recommend_all", "bytes_per_iteration"]
