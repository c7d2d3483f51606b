"""One ``auto`` solve of issue #20's textured plate: CPU / wall seconds, fine steps, status; saves x.

``PYTHONPATH=<tree> python solve_once.py SIZE [OUT.npy]`` (the tree whose code runs comes first on the path).
"""
import os
import resource
import sys
import time

import numpy as np

import qpsolve as qs
from qpsolve.bench.matrix_problems import build_matrix_problem

size = int(sys.argv[1])
prob = build_matrix_problem("plate-textured", size)
c0 = resource.getrusage(resource.RUSAGE_SELF)
w0 = time.perf_counter()
res = qs.solve(prob, solver="auto")
c1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
levels = res.info.get("levels", [])
fine = levels[-1]["steps"] if levels else None
print(f"{size} {os.path.dirname(qs.__file__)} status {res.status} solver {res.solver} cpu {cpu:.2f} "
      f"wall {time.perf_counter() - w0:.2f} fine_steps {fine} obj {prob.objective(res.x):.6f} "
      f"load {os.getloadavg()[0]:.2f}", flush=True)
if len(sys.argv) > 2:
    np.save(sys.argv[2], res.x)
