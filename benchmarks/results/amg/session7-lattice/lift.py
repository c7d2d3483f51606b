"""Do the monotone cycles lift the smooth half's contacts off a converged state?

``python lift.py SIZE FIRM``: from the converged iterate saved by ``snapshot.py SIZE 30 1``, held pixels
per half after each of 4 monotone V-cycles (``tnnmg.MONOTONE_SMOOTH`` sweeps, ``firm`` as given), and the
relative gap estimate.
"""
import sys
import numpy as np
import qpsolve.solvers.tnnmg as T
from qpsolve.linalg.gridmg import MonotoneHierarchy
from qpsolve.bench.matrix_problems import build_matrix_problem

size, firm = int(sys.argv[1]), float(sys.argv[2])
prob = build_matrix_problem("plate-textured", size)
lvl, work, order = T._lattice_level(prob)
ts, lo, hi, q = lvl.ts, lvl.lower, lvl.upper, lvl.q
x = np.load(f"/tmp/snap_{size}_30_1.npy")
left = (np.arange(size * size) % size) < size // 2
mh = MonotoneHierarchy(ts, smooth=T.MONOTONE_SMOOTH)


def report(label):
    held = (x <= lo) | (x >= hi)
    gap, E = T._estimate(x, lvl.gradient(x), lo, hi, q)
    print(f"{label}: held camera half {np.count_nonzero(held & left)}, smooth half {np.count_nonzero(held & ~left)},"
          f" rel gap {gap / E:.3e}", flush=True)


report("converged")
for k in range(4):
    x = mh.vcycle(x, lo, hi, q, firm=firm)
    report(f"after cycle {k + 1}")
