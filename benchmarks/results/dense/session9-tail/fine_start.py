import sys, numpy as np
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case
import qpsolve as qs, qpsolve.solvers.tnnmg as T
size, bits = int(sys.argv[1]), int(sys.argv[2])
img, prob = camera_case(size, bits)
cap = {}
orig = T._newton
def newton(level, x, **kw):
    if level.n == prob.n:
        cap["x0"] = x.copy()
        kw["max_iter"] = 0 if False else kw["max_iter"]
    return orig(level, x, **kw)
T._newton = newton
res = qs.solve(prob, solver="tnnmg")
xs = res.x
lvl = T._Level(prob.lower, prob.upper, prob.q, prob.grid)
ts, lo, hi, q = lvl.ts, prob.lower, prob.upper, prob.q
x = cap["x0"]
def info(x, tag):
    g = lvl.gradient(x)
    gap, E = T._estimate(x, g, lo, hi, q)
    Es = T._estimate(xs, lvl.gradient(xs), lo, hi, q)[1]
    print(f"{tag}: E-E* {E-Es:.4e} (rel {(E-Es)/Es:.2e}) gap rel {gap/E:.3e} max|x-x*| {np.abs(x-xs).max():.2f} mean {np.abs(x-xs).mean():.3f}")
info(x, "prolonged+clipped")
w = hi - lo
at = (x <= lo) | (x >= hi)
print("pixels at a bound at start", at.sum(), "at optimum", ((xs <= lo) | (xs >= hi)).sum())
for s in range(4): ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
info(x, "after 4 sweeps")
# energy split: local energy density of x-x*
d = x - xs
Pd = ts.matvec(d)
print("1/2 d'Pd", 0.5 * d @ Pd)
n = size
e = (d * Pd).reshape(n, n)
B = n // 32
blk = e.reshape(B, 32, B, 32).sum(axis=(1, 3))
print("top 5% blocks carry", np.sort(blk.ravel())[::-1][: B * B // 20].sum() / blk.sum())
