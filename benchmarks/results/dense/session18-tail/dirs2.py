import sys, numpy as np, time
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case
import qpsolve.solvers.tnnmg as T
from qpsolve.linalg.gridmg import TruncatedHierarchy
from qpsolve.linalg.threads import blas_threads
size, snap, Estar = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
img, prob = camera_case(size, 3)
lvl = T._Level(prob.lower, prob.upper, prob.q, prob.grid)
lo, hi, q = prob.lower, prob.upper, prob.q
x0 = np.load(snap)
def sweeps(x, n=4):
    for s in range(n):
        lvl.ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
    return x
def est(x):
    g = lvl.gradient(x); gap, E = T._estimate(x, g, lo, hi, q); return gap / E, E - Estar
with blas_threads(1):
    x = sweeps(x0.copy())
    g = lvl.gradient(x); gap, E = T._estimate(x, g, lo, hi, q)
    print(f"start rel gap {gap/E:.3e}, E-E* {E-Estar:.3e}", flush=True)
    held = (x <= lo) | (x >= hi)
    h = TruncatedHierarchy(lvl.ts, (~held).astype(np.uint8), smooth=2, order=1, drop=False)
    b = -g.copy(); b[held] = 0
    for its in (3, 10, 30, 60):
        d, k = h.pcg(b, rtol=1e-14, max_iter=its)
        row = []
        for t in (1.0, 0.5, 0.25, 0.125):
            xt = np.clip(x + t * d, lo, hi)
            r0 = est(xt)
            xs = sweeps(xt.copy(), 4)
            r4 = est(xs)
            row.append(f"t={t}: clip E-E* {r0[1]:.2e} | +4 sweeps E-E* {r4[1]:.2e} gap {r4[0]:.2e}")
        print(f"its {its}:", "\n    ".join(row), flush=True)
