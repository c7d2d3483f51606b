"""Solver-comparison benchmark: every registered solver on the paper's problems, size by size.

Used by ``python -m benchmarks`` (from the repository root) and ``qpsolve bench``.

Each (solver, problem, size) run happens in a fresh Python subprocess, so that

* peak memory is the child's own high-water mark (``ru_maxrss`` of the child,
  i.e. ``VmHWM`` on Linux, measured at its end and sent back), and
* a crash, a runaway or a timeout of one run cannot take the benchmark down.

Sizes are run in increasing order.  Before a run, the time of the same solver
on the same problem at the previous size is extrapolated with that solver's
observed growth exponent (``t ~ pixels**p``; ``p = 1.5`` until two sizes are
measured); a run predicted to exceed the budget is skipped, and a run that hit
its time limit marks all larger sizes of that solver/problem as skipped.

With ``repeat=k`` every run that finished is made ``k`` times, each in a
fresh subprocess, and the table shows the median run (the lower median for
even ``k``) with the range of the ``k`` solve times beside it: single solves
on a shared machine vary by a quarter, which a ratio of two of them cannot
tell from a change of the code.  A repeat that fails or is not certified is
shown instead of the median, never averaged away; peak memory is the largest
of the ``k``.  With ``interleave=True`` (``--interleave``) the repeats come in
rounds over all cells, so that the medians of two sizes, and their ratio,
span the same minutes.

Outputs (rewritten after every run, so an interrupted benchmark leaves partial
results): ``solvers.md`` (Markdown table, machine and versions, summary),
``solvers.json`` (raw records) and ``solvers.png`` (log-log time vs. pixels).
"""


from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import shlex
import sys
from pathlib import Path

from ..validation import check_positive_int
from .matrix_problems import variables
from .child import run_child
from .problems import DEFAULT_SIZES, MIN_SIZE, PROBLEMS, QUICK_SIZES, build_problem
from .report import machine_info, package_versions, write_results
from .timing import DEFAULT_EXPONENT, combine_repeats, predict_time

__all__ = [
    "PROBLEMS",
    "DEFAULT_SIZES",
    "QUICK_SIZES",
    "DEFAULT_EXPONENT",
    "build_problem",
    "run_child",
    "predict_time",
    "combine_repeats",
    "run_benchmark",
    "build_parser",
    "add_arguments",
    "run_from_args",
    "main",
]

DEFAULT_TIME_LIMIT = 300.0
QUICK_TIME_LIMIT = 60.0
#: default budget of a predicted run (s): "more than a few minutes" is skipped
DEFAULT_BUDGET = 180.0


def run_benchmark(solvers, problems, sizes, *, time_limit, budget, tol=1e-8, out_dir="benchmarks/results",
                  command=None, log=print, repeat=1, interleave=False):
    """Run the benchmark and write ``solvers.{md,json,png}`` into ``out_dir``.

    Parameters
    ----------
    solvers, problems : list of str
        Registry names and :data:`PROBLEMS` keys (validated by the caller).
    sizes : list of int
        Image sides, run in increasing order.
    time_limit : float
        Per-run ``time_limit`` of :func:`qpsolve.solve`.
    budget : float
        A run whose predicted solve time exceeds this is skipped.
    tol : float
        Certificate tolerance.
    out_dir : str or Path
        Output folder (created).
    command : str, optional
        Command line recorded in the report.
    log : callable
        Progress printer.
    repeat : int
        Runs of every cell that finished (see :func:`combine_repeats`); a
        run that hit its time limit is not repeated.
    interleave : bool
        Make the repeats in rounds over all cells (every cell's second
        run, then every cell's third, ...) instead of one cell's ``repeat``
        runs back to back: the medians of two sizes then come from the same
        minutes, so a ratio of them does not follow the machine's drift.
        The first run of every cell still goes in size order and decides
        what is skipped (the prediction then uses first runs, not
        medians); a repeat that fails no longer blocks the larger sizes,
        which ran before it.  Until its last round a cell's record says how
        many runs it has (``repeat_note``).

    Returns
    -------
    list of dict
        One record per (solver, problem, size), skipped ones included.

    Raises
    ------
    ValueError
        If ``repeat`` is not a positive integer.
    """
    check_positive_int(repeat, "repeat")
    out_dir = Path(out_dir)
    meta = {"command": command or "qpsolve.bench.run_benchmark(...)",
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine_info(), "versions": package_versions(), "tol": tol, "time_limit": time_limit,
            "budget": budget, "solvers": list(solvers), "problems": list(problems), "sizes": list(sizes),
            "repeat": int(repeat), "interleave": bool(interleave)}
    records = []
    later = []  # (index in records, base, runs): cells whose repeats come in rounds (interleave)
    history = {}   # (solver, problem) -> [(pixels, seconds)]
    blocked = {}   # (solver, problem) -> reason for skipping all larger sizes
    for size in sorted(sizes):
        for prob in problems:
            for si, solver in enumerate(solvers):
                key = (solver, prob)
                base = {"solver": solver, "problem": prob, "size": int(size), "solver_index": si}
                pixels = variables(prob, size)
                if key in blocked:
                    rec = dict(base, outcome="skipped", reason=blocked[key])
                else:
                    pred, p = predict_time(history.get(key, []), pixels)
                    if pred is not None and pred > budget:
                        rec = dict(base, outcome="skipped", predicted=pred, exponent=p,
                                   reason=f"skipped (predicted {pred:.0f} s > budget {budget:g} s)")
                    else:
                        log(f"[bench] {solver:>12s} {prob:>16s} {size:5d}^2 ...", end="", flush=True)
                        rec = dict(base, **run_child(solver, prob, size, time_limit=time_limit, tol=tol))
                        repeats = repeat > 1 and rec["outcome"] == "ran" and rec["status"] != "time_limit"
                        if repeats and interleave:
                            later.append((len(records), base, [rec]))
                            rec = dict(rec, repeat_note=f"1 of {repeat} runs so far")  # the report, until the rounds
                        elif repeats:
                            runs = [rec]
                            for _ in range(repeat - 1):
                                runs.append(run_child(solver, prob, size, time_limit=time_limit, tol=tol))
                            log(" " + ", ".join(f"{r['solve_time']:.3f} s" if r["outcome"] == "ran" else r["outcome"]
                                                for r in runs) + ";", end="")
                            rec = dict(base, **combine_repeats(runs))
                        if pred is not None:
                            rec["predicted"] = pred
                        o = rec["outcome"]
                        if o == "ran":
                            log((" shown:" if rec.get("repeats", 1) > 1 else "")
                                + f" {rec['solve_time']:.3f} s, {rec['status']}, {rec['peak_mb']:.0f} MB")
                            history.setdefault(key, []).append((pixels, rec["solve_time"]))
                            if rec["status"] == "time_limit":
                                blocked[key] = "skipped: timed out at smaller size"
                        else:
                            log(f" {o}: {rec.get('reason', '').split(';')[0]}")
                            if o == "timeout":
                                blocked[key] = "skipped: timed out at smaller size"
                            elif o == "unsupported":
                                blocked[key] = f"unsupported: {rec['reason'].split(';')[0]}"
                            else:
                                blocked[key] = f"skipped: {o} at smaller size"
                        records.append(rec)
                        write_results(out_dir, records, meta, solvers, plot=False)
                        continue
                records.append(rec)
        write_results(out_dir, records, meta, solvers, plot=False)
    for k in range(2, repeat + 1 if later else 0):
        for idx, base, runs in later:
            log(f"[bench] {base['solver']:>12s} {base['problem']:>16s} {base['size']:5d}^2 run {k} of {repeat} ...",
                end="", flush=True)
            runs.append(run_child(base["solver"], base["problem"], base["size"], time_limit=time_limit, tol=tol))
            r = runs[-1]
            log(f" {r['solve_time']:.3f} s" if r["outcome"] == "ran" else f" {r['outcome']}")
            rec = dict(base, **combine_repeats(runs))
            if "predicted" in records[idx]:
                rec["predicted"] = records[idx]["predicted"]
            if k < repeat:  # an interrupted benchmark's partial report says which cells are short
                so_far = f"{k} of {repeat} runs so far"
                rec["repeat_note"] = f"{rec['repeat_note']}; {so_far}" if rec.get("repeat_note") else so_far
            records[idx] = rec
            write_results(out_dir, records, meta, solvers, plot=False)
    write_results(out_dir, records, meta, solvers, plot=True)
    log(f"[bench] wrote {out_dir / 'solvers.md'}, {out_dir / 'solvers.json'}, {out_dir / 'solvers.png'}")
    return records


# ----------------------------------------------------------------------------- command line

def add_arguments(p):
    """Add the benchmark's options to an :class:`argparse.ArgumentParser`."""
    p.add_argument("--solvers", nargs="+", metavar="NAME",
                   help="solvers to compare, 'auto' for qs.solve's own choice (default: all available)")
    p.add_argument("--problems", nargs="+", metavar="NAME",
                   help=f"problems (default: all): {', '.join(PROBLEMS)}")
    p.add_argument("--sizes", nargs="+", type=int, metavar="N",
                   help=f"square image sides (default: {' '.join(map(str, DEFAULT_SIZES))})")
    p.add_argument("--time-limit", type=float, default=None,
                   help=f"per-run time limit in s (default {DEFAULT_TIME_LIMIT:g}, {QUICK_TIME_LIMIT:g} with --quick)")
    p.add_argument("--budget", type=float, default=None,
                   help=f"skip a run whose predicted time exceeds this (s; default min({DEFAULT_BUDGET:g}, time limit))")
    p.add_argument("--tol", type=float, default=1e-8, help="certificate tolerance (default 1e-8)")
    p.add_argument("--quick", action="store_true",
                   help=f"sizes {' '.join(map(str, QUICK_SIZES))} and a {QUICK_TIME_LIMIT:g} s time limit "
                        "(explicit --sizes/--time-limit win)")
    p.add_argument("--repeat", type=int, default=1, metavar="K",
                   help="make every run that finished K times and report the median (default 1)")
    p.add_argument("--interleave", action="store_true",
                   help="make the repeats in rounds over all runs, so that every median (and a ratio of "
                        "two) spans the same minutes of a machine whose speed drifts")
    p.add_argument("--out", default=os.path.join("benchmarks", "results"),
                   help="output folder (default benchmarks/results)")
    return p


def build_parser(prog="python -m benchmarks"):
    """The stand-alone parser of ``python -m benchmarks``."""
    p = argparse.ArgumentParser(prog=prog, description="Compare qpsolve's solvers on the paper's problems.")
    return add_arguments(p)


def _resolve(args):
    from ..solvers import SOLVERS, available_solvers

    avail = available_solvers()
    solvers = args.solvers or avail
    for s in solvers:
        if s == "auto":  # what qs.solve picks (and retries) by itself
            continue
        if s not in SOLVERS:
            raise ValueError(f"unknown solver {s!r}; choose 'auto' or one of {list(SOLVERS)}")
        if s not in avail:
            raise ValueError(f"solver {s!r} is not installed here; available: {avail}")
    problems = args.problems or list(PROBLEMS)
    for q in problems:
        if q not in PROBLEMS:
            raise ValueError(f"unknown problem {q!r}; choose from {list(PROBLEMS)}")
    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    for n in sizes:
        if n < MIN_SIZE:
            raise ValueError(f"sizes must be integers >= {MIN_SIZE}, got {n}")
    tl = args.time_limit if args.time_limit is not None else (QUICK_TIME_LIMIT if args.quick else DEFAULT_TIME_LIMIT)
    if not (math.isfinite(tl) and tl > 0):
        raise ValueError(f"--time-limit must be a positive number of seconds, got {tl}")
    budget = args.budget if args.budget is not None else min(DEFAULT_BUDGET, tl)
    if not budget > 0:
        raise ValueError(f"--budget must be positive, got {budget}")
    if not 0 < args.tol < 1:
        raise ValueError(f"--tol must be in (0, 1), got {args.tol}")
    dedup = lambda xs: list(dict.fromkeys(xs))  # noqa: E731
    # (the repeat count is checked by run_benchmark, before anything is written)
    return dedup(solvers), dedup(problems), sorted(set(sizes)), tl, budget, args.repeat, args.interleave


def run_from_args(args, command=None):
    """Validate parsed arguments and run; returns the exit status (0).

    Raises
    ------
    ValueError
        For an unknown solver or problem name, a size below 8, a non-positive
        time limit, budget or repeat count.
    """
    solvers, problems, sizes, tl, budget, repeat, interleave = _resolve(args)
    if command is None:
        command = " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable), *sys.argv])
    run_benchmark(solvers, problems, sizes, time_limit=tl, budget=budget, tol=args.tol, out_dir=args.out,
                  command=command, repeat=repeat, interleave=interleave)
    return 0


def main(argv=None, prog="python -m benchmarks"):
    """Command-line entry of ``python -m benchmarks``; returns the exit status.

    Bad arguments print one line on stderr and return 2.
    """
    args = build_parser(prog).parse_args(argv)
    argv_list = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(shlex.quote(a) for a in ["python", "-m", "benchmarks", *argv_list])
    try:
        return run_from_args(args, command=command)
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
