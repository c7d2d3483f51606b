"""``qpsolve bench``: the solver-comparison benchmark (same as ``python -m benchmarks``)."""

from __future__ import annotations

import shlex
import sys

from ...bench import harness as bench


def register(sub):
    p = sub.add_parser(
        "bench", help="compare the solvers on the paper's problems (time, memory, certificate)",
        description="Run every (solver, problem, size) in a fresh subprocess, skip runs predicted to exceed "
                    "the budget, and write solvers.md, solvers.json and solvers.png into --out.")
    bench.add_arguments(p)
    p.set_defaults(func=run)


def run(args):
    command = " ".join(shlex.quote(a) for a in ["qpsolve", *sys.argv[1:]])
    return bench.run_from_args(args, command=command)
