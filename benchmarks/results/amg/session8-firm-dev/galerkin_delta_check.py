# compare new galerkin_delta pieces with the numpy reference (_truncated) and time them.
# The figures in notes-session8.md were taken on branch firm (41070a8), where _truncated computed only the
# rows asked for (rows=S); since the merge it builds every row, so the reference below takes rows S of the
# whole (the values check is the same, its "numpy" time is now the whole array's, not comparable).
import time, numpy as np
from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.solvers.tnnmg import _lattice_level
from qpsolve.linalg import gridmg as G
for size in (512, 1024):
    prob = build_matrix_problem("plate-textured", size)
    lvl, work, order = _lattice_level(prob)
    ts = lvl.ts; n, m, R = ts.n, ts.m, ts.r
    rng = np.random.default_rng(1)
    old = (rng.random(n*m) > 0.15).astype(np.uint8)
    new = np.where(rng.random(n*m) < 0.03, 1 - old, old).astype(np.uint8)
    changed = np.flatnonzero(new != old).astype(np.int64)
    S = G._near_rows(changed, n, m, R)
    i, j = np.divmod(changed, m)
    near = []
    for a in range(-R, R + 1):
        for b in range(-R, R + 1):
            ok = (i + a >= 0) & (i + a < n) & (j + b >= 0) & (j + b < m)
            near.append((i[ok] + a) * m + j[ok] + b)
    t0 = time.process_time()
    Sref = np.unique(np.concatenate(near))
    dref = G._truncated(ts.A, new, n, m, R)[Sref] - G._truncated(ts.A, old, n, m, R)[Sref]
    t1 = time.process_time()
    S = G._near_rows(changed, n, m, R)
    d = G._truncated_delta(ts.A, new, old, S, n, m, R)
    t2 = time.process_time()
    print(size, changed.size, S.size, np.array_equal(S, Sref), np.array_equal(d, dref), f"numpy {t1-t0:.3f} s numba {t2-t1:.3f} s")
