"""CPU / wall seconds of the lattice detection and stencil read-out inside one tnnmg solve of the plate.

``PYTHONPATH=<tree> python detect_in_solve.py SIZE [NUMBA_MIN_NNZ]``: wraps find_lattice and stencil_array
with timers (their own seconds, summed per function).
"""
import resource
import sys
import time

import qpsolve as qs
import qpsolve.linalg.gridmg as G
import qpsolve.linalg.lattice as L
from qpsolve.bench.matrix_problems import build_matrix_problem

acc = {}


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_minflt


def timed(mod, name):
    f = getattr(mod, name)

    def g(*a, **k):
        (c0, f0), w0 = cpu(), time.perf_counter()
        out = f(*a, **k)
        (c1, f1), w1 = cpu(), time.perf_counter()
        s = acc.setdefault(name, [0, 0.0, 0.0, 0])
        s[0] += 1
        s[1] += c1 - c0
        s[2] += w1 - w0
        s[3] += f1 - f0
        return out
    setattr(mod, name, g)


for mod, name in [(L, "find_lattice"), (L, "stencil_array")]:
    timed(mod, name)
size = int(sys.argv[1])
if len(sys.argv) > 2:  # NUMBA_MIN_NNZ (trees that have it)
    L.NUMBA_MIN_NNZ = int(sys.argv[2])
prob = build_matrix_problem("plate-textured", size)
(c0, f0), w0 = cpu(), time.perf_counter()
res = qs.solve(prob, solver="tnnmg")
(c1, f1), w1 = cpu(), time.perf_counter()
print(size, res.status, f"solve cpu {c1 - c0:.2f} wall {w1 - w0:.2f} minor faults {f1 - f0}")
for k, (n, c, w, fl) in acc.items():
    print(f"  {k}: {n} calls, cpu {c:.3f} s, wall {w:.3f} s, minor page faults {fl}")
