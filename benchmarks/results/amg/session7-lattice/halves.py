"""Held pixels per half of the plate (camera / smooth) after every monotone V-cycle of the fine level.

``python halves.py SIZE CYCLES STEPS``: ``tnnmg`` on ``plate-textured`` with ``LATTICE_MONOTONE_CYCLES =
CYCLES``, stopped after ``STEPS`` fine Newton steps; one line per fine step: held pixels in each half after
the Newton step's line search (before the cycles) and after each cycle.
"""
import sys
import numpy as np
import qpsolve.solvers.tnnmg as T
from qpsolve.linalg import gridmg
from qpsolve.bench.matrix_problems import build_matrix_problem

size, cycles, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
T.LATTICE_MONOTONE_CYCLES = cycles
prob = build_matrix_problem("plate-textured", size)
left = (np.arange(size * size) % size) < size // 2
rows = []
_vc = gridmg.MonotoneHierarchy.vcycle


def counts(x, lo, hi):
    held = (x <= lo) | (x >= hi)
    return np.count_nonzero(held & left), np.count_nonzero(held & ~left)


def vcycle(self, x, lo, hi, q, firm=None):
    if x.size == size * size:
        before = counts(x, lo, hi)
        out = _vc(self, x, lo, hi, q, firm=firm)
        rows.append((before, counts(out, lo, hi)))
        return out
    return _vc(self, x, lo, hi, q, firm=firm)


gridmg.MonotoneHierarchy.vcycle = vcycle
out = T._solve(prob, tol=1e-8, max_iter=steps, x0=None, verbose=False, time_limit=None)
print(out.message)
for k in range(0, len(rows), cycles):
    step = rows[k:k + cycles]
    print(f"step {k // cycles + 1:3d}: before cycles camera/smooth {step[0][0]}, after each: {[r[1] for r in step]}")
