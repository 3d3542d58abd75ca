"""``--busy``: both libraries idle and beside a busy process, written to RESULTS.md (issue 17).

The measurement is ``harness.busy`` (also ``scripts/busy_neighbour.py``): fit, recommend-all and
similar_items-all on the KuaiRec-shaped input (factors=50) and HetRec Last.fm 2K (factors=64,
where present), each library idle then with one core kept busy, in this process.
"""

from __future__ import annotations

from pathlib import Path

from harness import busy, machine
from harness.report import write_block

from .common import BUSY_BLOCK, load_average, log, write_json
from .report import code, load_line


def busy_comparison(args, out: Path, command: str) -> dict:
    results = {
        "command": command,
        "machine": machine.machine_info(),
        "generated": machine.now_utc(),
        "load_start": load_average(),
    }
    inputs, notes = busy.inputs(busy.INPUTS, args.scale, args.data_dir)
    log(f"busy: {', '.join(inputs)}, {args.busy_repeats} timed runs per figure ...")
    measured = busy.measure(inputs, busy.TASKS, args.busy_repeats)
    results["load_end"] = load_average()
    results["rows"] = [
        {"input": i, "task": t, "library": lib, "busy": b, "seconds": s}
        for (i, t, lib, b), s in measured.items()
    ]
    shapes = "; ".join(
        f"{label} {m.shape[0]:,} x {m.shape[1]:,}, {m.nnz:,} entries, factors={k}"
        for label, (m, k) in inputs.items()
    )
    md = [
        "## Busy machine (generated)",
        "",
        f"Generated {results['generated']} by {code(command)}; rewritten by that command.",
        "",
        load_line(results),
        f"{shapes}. Each library idle, then with one other process spinning on one core (a "
        f"Python busy loop); median of {args.busy_repeats} timed runs after a warm-up, implicit "
        "with 1 BLAS thread, both on all cores. fit: 15 CG iterations from the same seed; "
        "recommend: every user's top 10, liked items filtered; similar: every item's 10 most "
        "similar items, on seeded random factors.",
        "",
        busy.table(measured),
        "",
    ]
    md += [f"- {n}" for n in notes] + ([""] if notes else [])
    write_json(out / "plots" / "busy.json", results)
    write_block(out / "RESULTS.md", BUSY_BLOCK, "\n".join(md))
    return results


def busy_results(results: dict) -> dict:
    """The {(input, task, library, busy): seconds} of a ``busy_comparison``'s results."""
    return {(r["input"], r["task"], r["library"], r["busy"]): r["seconds"] for r in results["rows"]}
