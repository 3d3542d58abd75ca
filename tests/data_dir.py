"""Where every test finds the real datasets: ``$FASTALS_DATA_DIR``, else ``shared/data`` beside
the checkout (``../shared/data`` from the repository root). Never an absolute path of the machine
the tests were written on; a dataset that is not there skips its tests with the path it tried."""

import os
from pathlib import Path

import pytest

DATA_DIR = Path(
    os.environ.get("FASTALS_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data"
)


def dataset(name):
    """``DATA_DIR / name``, or skip the calling test when it is absent."""
    path = DATA_DIR / name
    if not path.exists():
        pytest.skip(f"{path} is absent (set FASTALS_DATA_DIR to the folder of real datasets)")
    return path
