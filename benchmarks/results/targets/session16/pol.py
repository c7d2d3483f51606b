import sys, time
import numpy as np
import qpsolve as qs
from qpsolve.bench.problems import build_problem
from qpsolve.solvers.pdas import level as L
orig = L.Level._refine
def wrapped(self, x, act, upper, overwrite_x=False):
    scale = float(np.abs(x).max())
    s, sh, size = orig(self, x, act, upper, overwrite_x)
    if self.prob.n > 1e6: print("  refine n=%d size=%.3g scale=%.3g ratio=%.3g" % (self.prob.n, size, scale, size/scale))
    return s, sh, size
L.Level._refine = wrapped
import importlib; cm = importlib.import_module("qpsolve.certificate")
oc = cm.certificate
def cw(*a, **k):
    c = oc(*a, **k)
    if a[0].n > 1e6: print("  cert rel=%.3g floor=%.3g gap=%.3g opt=%s" % (c.relative_gap, c.gap_floor, c.gap, c.optimal))
    return c
import qpsolve.solvers.pdas.iteration as it
it.certificate = cw
n = int(sys.argv[1])
prob = build_problem("gaussian2", n)
r = qs.solve(prob, solver="pdas")
print(n, r.iterations, r.status)
from qpsolve.solvers.pdas import constants as C
for steps in (1, 2):
    C.POLISH_STEPS = steps
    t = time.perf_counter()
    r = qs.solve(prob, solver="pdas")
    print("POLISH_STEPS", steps, n, r.iterations, r.status, round(time.perf_counter()-t, 2))
