"""Shared fixtures for the pytest-benchmark suites.

The data is ``fastals.data.kuairec_like`` at the full KuaiRec shape, generated
once per session. ``FASTALS_BENCH_SCALE`` (float, default 1.0) shrinks users and
items by that factor (nnz by its square, so the density stays KuaiRec's). In
smoke mode (``--benchmark-disable``, the normal test suite) the scale is 0.01,
so every bench file runs in seconds.
"""

from __future__ import annotations

import os

import pytest
from harness.data import kuairec_shape

from fastals.data import kuairec_like

SMOKE_SCALE = 0.01

_MEANS = pytest.StashKey[dict]()


def benchmarks_disabled(config: pytest.Config) -> bool:
    """Smoke mode, decided as pytest-benchmark decides it."""
    return bool(config.getoption("benchmark_disable")) and not config.getoption("benchmark_enable")


def bench_scale(config: pytest.Config) -> float:
    if benchmarks_disabled(config):
        return SMOKE_SCALE
    scale = float(os.environ.get("FASTALS_BENCH_SCALE", "1.0"))
    if not 0.0 < scale <= 1.0:
        raise pytest.UsageError(f"FASTALS_BENCH_SCALE must be in (0, 1], got {scale}")
    return scale


@pytest.fixture(scope="session")
def bench_size(request) -> dict[str, float]:
    scale = bench_scale(request.config)
    return {"scale": scale, **kuairec_shape(scale)}


@pytest.fixture(scope="session")
def kuairec_matrix(bench_size):
    """KuaiRec-like users x items confidences (1 or 41), float32 canonical CSR."""
    shape = {k: v for k, v in bench_size.items() if k != "scale"}
    return kuairec_like(**shape, seed=0)


@pytest.fixture(scope="session")
def fit_means(request) -> dict:
    """{group: {library: mean seconds}}, filled by the benches, read at the end."""
    return request.config.stash.setdefault(_MEANS, {})


def pytest_terminal_summary(terminalreporter, config):
    means = config.stash.get(_MEANS, {})
    pairs = {g: m for g, m in means.items() if {"fastals", "implicit"} <= m.keys()}
    if not pairs:
        return
    terminalreporter.section("fastals vs implicit (mean per round)")
    for group, m in sorted(pairs.items()):
        ratio = m["implicit"] / m["fastals"]
        terminalreporter.write_line(
            f"{group}: implicit {m['implicit']:.3f} s, fastals {m['fastals']:.3f} s, "
            f"speed-up {ratio:.2f}x"
        )
