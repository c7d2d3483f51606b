import time, numpy as np, sys
from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.solvers.tnnmg import _lattice_level
from qpsolve.linalg import gridmg as G
for size in (512, 1024):
    prob = build_matrix_problem("plate-textured", size)
    lvl, work, order = _lattice_level(prob)
    ts = lvl.ts
    x = np.random.default_rng(0).normal(size=ts.n*ts.m); b = x.copy(); out = np.empty_like(x)
    free = np.ones(x.size, np.uint8); free[::7] = 0
    for name, f in [("matvec", lambda: ts.matvec(x, out)), ("gs", lambda: ts.gauss_seidel(x, b, free)),
                    ("pgs", lambda: ts.projected_gauss_seidel(x, lvl.lower, lvl.upper, lvl.q))]:
        f()
        best = 1e9
        for r in range(5):
            t0 = time.process_time(); f(); f(); f(); best = min(best, (time.process_time()-t0)/3)
        print(size, name, f"{best*1e3:.2f} ms", f"{best/x.size*1e9:.2f} ns/px", "cols", ts._Ac.shape[1], flush=True)
