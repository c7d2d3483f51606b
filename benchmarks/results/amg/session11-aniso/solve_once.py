"""``auto`` solves in one warm process: CPU / wall seconds, fine Newton steps, objective; saves x.

``PYTHONPATH=<tree> python solve_once.py NAME:SIZE [NAME:SIZE ...]`` (NAME a matrix problem such as
``plate-aniso`` or ``camera3`` from qpsolve.bench.problems, ``NAME:SIZE:SOLVER`` another solver; the first solve of the list is a warm-up
at 64^2 when ``--warm`` is given).  Out: one line per solve; ``x_NAME_SIZE.npy`` under ``$OUTDIR`` if set.
"""
import os
import resource
import sys
import time

import numpy as np

import qpsolve as qs
from qpsolve.bench.matrix_problems import build_matrix_problem


def build(name, size):
    if name.startswith("camera"):
        from qpsolve.bench.problems import build_problem
        return build_problem(name, size)
    return build_matrix_problem(name, size)


args = sys.argv[1:]
if args and args[0] == "--warm":
    args = args[1:]
    qs.solve(build("plate-aniso", 64), solver="auto")
    qs.solve(build("camera3", 64), solver="auto")
for spec in args:
    name, size, *how = spec.split(":")
    size = int(size)
    solver = how[0] if how else "auto"
    prob = build(name, size)
    c0 = resource.getrusage(resource.RUSAGE_SELF)
    w0 = time.perf_counter()
    res = qs.solve(prob, solver=solver)
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    levels = res.info.get("levels", []) if isinstance(res.info, dict) else []
    fine = (levels[-1].get("steps", levels[-1].get("iterations")) if levels else None)
    print(f"{time.strftime('%H:%M:%S', time.gmtime())}Z {name} {size} {solver} status {res.status} solver {res.solver} "
          f"cpu {cpu:.2f} wall {time.perf_counter() - w0:.2f} fine_steps {fine} "
          f"steps {[(lv.get('solver'), lv.get('steps', lv.get('iterations'))) for lv in levels]} obj {prob.objective(res.x)!r} "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    if os.environ.get("OUTDIR"):
        np.save(os.path.join(os.environ["OUTDIR"], f"x_{name}_{size}_{solver}.npy"), res.x)
