"""The benchmark harness on tiny inputs: files produced, tables well formed, RESULTS.md kept.

``scripts/compare_implicit.py`` runs end to end here in its quick mode (a few seconds); timing
itself is never asserted. The PNG checks skip where matplotlib is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from harness import data, machine, models, report  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HAND_WRITTEN = (
    "# Results\n\nHand-written text | with a pipe.\n\n"
    "## Training (issue #2)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
)


def load_script():
    spec = importlib.util.spec_from_file_location(
        "compare_implicit", REPO / "scripts" / "compare_implicit.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tables(markdown: str) -> list[list[list[str]]]:
    """Every markdown table as rows of cells (escaped pipes kept inside cells)."""
    found, current = [], []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            current.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
        elif current:
            found.append(current)
            current = []
    return found


def assert_well_formed(markdown: str) -> int:
    found = tables(markdown)
    for table in found:
        width = len(table[0])
        assert width >= 2, table[0]
        assert all(len(row) == width for row in table), table
        assert all(re.fullmatch(r"-{3,}", cell) for cell in table[1]), table[1]
        assert len(table) >= 3, f"table without rows: {table[0]}"
    return len(found)


def assert_png(path: Path) -> None:
    assert path.is_file(), path
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE, path
    assert path.stat().st_size > 1000


# ---------------------------------------------------------------- writer


def test_write_block_appends_replaces_and_keeps_the_rest(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(HAND_WRITTEN)
    report.write_block(path, "compare_implicit", "first body")
    text = path.read_text()
    assert text.startswith(HAND_WRITTEN)
    assert "<!-- compare_implicit:begin -->\nfirst body\n<!-- compare_implicit:end -->" in text

    report.write_block(path, "compare_implicit:scaling", "scaling body")
    report.write_block(path, "compare_implicit", "second body")
    text = path.read_text()
    assert text.startswith(HAND_WRITTEN)
    assert "first body" not in text and text.count("second body") == 1
    assert report.read_block(path, "compare_implicit").strip() == "second body"
    assert report.read_block(path, "compare_implicit:scaling").strip() == "scaling body"

    # hand-written text after the block survives a rewrite too
    path.write_text(text + "\n## Notes below\n\nkept\n")
    report.write_block(path, "compare_implicit", "third body")
    text = path.read_text()
    assert text.endswith("## Notes below\n\nkept\n") and "third body" in text
    assert text.startswith(HAND_WRITTEN)


def test_write_block_refuses_malformed_markers(tmp_path):
    path = tmp_path / "RESULTS.md"
    original = "text\n<!-- compare_implicit:begin -->\nno end marker\n"
    path.write_text(original)
    with pytest.raises(ValueError, match="malformed"):
        report.write_block(path, "compare_implicit", "body")
    assert path.read_text() == original


def test_write_block_creates_a_new_file(tmp_path):
    path = tmp_path / "sub" / "RESULTS.md"
    report.write_block(path, "compare_implicit", "body")
    assert path.read_text() == (
        "<!-- compare_implicit:begin -->\nbody\n<!-- compare_implicit:end -->\n"
    )


def test_md_table_is_well_formed_and_rejects_ragged_rows():
    md = report.md_table(["a", "b"], [[1, "x|y"], [2, "z"]])
    assert assert_well_formed(md) == 1
    with pytest.raises(ValueError, match="cells"):
        report.md_table(["a", "b"], [[1]])


def test_topn_overlap():
    a = np.array([[0, 1, 2], [3, 4, 5]])
    assert data.topn_overlap(a, a) == 1.0
    b = np.array([[2, 1, 9], [6, 7, 8]])
    assert data.topn_overlap(a, b) == pytest.approx((2 / 3 + 0) / 2)
    assert data.topn_overlap(np.array([[-1, 1]]), np.array([[-1, 1]])) == 0.5


def test_machine_info_names_cpu_blas_and_versions():
    info = machine.machine_info()
    for key in ("cpu", "cores", "blas", "numpy", "numba", "implicit", "fastals"):
        assert info[key], key


# ---------------------------------------------------------------- end to end


def comparison_run(tmp_path):
    """(the loaded script, an out folder holding hand-written RESULTS.md, an empty data dir)."""
    pytest.importorskip("implicit")
    out = tmp_path / "out"
    out.mkdir()
    (out / "RESULTS.md").write_text(HAND_WRITTEN)
    empty = tmp_path / "no-data"
    empty.mkdir()
    return load_script(), out, empty


def test_compare_implicit_quick_run(tmp_path):
    script, out, empty = comparison_run(tmp_path)
    common = ["--quick", "--out", str(out), "--sweep-iterations", "1", "--factors", "8"]
    assert (
        script.main(
            [
                *common,
                "--scale",
                "0.02",
                "--iterations",
                "2",
                "--sweep-factors",
                "4,8",
                "--data-dir",
                str(empty),
            ]
        )
        == 0
    )
    assert script.main([*common, "--scaling", "--sizes", "2000,4000", "--no-compile-time"]) == 0
    power = ["--scaling", "--sizes", "50000", "--no-compile-time", "--scaling-input", "power-law"]
    assert script.main([*common, *power, "--scaling-solvers", "cg"]) == 0

    text = (out / "RESULTS.md").read_text()
    assert text.startswith(HAND_WRITTEN)
    for name in ("compare_implicit", "compare_implicit:scaling"):
        begin, end = report.markers(name)
        assert text.count(begin) == 1 and text.count(end) == 1
    main = report.read_block(out / "RESULTS.md", "compare_implicit")
    assert assert_well_formed(main) >= 8  # machine, datasets, seconds, memory, quality, ...
    assert "skipped" in main and "ml-100k" in main and "lastfm" in main  # absent data noted
    assert "python scripts/compare_implicit.py --quick" in main  # the command beside figures
    seconds = next(t for t in tables(main) if "implicit / fastals" in t[0] and "dataset" in t[0])
    assert [row[0] for row in seconds[2:]] == ["kuairec_like", "kuairec_like"]
    scaling = report.read_block(out / "RESULTS.md", "compare_implicit:scaling")
    assert assert_well_formed(scaling) == 1
    assert len(tables(scaling)[0]) == 2 + 2 * 2  # 2 sizes x 2 solvers
    power_law = report.read_block(out / "RESULTS.md", "compare_implicit:scaling-power-law")
    assert "fastals.data.power_law" in power_law and "--scaling-input power-law" in power_law
    (header, _, row), *_ = tables(power_law)
    assert row[header.index("users x items")] == "500 x 200" and row[header.index("solver")] == "cg"

    results = json.loads((out / "plots" / "compare_implicit.json").read_text())
    runs = results["datasets"]["kuairec_like"]["runs"]
    for library in models.LIBRARIES:
        main_fit = runs[library]["cg-k8-t0"]
        assert len(main_fit["times"]) == len(main_fit["losses"]) == 2
        assert main_fit["peak_rss"] > 0
    overlap = results["datasets"]["kuairec_like"]["quality"]["cg"]["overlap"]
    assert 0.0 <= overlap <= 1.0

    import plots

    if not plots.HAVE_MATPLOTLIB:
        assert "matplotlib is not installed" in main
        pytest.skip("matplotlib not installed: PNG checks skipped")
    for name in (
        "loss_vs_time_kuairec_like",
        "seconds_vs_factors",
        "speed_vs_threads",
        "scaling_nnz",
        "scaling_nnz_power_law",
    ):
        assert_png(out / "plots" / f"{name}.png")
        assert f"(plots/{name}.png)" in text


def test_busy_neighbour_script_runs_and_reports_every_task():
    """``scripts/busy_neighbour.py`` on a tiny matrix: one row per task, every ratio present.
    Timings are not asserted."""
    import subprocess

    pytest.importorskip("implicit")
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "busy_neighbour.py"), "--inputs", "kuairec",
         "--scale", "0.03", "--repeats", "1"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    assert [row.split("|")[2].strip() for row in rows] == ["fit", "recommend", "similar"]
    assert all(len(re.findall(r"\d+\.\d+x", row)) == 4 for row in rows), done.stdout


def test_compare_implicit_busy_mode_writes_its_block(tmp_path):
    """``--busy`` writes its own generated block (idle and busy seconds of both libraries for
    every task), keeps the rest of RESULTS.md, and says when Last.fm is absent."""
    script, out, empty = comparison_run(tmp_path)
    argv = ["--busy", "--quick", "--out", str(out), "--scale", "0.03", "--data-dir", str(empty)]
    assert script.main(argv) == 0
    text = (out / "RESULTS.md").read_text()
    assert text.startswith(HAND_WRITTEN)
    block = report.read_block(out / "RESULTS.md", "compare_implicit:busy")
    assert "python scripts/compare_implicit.py --busy --quick" in block
    assert "Last.fm 2K skipped" in block
    (table,) = tables(block)
    assert [row[:2] for row in table[2:]] == [
        ["KuaiRec shape", task] for task in ("fit", "recommend", "similar")
    ]
    for row in table[2:]:
        for cell in row[2:4]:  # idle / busy seconds, both positive
            assert all(float(x) > 0 for x in cell.split(" / "))
    results = json.loads((out / "plots" / "busy.json").read_text())
    assert len(results["rows"]) == 3 * 2 * 2  # tasks x libraries x (idle, busy)


def test_distributed_bench_writes_its_block(tmp_path):
    """``scripts/distributed_bench.py`` on a tiny power-law input read from Parquet: one row
    per run, the distributed factors equal to one machine's. Timings are not asserted."""
    import subprocess

    pytest.importorskip("distributed")
    pytest.importorskip("pyarrow")
    out = tmp_path / "bench"
    args = ["--input", "power-law", "--nnz", "60000", "--workers", "1", "2", "--threads", "1",
            "--iterations", "2", "--no-implicit", "--factors", "8", "--out", str(out)]  # fmt: skip
    subprocess.run([sys.executable, str(REPO / "scripts" / "distributed_bench.py"), *args],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    block = report.read_block(out / "RESULTS.md", "distributed_bench:power-law-0.06M")
    assert "power_law(600, 200, 60000)" in block and "Parquet" in block
    (header, _, *rows), *_ = tables(block)
    assert [r[0] for r in rows] == [
        "fastals, 1 process, 1 thread(s)",
        "fastals.distributed, 1 worker(s) x 1 thread",
        "fastals.distributed, 2 worker(s) x 1 thread",
    ]
    assert [r[header.index("same factors")] for r in rows[1:]] == ["yes (bit for bit)"] * 2
    assert json.loads((out / "plots" / "distributed_power-law-0.06M.json").read_text())["rows"]


def test_ials_woodbury_script_compares_both_paths():
    """``scripts/ials_woodbury.py`` on a tiny input: one row per factor count, both timings,
    and factors that agree (the two paths solve the same systems)."""
    import subprocess

    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "ials_woodbury.py"), "--users", "3000",
         "--factors", "16", "--rounds", "1"],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (header, _, row), *_ = tables(done.stdout)
    assert row[0] == "16" and row[header.index("plain / Woodbury")].endswith("x**")
    assert float(row[header.index("max abs diff")]) < 1e-3


def test_outer_products_script_times_both_kernels():
    """``scripts/outer_products.py`` on a tiny input: loops and tiles for each thread count,
    the ratio on the tiles' rows."""
    import subprocess

    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "outer_products.py"), "--factors", "16", "24",
         "--rows", "8", "--per-row", "40", "--items", "100"],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (header, _, *rows), *_ = tables(done.stdout)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (k, kernel, threads)
        for k in ("16", "24")
        for threads in ("1", "2")
        for kernel in ("loops", "tiles")
    ]
    assert all(float(r[header.index("GFMA/s")]) > 0 for r in rows)
    assert all(r[-1].endswith("x**") for r in rows if r[1] == "tiles")
