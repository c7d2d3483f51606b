import sys, numpy as np
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case
import qpsolve.solvers.tnnmg as T
from qpsolve.linalg.gridmg import TruncatedHierarchy
img, prob = camera_case(1024, 3)
lvl = T._Level(prob.lower, prob.upper, prob.q, prob.grid)
ts, lo, hi, q = lvl.ts, prob.lower, prob.upper, prob.q
x = np.load("x1024_step10.npy")
for s in range(4): ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
xs = np.load("x1024_opt.npy")
g = lvl.gradient(x)
held = (x <= lo) | (x >= hi)
free = (~held).astype(np.uint8)
b = -g.copy(); b[held] = 0
h = TruncatedHierarchy(ts, free, smooth=2, order=1, drop=False)
E0 = T._estimate(x, g, lo, hi, q)[1]
for k in (1, 2, 3, 5, 10, 20, 40, 80):
    v, its = h.pcg(b, rtol=1e-16, max_iter=k)
    r = b - ts.matvec(v) * free
    y = x + v
    err = np.abs(y - xs); e0 = np.abs(x - xs)
    print(f"cg {k}: |r|/|b| {np.linalg.norm(r)/np.linalg.norm(b):.2e} max|v| {np.abs(v).max():.3f} "
          f"|x+v-x*|max {err.max():.3f} (|x-x*| {e0.max():.3f}) outside box {int(np.sum((y<lo)|(y>hi)))} "
          f"dE(unclipped) {0.5*v@ts.matvec(v)+g@v:.3e}", flush=True)
