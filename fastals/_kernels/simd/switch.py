"""The switch of the SIMD layer, and the checks every IR kernel of it makes.

``FASTALS_SIMD`` in the environment, read once when fastals is imported:

- ``0``: every IR kernel of this package off; the kernels run the plain loops Numba compiles.
- ``1`` or unset: on, where the CPU allows (``WIDE``: AVX-512 for the 512-bit kernels).
- ``force``: on, the 512-bit kernels too where the CPU has no AVX-512 (LLVM splits each
  512-bit vector in two: slower; for testing their IR on such a CPU, as CI does).

Numba's on-disk cache does not know the switch: a kernel cached with it on would be loaded
with it off. Give each setting its own ``NUMBA_CACHE_DIR`` (``make test`` and ``.ci/run`` do).
"""

import functools
import os

from llvmlite import binding as ll
from numba import types
from numba.core import config
from numba.extending import intrinsic

VARIABLE = "FASTALS_SIMD"
LANES = 16  # float32 lanes of a 512-bit register
FLOAT32 = (types.float32,)
FLOATS = (types.float32, types.float64)


def _read_switch(value: str | None) -> str:
    value = (value or "1").strip()
    if value not in ("0", "1", "force"):
        raise ValueError(f"{VARIABLE} must be 0 (IR off), 1 (on) or force, got {value!r}")
    return value


def _has_avx512() -> bool:
    """Whether Numba compiles for a CPU with AVX-512F (NUMBA_CPU_FEATURES, else the host)."""
    features = config.CPU_FEATURES
    if features is None:
        features = "" if config.CPU_NAME else ll.get_host_cpu_features().flatten()
    return "+avx512f" in features.split(",")


SETTING = _read_switch(os.environ.get(VARIABLE))
ENABLED = SETTING != "0"
WIDE = ENABLED and (SETTING == "force" or _has_avx512())  # the 512-bit kernels apply


def suits(arrays, ndims, dtypes=FLOAT32) -> bool:
    """Whether the Numba types ``arrays`` are what an IR kernel reads as plain memory:
    C-contiguous arrays of ``ndims`` dimensions (one for all, or one each), all of one dtype,
    one of ``dtypes``."""
    ndims = ndims if isinstance(ndims, tuple) else (ndims,) * len(arrays)
    return all(
        isinstance(a, types.Array)
        and a.ndim == ndim
        and a.layout == "C"
        and a.dtype == arrays[0].dtype
        and a.dtype in dtypes
        for a, ndim in zip(arrays, ndims, strict=True)
    )


def require(ok: bool, message: str, *got) -> None:
    """An IR kernel's typing: TypeError unless ``ok`` (the kernel was called with arrays its
    IR cannot read; callers go through the dispatching function instead)."""
    if not ok:
        raise TypeError(f"{message}, got {got}")


def ir_kernel(definition):
    """``numba.extending.intrinsic`` for the IR kernels of this package: compiling a call to
    one with the switch off is a TypeError, so no kernel can reach the IR past the switch."""

    @functools.wraps(definition)
    def typing(typingctx, *args):
        if not ENABLED:
            raise TypeError(f"{definition.__name__}: an IR kernel, and {VARIABLE}=0")
        return definition(typingctx, *args)

    return intrinsic(typing)
