"""The command line of ``scripts/compare_implicit.py``: flags, defaults, the printed summary."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from harness import REPO_ROOT, busy
from harness.data import DEFAULT_DATA_DIR
from harness.models import LIBRARIES

from .busy import busy_comparison, busy_results
from .child import child_main
from .common import (
    DATASETS,
    SCALING_INPUTS,
    SOLVERS,
    config_key,
    harness_threads,
    load_average,
    log,
)
from .fits import main_comparison
from .scaling import scaling


def _ints(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def parse_args(argv=None, description: str | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="small inputs and few iterations (seconds); defaults below change",
    )
    p.add_argument("--scale", type=float, help="kuairec_like scale per side (1.0; quick 0.05)")
    p.add_argument("--iterations", type=int, help="iterations of the main fits (15; quick 3)")
    p.add_argument(
        "--sweep-iterations",
        type=int,
        help="iterations per factors/threads/scaling fit (3; quick 2)",
    )
    p.add_argument("--factors", type=int, default=64, help="factors of the main fits (64)")
    p.add_argument(
        "--sweep-factors",
        type=_ints,
        default=[32, 64, 128],
        help="factors for the seconds-vs-factors figure (32,64,128)",
    )
    p.add_argument(
        "--threads",
        type=_ints,
        help="thread counts for the speed-vs-threads figure (1,2,4,.. up to cores)",
    )
    p.add_argument(
        "--datasets",
        type=lambda s: [x for x in s.split(",") if x],
        default=list(DATASETS),
        help=f"subset of {','.join(DATASETS)}",
    )
    p.add_argument(
        "--data-dir",
        default=str(DEFAULT_DATA_DIR),
        help="folder holding ml-100k/ and hetrec2011-lastfm-2k/ (../shared/data)",
    )
    p.add_argument(
        "--out",
        default=str(REPO_ROOT / "benchmarks"),
        help="where RESULTS.md and plots/ go (benchmarks/)",
    )
    p.add_argument(
        "--scaling",
        action="store_true",
        help="run the scaling study (and compile time) instead of the comparison",
    )
    p.add_argument(
        "--sizes",
        type=_ints,
        help="stored entries for --scaling (1e6,2e6,5e6,10e6,20e6,50e6; quick small)",
    )
    p.add_argument("--scaling-solvers", type=lambda s: s.split(","), default=list(SOLVERS))
    p.add_argument(
        "--scaling-input",
        choices=SCALING_INPUTS,
        default=SCALING_INPUTS[0],
        help="with --scaling: kuairec (kuairec_like at KuaiRec's density) or power-law "
        "(fastals.data.power_law, 100 entries per user, 10 users per item: sizes of "
        "hundreds of millions); each writes a block of its own (kuairec)",
    )
    p.add_argument(
        "--busy",
        action="store_true",
        help="time both libraries idle and beside a busy process instead of the comparison",
    )
    p.add_argument(
        "--busy-repeats", type=int, help="with --busy: timed runs per figure (3; quick 1)"
    )
    p.add_argument(
        "--no-compile-time",
        dest="compile_time",
        action="store_false",
        help="with --scaling: skip the cold/warm compile-time measurement",
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    apply_defaults(args)
    unknown = set(args.datasets) - set(DATASETS)
    if unknown:
        p.error(f"unknown datasets {sorted(unknown)}; choose from {', '.join(DATASETS)}")
    if not 0 < args.scale:
        p.error("--scale must be > 0")
    return args


def apply_defaults(args: argparse.Namespace) -> None:
    """Defaults that depend on ``--quick`` or on the machine's cores."""
    q = args.quick
    if args.scale is None:
        args.scale = 0.05 if q else 1.0
    if args.iterations is None:
        args.iterations = 3 if q else 15
    if args.sweep_iterations is None:
        args.sweep_iterations = 2 if q else 3
    if args.threads is None:
        cores = harness_threads()
        args.threads = sorted({t for t in (1, 2, 4, 8, 16, 32, 64) if t <= cores} | {cores})
    if args.busy_repeats is None:
        args.busy_repeats = 1 if q else 3
    if args.sizes is None:
        args.sizes = (
            [20_000, 50_000]
            if q
            else [1_000_000, 2_000_000, 5_000_000, 10_000_000, 20_000_000, 50_000_000]
        )
    args.sizes = sorted(set(args.sizes))


def display_command(argv) -> str:
    return "python scripts/compare_implicit.py" + ("" if not argv else " " + shlex.join(argv))


def main(argv=None, description: str | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv, description)
    if args.child:
        child_main(args.child)
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = display_command(argv)
    load = load_average()
    if load and load[0] > 0.5 * harness_threads():
        log(
            f"the machine is busy (load average {load[0]:.2f} on {harness_threads()} cores): "
            "timings will be noisy; the load is written beside the results"
        )
    if args.scaling:
        print_scaling(scaling(args, out, command), args)
    elif args.busy:
        print(busy.table(busy_results(busy_comparison(args, out, command))))
    else:
        print_comparison(main_comparison(args, out, command), args)
    print(f"wrote {out / 'RESULTS.md'} and {out / 'plots'}")
    return 0


def print_scaling(results: dict, args) -> None:
    for p in results["points"]:
        for s in args.scaling_solvers:
            key = config_key(s, args.factors)
            f, i = (p["runs"][lib][key]["seconds"] for lib in LIBRARIES)
            print(
                f"nnz {p['nnz']:>11,} {s:>8}: fastals {f:.3f} s, implicit {i:.3f} s, {i / f:.2f}x"
            )


def print_comparison(results: dict, args) -> None:
    for name, d in results["datasets"].items():
        if "runs" not in d:
            print(f"{name}: {d['description']}")
            continue
        for s in SOLVERS:
            key = config_key(s, args.factors)
            f, i = (d["runs"][lib][key]["seconds"] for lib in LIBRARIES)
            print(
                f"{name:>12} {s:>8}: fastals {f:.4f} s/it, implicit {i:.4f} s/it, "
                f"{i / f:.2f}x; top-10 overlap {d['quality'][s]['overlap']:.3f}"
            )
