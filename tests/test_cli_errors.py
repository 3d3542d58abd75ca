"""Every user mistake the fastals command can be given: one line on stderr, exit code 2, no
traceback, found before any expensive work. Most run in-process; a few run as a real
``python -m fastals`` process to check what a shell user sees."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_cli import run

import fastals
import fastals.model_files
from fastals.cli import main

FAST = ["--factors", "2", "--iterations", "1", "--quiet"]
UI = ["--user-col", "u", "--item-col", "i"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Paths by name: small tables, good and broken model files, a folder, a FIFO."""
    tmp = tmp_path_factory.mktemp("bad")
    paths = {"tmp": tmp, "folder": tmp / "folder"}
    paths["folder"].mkdir()
    tables = {
        "csv": "u,i,w\n1,10,1\n1,11,2\n2,10,3\n2,12,1\n3,11,5\n3,12,2\n",
        "empty": "",
        "header_only": "u,i,w\n",
        "inf": "u,i,w\n1,10,1\n2,11,inf\n",
        "text": "u,i,w\n1,10,1\n2,11,lots\n",
        "f32": "u,i,w\n1,10,1\n2,11,1e39\n",
        "pair_sum": "u,i,w\n1,10,3e38\n1,10,3e38\n",
        "float_ids": "u,i,w\n1.5,10,1\n2,11,1\n",
        "no_header": "1\t10\t1\n2\t11\t1\n",
    }
    for name, text in tables.items():
        paths[name] = tmp / f"{name}.csv"
        paths[name].write_text(text)
    paths["model"] = tmp / "model.npz"
    assert main(["fit", str(paths["csv"]), *UI, "-o", str(paths["model"]), *FAST]) == 0
    paths["unweighted"] = paths["model"]  # fitted without --weight-col
    with np.load(paths["model"]) as data:
        good = dict(data)
    broken = {
        "short_user_ids": {"user_ids": good["user_ids"][:-1]},
        "repeated_item_ids": {"item_ids": np.zeros_like(good["item_ids"])},
        "train_shape": {"train_shape": good["train_shape"] + [0, 1]},
        "train_index": {"train_indices": good["train_indices"] + 100},
    }
    for name, change in broken.items():
        paths[name] = tmp / f"{name}.npz"
        np.savez(paths[name], **{**good, **change})
    if hasattr(os, "mkfifo"):
        paths["fifo"] = tmp / "fifo"
        os.mkfifo(paths["fifo"])
    return paths


# (argv with {name} for the paths above, a fragment of the message)
MISTAKES = {
    "empty file": (["fit", "{empty}", *UI, "-o", "{tmp}/m"], "is empty"),
    "header only": (["fit", "{header_only}", *UI, "-o", "{tmp}/m"], "has no data rows"),
    "inf weight": (["fit", "{inf}", *UI, "--weight-col", "w", "-o", "{tmp}/m"], "infinite"),
    "text weight": (["fit", "{text}", *UI, "--weight-col", "w", "-o", "{tmp}/m"], "'lots'"),
    "weight beyond float32": (
        ["fit", "{f32}", *UI, "--weight-col", "w", "-o", "{tmp}/m"],
        "too large for float32",
    ),
    "pair sum beyond float32": (
        ["fit", "{pair_sum}", *UI, "--weight-col", "w", "-o", "{tmp}/m"],
        "sum beyond float32",
    ),
    "alpha x weight beyond float32": (
        ["fit", "{csv}", *UI, "--weight-col", "w", "--alpha", "1e38", "-o", "{tmp}/m"],
        "overflows float32",
    ),
    "non-integer float id": (["fit", "{float_ids}", *UI, "-o", "{tmp}/m"], "non-integral"),
    "folder as model": (["recommend", "{folder}", "--users", "1"], "is a directory"),
    "FIFO as model": (["recommend", "{fifo}", "--users", "1"], "FIFO"),
    "table as model": (["recommend", "{csv}", "--users", "1"], "not a readable model file"),
    "missing model": (["recommend", "{tmp}/nothing.npz", "--users", "1"], "no such model"),
    "-o into a missing folder": (["fit", "{csv}", *UI, "-o", "{tmp}/no/m"], "does not exist"),
    "-o a folder": (["fit", "{csv}", *UI, "-o", "{tmp}/dir.npz"], "is a directory"),
    "--factors 0": (["fit", "{csv}", *UI, "-o", "{tmp}/m", "--factors", "0"], "must be >= 1"),
    "negative regularization": (
        ["fit", "{csv}", *UI, "-o", "{tmp}/m", "--regularization", "-0.5"],
        "must be >= 0",
    ),
    "-N -5": (["recommend", "{model}", "--users", "1", "-N", "-5"], "argument -N"),
    "-K 0": (["evaluate", "{model}", "{csv}", *UI, "-K", "0"], "argument -K"),
    "same user and item column": (
        ["fit", "{csv}", "--user-col", "u", "--item-col", "u", "-o", "{tmp}/m"],
        "same column",
    ),
    "id map of the wrong length": (
        ["recommend", "{short_user_ids}", "--users", "1"],
        "user_ids has shape",
    ),
    "repeated ids in a map": (
        ["recommend", "{repeated_item_ids}", "--users", "1"],
        "must be distinct",
    ),
    "training matrix of the wrong shape": (
        ["recommend", "{train_shape}", "--users", "1"],
        "training matrix has shape (3, 4) but the model has 3 users x 3 items",
    ),
    "training index out of range": (["recommend", "{train_index}", "--users", "1"], "index"),
    "folder as table": (["fit", "{folder}", *UI, "-o", "{tmp}/m"], "is a directory, not a file"),
    "missing table": (["fit", "{tmp}/nothing.csv", *UI, "-o", "{tmp}/m"], "no such file"),
    "missing column": (
        ["fit", "{csv}", "--user-col", "user", "--item-col", "i", "-o", "{tmp}/m"],
        "no column 'user'",
    ),
    "header-less file read with a header": (
        ["fit", "{no_header}", "--user-col", "user", "--item-col", "item", "-o", "{tmp}/m"],
        "--no-header",
    ),
    "--names without --no-header": (
        ["fit", "{csv}", *UI, "--names", "u,i,w", "-o", "{tmp}/m"],
        "add --no-header",
    ),
    "--names of the wrong length": (
        ["fit", "{no_header}", *UI, "--no-header", "--names", "u,i", "-o", "{tmp}/m"],
        "has 3 columns",
    ),
    "bad --sep": (["fit", "{csv}", *UI, "--sep", "::", "-o", "{tmp}/m"], "argument --sep"),
    "unknown user with --strict": (
        ["recommend", "{model}", "--users", "1", "99999", "--strict"],
        "unknown user id: 99999",
    ),
    "no users given": (["recommend", "{model}"], "is required"),
    "--min-value without a weight column": (
        ["evaluate", "{unweighted}", "{csv}", *UI, "--min-value", "4"],
        "needs --weight-col",
    ),
    "--by time without --time-col": (
        ["split", "{csv}", *UI, "--by", "time", "--train", "{tmp}/a", "--test", "{tmp}/b"],
        "needs --time-col",
    ),
    "--test-fraction 1.5": (
        [
            "split",
            "{csv}",
            *UI,
            "--test-fraction",
            "1.5",
            "--train",
            "{tmp}/a",
            "--test",
            "{tmp}/b",
        ],
        "between 0 and 1",
    ),
    "split onto its input": (
        ["split", "{csv}", *UI, "--train", "{csv}", "--test", "{tmp}/b"],
        "is the input",
    ),
    "unknown command": (["frobnicate"], "invalid choice"),
}


def expand(argv, files):
    return [a.format(**{k: str(v) for k, v in files.items()}) for a in argv]


@pytest.mark.parametrize("argv, fragment", MISTAKES.values(), ids=MISTAKES.keys())
def test_mistake_is_one_line_and_exit_2(files, argv, fragment):
    if "{fifo}" in argv and "fifo" not in files:
        pytest.skip("no FIFOs on this system")
    (files["tmp"] / "dir.npz").mkdir(exist_ok=True)
    code, out, err = run(*expand(argv, files))
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fastals") and fragment in lines[0]
    assert "Traceback" not in err and ".tmp" not in err
    assert out == ""


def test_missing_output_folder_is_found_before_the_fit(files, monkeypatch):
    def no_fit(*args, **kwargs):
        raise AssertionError("fit ran before the output path was checked")

    monkeypatch.setattr(fastals.AlternatingLeastSquares, "fit", no_fit)
    code, _, err = run("fit", files["csv"], *UI, "-o", files["tmp"] / "missing" / "m.npz")
    assert code == 2 and "'" + str(files["tmp"] / "missing") + "' does not exist" in err


def test_a_failed_save_never_names_the_temporary_file(files, monkeypatch):
    target = files["tmp"] / "m.npz"

    def full_disk(model, path, extra=None):
        hidden = os.path.join(os.path.dirname(path), ".m.npz.0123456789ab.tmp")
        raise OSError(errno.ENOSPC, "No space left on device", hidden)

    monkeypatch.setattr(fastals.model_files, "save_model", full_disk)
    code, _, err = run("fit", files["csv"], *UI, "-o", target, *FAST)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        f"fastals fit: cannot write {target}: No space left on device"
    )
    assert ".tmp" not in err


def test_parquet_without_pyarrow_names_the_extra(files, monkeypatch):
    def no_engine(*args, **kwargs):
        raise ImportError("Unable to find a usable engine; tried using: 'pyarrow'")

    monkeypatch.setattr(pd, "read_parquet", no_engine)
    path = files["tmp"] / "plays.parquet"
    path.write_bytes(b"PAR1" + bytes(16) + b"PAR1")
    code, _, err = run("fit", path, *UI, "-o", files["tmp"] / "m")
    assert code == 2
    assert err.strip() == (
        f"fastals fit: {path} is a Parquet file, which needs pyarrow: pip install fastals[parquet]"
    )


def test_library_warnings_print_as_one_clean_line(files):
    code, _, err = run("fit", files["csv"], *UI, "-o", files["tmp"] / "w", "--factors", "9",
                       "--iterations", "1", "--quiet")  # fmt: skip
    assert code == 0
    warnings = [line for line in err.splitlines() if "warning" in line.lower()]
    assert len(warnings) == 1 and warnings[0].startswith("fastals fit: warning: ")
    assert "warnings.warn" not in err and ".py:" not in err


# ---------------------------------------------------------------- as a shell user sees it


def fastals_process(*argv):
    tree = str(Path(fastals.__file__).resolve().parents[1])  # this checkout, not an install
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tree, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "fastals", *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_bare_fastals_prints_the_help_and_exits_2():
    done = fastals_process()
    assert done.returncode == 2
    assert done.stderr.startswith("usage: fastals")
    for command in ("split", "fit", "recommend", "evaluate", "kuairec"):
        assert command in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "name", ["text weight", "--factors 0", "folder as model", "weight beyond float32"]
)
def test_mistakes_in_a_real_process(files, name):
    argv, fragment = MISTAKES[name]
    done = fastals_process(*expand(argv, files))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and fragment in done.stderr
    assert "Traceback" not in done.stderr
