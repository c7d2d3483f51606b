import time, numpy as np
from numba import njit
from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.solvers.tnnmg import _lattice_level
from qpsolve.linalg import gridmg as G

@njit(cache=False)
def dot4(A, da, db, x, p, i, j, n, m, R):
    if R <= i < n - R and R <= j < m - R:
        s0 = 0.0; s1 = 0.0; s2 = 0.0; s3 = 0.0
        K = da.size
        k = 0
        while k + 3 < K:
            s0 += A[p, k] * x[p + da[k] * m + db[k]]
            s1 += A[p, k + 1] * x[p + da[k + 1] * m + db[k + 1]]
            s2 += A[p, k + 2] * x[p + da[k + 2] * m + db[k + 2]]
            s3 += A[p, k + 3] * x[p + da[k + 3] * m + db[k + 3]]
            k += 4
        while k < K:
            s0 += A[p, k] * x[p + da[k] * m + db[k]]
            k += 1
        return (s0 + s1) + (s2 + s3)
    s = 0.0
    for k in range(da.size):
        i2 = i + da[k]; j2 = j + db[k]
        if 0 <= i2 < n and 0 <= j2 < m:
            s += A[p, k] * x[i2 * m + j2]
    return s

@njit(cache=False)
def sweep4(A, da, db, cen, v, b, lo, hi, free, n, m, R, reverse, project):
    trunc = free.size > 0
    for ii in range(n):
        i = n - 1 - ii if reverse else ii
        for jj in range(m):
            j = m - 1 - jj if reverse else jj
            p = i * m + j
            if trunc and free[p] == 0:
                continue
            d = A[p, cen]
            if d <= 0.0:
                continue
            t = v[p] + (b[p] - dot4(A, da, db, v, p, i, j, n, m, R)) / d
            if project:
                t = min(max(t, lo[p]), hi[p])
            v[p] = t

for size in (512, 1024):
    prob = build_matrix_problem("plate-textured", size)
    lvl, work, order = _lattice_level(prob)
    ts = lvl.ts
    x = np.random.default_rng(0).normal(size=ts.n*ts.m); b = x.copy()
    free = np.ones(x.size, np.uint8); free[::7] = 0
    none = np.zeros(0, np.uint8)
    x1 = x.copy(); x2 = x.copy()
    G._sparse_sweep(ts._Ac, ts._da, ts._db, ts._cen, x1, b, b, b, free, ts.n, ts.m, ts.r, False, False)
    sweep4(ts._Ac, ts._da, ts._db, ts._cen, x2, b, b, b, free, ts.n, ts.m, ts.r, False, False)
    print("maxdiff", np.abs(x1 - x2).max())
    for name, f in [("old", lambda: G._sparse_sweep(ts._Ac, ts._da, ts._db, ts._cen, x1, b, b, b, free, ts.n, ts.m, ts.r, False, False)),
                    ("new", lambda: sweep4(ts._Ac, ts._da, ts._db, ts._cen, x2, b, b, b, free, ts.n, ts.m, ts.r, False, False))]:
        best = 1e9
        for r in range(5):
            t0 = time.process_time(); f(); f(); f(); best = min(best, (time.process_time()-t0)/3)
        print(size, name, f"{best*1e3:.2f} ms", f"{best/x.size*1e9:.2f} ns/px", flush=True)
