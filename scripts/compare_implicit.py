"""fastals vs implicit 0.7.3, side by side on identical inputs, written to benchmarks/RESULTS.md.

Usage::

    python scripts/compare_implicit.py                 # full comparison (~10 min on 2 cores)
    python scripts/compare_implicit.py --quick         # small inputs, seconds
    python scripts/compare_implicit.py --scaling       # time per iteration vs nnz + compile time
    python scripts/compare_implicit.py --scaling --sizes 1e6,5e6,20e6
    python scripts/compare_implicit.py --busy          # idle vs a busy neighbour process

Datasets: (a) ``fastals.data.kuairec_like`` (KuaiRec-shaped, ``--scale`` per side), (b)
MovieLens 100K and (c) HetRec Last.fm 2K from ``--data-dir`` (default ``../shared/data``;
skipped with a note when absent). Each is split once (80/20, seed 0); both libraries fit the
same train matrix with the same hyper-parameters and seed.

Method:

- every library's fits run in a fresh subprocess of its own (one per dataset), so peak
  memory is that library's alone; the peak RSS is reset before each fit (Linux clear_refs)
  and read after it;
- a warm-up fit on 100 rows first (JIT compile / caches), excluded;
- seconds per iteration are the median of the ``fit`` callback's elapsed times (the two
  half-sweeps, as implicit times them; per-fit set-up excluded);
- the training loss after each iteration is computed outside the timed region by one function
  for both (implicit's ``calculate_loss``) on the library's current factors;
- ranking metrics @10 on the held-out 20% (``fastals.evaluation.ranking_metrics_at_k``,
  implicit's definitions, on each library's own model), and the mean overlap of the two
  top-10 lists (liked items filtered) over all users;
- implicit runs with 1 BLAS thread (as it asks); the main fits use all cores, and
  ``--threads`` sets the thread counts of the speed-vs-threads sweep.

Output: a generated block in ``<out>/RESULTS.md`` (between ``<!-- compare_implicit:begin -->``
and ``<!-- compare_implicit:end -->``, or the ``compare_implicit:scaling`` or ``:busy``
markers; the rest of the file is left as it is), PNGs in ``<out>/plots/`` and the raw numbers
as JSON beside them.

This file is the entry point; the work is in ``scripts/comparison/`` (one module per concern)
and the shared helpers in ``benchmarks/harness/``.
"""

import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path[:0] = [str(SCRIPTS), str(SCRIPTS.parent / "benchmarks")]

from comparison import cli  # noqa: E402


def main(argv=None) -> int:
    return cli.main(argv, description=__doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
