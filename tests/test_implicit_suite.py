"""implicit 0.7.3's own tests/als_test.py passes with fastals swapped in for its model.

Runs ``scripts/implicit_suite.py`` (which takes the test files from implicit's sdist at run
time). Skips only where implicit is not installed or the sdist can be neither downloaded nor
found in the cache; any failing implicit test fails this test, with pytest's output attached.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "implicit_suite.py"


def load_script():
    spec = importlib.util.spec_from_file_location("implicit_suite", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_implicit_als_suite_passes():
    pytest.importorskip("implicit", reason="implicit is not installed")
    suite = load_script()
    try:
        sdist = suite.obtain_sdist()
    except suite.SdistUnavailable as exc:
        pytest.skip(f"implicit 0.7.3 sdist unavailable (no network, no cached copy): {exc}")

    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--sdist", str(sdist), "-rfE"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output, returncode = done.stdout + done.stderr, done.returncode
    assert returncode == 0, f"implicit's als_test.py failed against fastals:\n{output}"
    summary = output.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) > 0, f"no passed tests reported:\n{output}"
    assert not re.search(r"\d+ (failed|errors?)\b", summary), f"failures reported:\n{output}"
