"""``pdas`` on the 2-bit Gaussian at 2048² (``odd``), verbose: the fine level's PDAS iterations, and the wall time.

``python pdas_2048.py '{"CONSTANT": value}'`` sets constants of ``qpsolve.solvers.pdas.constants`` first.
"""
import json
import sys
import time

import qpsolve as qs
from qpsolve.bench.problems import build_problem
from qpsolve.solvers.pdas import constants

for name, value in json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}").items():
    if not hasattr(constants, name):
        raise SystemExit(f"no constant {name!r} in qpsolve.solvers.pdas.constants")
    setattr(constants, name, value)
prob = build_problem("gaussian2", 2048)
t = time.perf_counter()
res = qs.solve(prob, solver="pdas", verbose=True)
print(f"{time.perf_counter() - t:.2f} s wall, {res.status}, relative gap {res.certificate.relative_gap:.3g}" if hasattr(res, "certificate") else f"{time.perf_counter() - t:.2f} s wall, {res.status}")
print(res.message)
