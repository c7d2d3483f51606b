"""CPU seconds and peak RSS of one ``auto`` solve in a fresh process (numba's first use included).

``PYTHONPATH=<tree> python first_solve.py NAME SIZE``: a problem of qpsolve.bench.matrix_problems, or
``graph`` (a 300-variable sparse graph QP, 10 430 stored entries) with SIZE ignored; a third argument
sets ``qpsolve.linalg.lattice.NUMBA_MIN_NNZ`` (trees that have it).
"""
import resource
import sys

import numpy as np
import scipy.sparse as sp

import qpsolve as qs
from qpsolve.bench.matrix_problems import build_matrix_problem


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


name, size = sys.argv[1], int(sys.argv[2])
if len(sys.argv) > 3:
    import qpsolve.linalg.lattice

    qpsolve.linalg.lattice.NUMBA_MIN_NNZ = int(sys.argv[3])
if name == "graph":
    A = sp.random(300, 300, density=0.02, random_state=0)
    P = (A @ A.T + sp.identity(300)).tocsr()
    prob = qs.BoxQP(P, -np.ones(300), np.ones(300), np.random.default_rng(0).normal(size=300))
else:
    prob = build_matrix_problem(name, size)
c0 = cpu()
res = qs.solve(prob)
print(f"{name} {size} nnz {prob.P.nnz} {res.solver} {res.status} cpu {cpu() - c0:.2f} "
      f"maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB numba "
      f"{'numba' in sys.modules}" + (f" NUMBA_MIN_NNZ {sys.argv[3]}" if len(sys.argv) > 3 else ""))
