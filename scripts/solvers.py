"""Time every ALS solver per epoch on one dataset: ``fastals solvers`` as a script.

    python scripts/solvers.py --data ml-latest-small --factors 64 128 --epochs 16
    python scripts/solvers.py --data lastfm --factors 64 --heldout 150 --out /tmp/solvers

Runs fastals' iALS solvers (cholesky, cg, ials++, cd) and irspack 0.5.2's (Cholesky, CG,
iALS++) on Rendle et al.'s objective, and implicit's objective solved by fastals and by
implicit 0.7.3 (CG, Cholesky), on the same strong-generalisation split, one after the other
(a library that is not installed is skipped; ``pip install fastals[bench]`` has both).
Writes ``records.json`` (per epoch: seconds, objective, validation Recall@20/50, NDCG@100),
``summary.md`` and figures to ``--out``. ``fastals solvers --help`` lists the options.
"""

import sys

from fastals.cli import main

if __name__ == "__main__":
    sys.exit(main(["solvers", *sys.argv[1:]]))
