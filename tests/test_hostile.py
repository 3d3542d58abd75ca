"""Hostile inputs never crash fastals (issue 14, "Keep it true").

Each test runs one hypothesis case of ``tests/hostile_cases.py`` in a child process
(``python tests/hostile_cases.py CASE``): every generated call must raise a clear error of a
documented type or return the answer of a brute-force NumPy oracle (see that module). A child
killed by a signal (segfault, abort), one that hangs past TIMEOUT_S, or one that reports a
failing example fails the test, which names the last call the child started.

To see every distinct failure of a case instead of stopping at the first one:
``HOSTILE_COLLECT=1 python tests/hostile_cases.py CASE`` (a crash still stops it; the last
line of the file named by $HOSTILE_TRACE is the call that crashed).
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("hostile_cases.py")
TIMEOUT_S = 240  # a case takes seconds; a hang (e.g. load blocking on a FIFO) ends here
CASES = [
    "corrupt_csr_structure",
    "odd_index_dtypes",
    "noncanonical_valid_matrices",
    "bad_matrix_data",
    "other_sparse_formats",
    "hostile_ids",
    "explain_user_weights",
    "recommend_after_partial_fit_items",
    "crafted_model_files",
    "special_files",
    "cli_recommend_corrupt_training_matrix",
]


def run_case(name, tmp_path):
    """Run case ``name`` in a child Python; fail with its last call and output unless it
    exits 0 after printing "<name>: ok"."""
    trace = tmp_path / "calls.txt"
    # one thread: the inputs are tiny, and answers do not depend on the thread count
    env = {**os.environ, "HOSTILE_TRACE": str(trace), "NUMBA_NUM_THREADS": "1"}
    env.pop("HOSTILE_COLLECT", None)
    try:
        child = subprocess.run(
            [sys.executable, str(CHILD), name],
            cwd=tmp_path,  # hypothesis and the cases write nothing into the repository
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{name}: no answer in {TIMEOUT_S} s; last call: {last_call(trace)}\n{exc}")
    code = child.returncode
    if code == 0 and child.stdout.strip().endswith(f"{name}: ok"):
        return
    how = f"exit code {code}"
    if code < 0:
        how = f"killed by {signal.Signals(-code).name} (a crash)"
    output = (child.stdout + child.stderr)[-8000:]
    pytest.fail(f"{name}: child {how}\nlast call: {last_call(trace)}\n--- output ---\n{output}")


def last_call(trace):
    lines = trace.read_text().splitlines() if trace.exists() else []
    return lines[-1] if lines else "(none)"


@pytest.mark.parametrize("name", CASES)
def test_hostile_inputs(name, tmp_path):
    run_case(name, tmp_path)


def test_every_case_is_run():
    """CASES lists every case hostile_cases.py defines (a new case cannot be forgotten)."""
    text = CHILD.read_text()
    defined = {
        line.split("(")[0][len("def ") :]
        for previous, line in zip(text.splitlines(), text.splitlines()[1:], strict=False)
        if previous.startswith("@case(") and line.startswith("def ")
    }
    assert defined == set(CASES)


def test_a_crash_fails_the_test(tmp_path, monkeypatch):
    """The harness itself: a child killed by a signal is reported as a crash, with its last
    call, and does not take pytest down."""
    crasher = tmp_path / "crasher.py"
    crasher.write_text(
        "import os, signal, sys\n"
        "open(os.environ['HOSTILE_TRACE'], 'a').write('the call that crashes\\n')\n"
        "os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "CHILD", crasher)
    with pytest.raises(pytest.fail.Exception, match="SIGSEGV.*\n.*the call that crashes"):
        run_case("crasher", tmp_path)
