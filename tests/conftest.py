import os
import sys

# make tests/tolerances.py importable as a plain module
sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def always_parallel(monkeypatch):
    """Tests are small: keep them on the parallel path that real workloads take.

    (fastals runs calls below ``SERIAL_WORK`` multiply-adds on one thread; the
    tests that need that path restore the constant themselves.)
    """
    import fastals._threads

    monkeypatch.setattr(fastals._threads, "SERIAL_WORK", 0)
