"""The dropped pdas variant of session 15: joins wait while wrong-signed releases are pending.

It ran against a temporary switch in ``qpsolve/solvers/pdas/iteration.py`` that is not in the repository
(``DEFER = True`` and, in ``update_set`` just before the dense release)::

    if (DEFER and cand.size and 0 < wrong.sum() <= constants.RELEASE_MAX and level.kkt is not None
            and excess[cand].max() <= constants.POLISH_VIOLATION * level.span):
        below = above = cand[:0]

A second variant kept the joins and ran the dense release beside them (``BOTH = True`` and, in
``update_set``, the release's condition ``not (below.size or above.size)`` widened to ``... or tiny``, with
``tiny`` the same test of ``excess[cand].max()``); ``release_with_joins.jsonl`` has its three gaussian2 cases,
run by this script with ``iteration.DEFER`` read as ``iteration.BOTH``.

Each case was solved four times in one process (``OPENBLAS_NUM_THREADS=1``), main's rule and the variant
alternating; ``defer_joins.jsonl`` has the first nine cases (the run was stopped once gaussian2 512² went
from 8 to 12 iterations).
"""
import sys, time, json
import numpy as np
import qpsolve as qs
from qpsolve.bench.problems import build_problem
from qpsolve.solvers.pdas import iteration
cases = [(p, s) for p in ("gaussian2", "gaussian2-even", "rosenbrock2", "gaussian2-masked") for s in (128, 256, 512, 1024, 2048)]
cases += [("camera3", 64), ("camera4", 64), ("camera3", 128), ("camera4", 128)]
only = sys.argv[1:]
for name, size in cases:
    if only and f"{name}-{size}" not in only:
        continue
    prob = build_problem(name, size)
    row = {"case": f"{name}-{size}"}
    for defer in (False, True, False, True):
        iteration.DEFER = defer
        t = time.perf_counter()
        r = qs.solve(prob, solver="pdas", time_limit=300)
        dt = time.perf_counter() - t
        key = "defer" if defer else "main"
        row.setdefault(key, []).append(round(dt, 3))
        row[key + "_it"] = r.iterations
        row[key + "_status"] = str(r.status)
        row[key + "_obj"] = r.objective
        row[key + "_msg"] = r.message[-90:]
    print(json.dumps(row), flush=True)
