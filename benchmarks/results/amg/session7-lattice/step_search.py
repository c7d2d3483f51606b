import sys, numpy as np
import qpsolve.solvers.tnnmg as T
from qpsolve.linalg.gridmg import TruncatedHierarchy, MonotoneHierarchy
from qpsolve.bench.matrix_problems import build_matrix_problem
size, path = int(sys.argv[1]), sys.argv[2]
prob = build_matrix_problem("plate-textured", size)
lvl, work, order = T._lattice_level(prob)
assert order is None
x = np.load(path)
ts, lo, hi, q = lvl.ts, lvl.lower, lvl.upper, lvl.q
for s in range(T.NONLINEAR_SWEEPS):
    ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
g = lvl.gradient(x)
gap, E = T._estimate(x, g, lo, hi, q)
print("rel gap", gap / E, "E", E)
at_lo, at_hi = x <= lo, x >= hi
held = at_lo | at_hi
free = ~held
dist = np.minimum(x - lo, hi - x)
for th in [1e-12, 1e-9, 1e-6, 1e-3, 1e-1]:
    print(f"free within {th:g} of a bound: {np.count_nonzero(free & (dist < th))}")
# pixels free whose gradient pushes into a near bound
fr = free.astype(np.uint8)
h = TruncatedHierarchy(ts, fr, smooth=T.LINEAR_SWEEPS, order=1, drop=False)
b = -g.copy(); b[held] = 0
for its_max in [3, 10, 30, 100]:
    v, its = h.pcg(b, rtol=1e-13, max_iter=its_max)
    d = v
    # quadratic model on free set, unclipped
    Pd = ts.matvec(d)
    print(f"cg {its}: model decrease g.d + 1/2 d'Pd = {g@d + 0.5*d@Pd:.4g}, g.d {g@d:.4g}")
    for k in range(12):
        t = 0.5 ** k
        xt = np.clip(x + t * d, lo, hi)
        gt = lvl.gradient(xt)
        Et = float(0.5 * xt @ (gt - q) + q @ xt)
        nclip = np.count_nonzero((x + t * d < lo) | (x + t * d > hi))
        print(f"   t {t:.5f}: E-E0 {Et-E:.4g}, armijo rhs {1e-4*float(g@(xt-x)):.4g}, clipped {nclip}, unclipped model {t*(g@d)+0.5*t*t*(d@Pd):.4g}")
