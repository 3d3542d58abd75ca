"""Shared helpers for the benchmark suites and ``scripts/compare_implicit.py``.

Nothing here is timed. One module per concern:

- ``harness.data``: thin wrappers over fastals' loaders, matrix builder, BM25 weighting and
  evaluation, returning canonical float32 CSR; the top-N agreement of two id lists;
- ``harness.models``: the two libraries' model classes and BLAS scoping, seeded factors,
  one ALS iteration without per-fit set-up (``AlsIteration``) and the pytest-benchmark timer;
- ``harness.memory``: current and peak RSS, with the peak reset between fits on Linux;
- ``harness.busy``: both libraries idle and beside a busy neighbour process;
- ``harness.machine``: the machine description (CPU, cores, memory, BLAS, versions, commit);
- ``harness.report``: markdown tables, number formats and the generated-block writer for
  RESULTS.md.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
