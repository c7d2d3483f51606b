import sys, numpy as np
import qpsolve.solvers.tnnmg as T
from qpsolve.bench.matrix_problems import build_matrix_problem
for size in (512, 1024):
    prob = build_matrix_problem("plate-textured", size)
    lvl, work, order = T._lattice_level(prob)
    x = np.load(f"/tmp/snap_{size}_30_1.npy")
    lo, hi = lvl.lower, lvl.upper
    g = lvl.gradient(x)
    push = np.where(x <= lo, g, np.where(x >= hi, -g, np.nan)) / lvl.diag / (hi - lo)
    left = (np.arange(size * size) % size) < size // 2
    for name, msk in (("camera half", left), ("gaussian half", ~left)):
        p = push[msk & np.isfinite(push)]
        print(size, name, "held", p.size, "push/bin percentiles 10/50/90:", np.percentile(p, [10, 50, 90]), "frac > 0.1:", np.mean(p > 0.1), "> 0.01", np.mean(p > 0.01))
