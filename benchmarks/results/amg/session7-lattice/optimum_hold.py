"""Is the stalled Newton step dropped because its held set is short?  The stalled state (1024², four
cycles, after 12 steps: ``snapshot.py 1024 12 4``), after the 4 sweeps: the step as the solver takes it,
and the same step with the optimum's contacts (``snapshot.py 1024 30 1``) held too (moved onto their
bounds, as the retry does); energy change along the projected path.
"""
import numpy as np
import qpsolve.solvers.tnnmg as T
from qpsolve.linalg.gridmg import TruncatedHierarchy
from qpsolve.bench.matrix_problems import build_matrix_problem

prob = build_matrix_problem("plate-textured", 1024)
lvl, _, _ = T._lattice_level(prob)
ts, lo, hi, q = lvl.ts, lvl.lower, lvl.upper, lvl.q
x = np.load("/tmp/snap_1024_12_4.npy")
xs = np.load("/tmp/snap_1024_30_1.npy")
for s in range(T.NONLINEAR_SWEEPS):
    ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
g = lvl.gradient(x)
gap, E = T._estimate(x, g, lo, hi, q)
for name, at_lo, at_hi in (("held as the solver does", x <= lo, x >= hi),
                           ("plus the optimum's contacts", (x <= lo) | (xs <= lo), (x >= hi) | (xs >= hi))):
    held = at_lo | at_hi
    d = np.zeros_like(x)
    d[at_lo] = lo[at_lo] - x[at_lo]
    d[at_hi] = hi[at_hi] - x[at_hi]
    b = -(g + ts.matvec(d))
    b[held] = 0.0
    h = TruncatedHierarchy(ts, (~held).astype(np.uint8), smooth=T.LINEAR_SWEEPS, order=1, drop=False)
    v, its = h.pcg(b, rtol=1e-3, max_iter=T.CG_MAX)
    d += v
    print(f"{name}: held {held.sum()}, max |d| {np.abs(d).max():.3g}")
    for k in range(0, 12, 2):
        t = 0.5 ** k
        xt = np.clip(x + t * d, lo, hi)
        gt = lvl.gradient(xt)
        Et = float(0.5 * xt @ (gt - q) + q @ xt)
        print(f"   t {t:.5f}: E - E0 {Et - E:.4g} (gap at x: {gap:.4g})")
