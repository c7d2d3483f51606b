"""One ``pcg`` solve of a user-built problem with its knobs changed: ``python -m benchmarks.amg_knobs``.

The runs of ``benchmarks/results/amg/notes-session2.md``: ``KNOB=value`` sets
a module constant of :mod:`qpsolve.solvers.pcg` (``MOVING_CG_MAXITER=3``),
``name=value`` passes a solve option (``smoothing_sweeps=30``); ``V=1`` in the
environment prints every Newton step.  Prints the status, wall and CPU
seconds, Newton steps and CG iterations.

Example: ``python -m benchmarks.amg_knobs plate-textured 256 MOVING_CG_MAXITER=3``
"""

from __future__ import annotations

import ast
import os
import sys
import time


def main(argv=None):
    import qpsolve as qs
    import qpsolve.solvers.pcg as pcg
    from qpsolve.bench.matrix_problems import build_matrix_problem

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        raise SystemExit("usage: python -m benchmarks.amg_knobs PROBLEM SIZE [KNOB=value | option=value ...]")
    name, size = argv[0], int(argv[1])
    opts = {}
    for kv in argv[2:]:
        key, value = kv.split("=", 1)
        if key.isupper():
            if not hasattr(pcg, key):
                raise SystemExit(f"pcg has no constant {key}")
            setattr(pcg, key, ast.literal_eval(value))
        else:
            opts[key] = ast.literal_eval(value)
    prob = build_matrix_problem(name, size)
    prob.P  # noqa: B018  (assembled before the clock starts)
    cpu = time.process_time()
    r = qs.solve(prob, solver="pcg", verbose=bool(os.environ.get("V")), time_limit=opts.pop("time_limit", 300), **opts)
    print(argv[2:], r.status, f"solve {r.solve_time:.1f}s cpu {time.process_time() - cpu:.1f}", "newton",
          r.iterations, "cg", r.info.get("cg_iterations"), flush=True)


if __name__ == "__main__":
    main()
