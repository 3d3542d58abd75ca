"""The parts of ``scripts/compare_implicit.py`` (the entry point), one module per concern.

- ``common``: settings shared by the parts (solvers, datasets, seed), fit configs, logging;
- ``inputs``: the datasets, prepared as confidence matrices;
- ``child``: fits of one library in a fresh subprocess (timings, losses, peak RSS);
- ``fits``: the main comparison (fits on every dataset, the sweeps, ranking quality);
- ``report``: its generated block of RESULTS.md, and markdown shared with ``scaling``;
- ``scaling``: seconds per iteration vs stored entries, and the compile time;
- ``busy``: both libraries idle and beside a busy process (``harness.busy``);
- ``cli``: the command line.

These modules import ``harness`` and ``plots`` from ``benchmarks/``, which the entry point
puts on ``sys.path``.
"""
