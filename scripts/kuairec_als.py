"""The seed notebook's pipeline, end to end on fastals (see fastals/kuairec/pipeline.py).

Usage: python scripts/kuairec_als.py [--data-dir DIR] [--json] [--scale 0.05] [--seed 0]
Without --data-dir it runs on a generated KuaiRec-format folder. With --json the last line of
stdout is one JSON object (users, items, interactions, eval_users, seed, small_items,
baselines, timings, ...).
"""

import sys

from fastals.cli import main

if __name__ == "__main__":
    sys.exit(main(["kuairec", *sys.argv[1:]]))
