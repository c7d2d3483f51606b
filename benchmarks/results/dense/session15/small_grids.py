"""Per-call times of the fine kernels on small grids (biharmonic, odd), microseconds, best of 7 x 50 calls:
``PYTHONPATH=$CHECKOUT python small_grids.py``."""
import time, numpy as np
from qpsolve.linalg import gridmg
from qpsolve.model.operators import GridSpec
for N in (16, 32, 64, 128):
    ts = gridmg.TypedStencil(GridSpec((N, N), "biharmonic", "odd").energy())
    rng = np.random.default_rng(0)
    x = rng.normal(size=N * N); lo = x - 1; hi = x + 1; q = rng.normal(size=N * N); f = (rng.random(N * N) > 0.3).astype(np.uint8)
    y = np.empty(N * N)
    ts.projected_gauss_seidel(x, lo, hi, q); ts.gauss_seidel(y * 0, q, f); ts.matvec(x, out=y)
    best = {}
    for name, fn in (("pgs", lambda: ts.projected_gauss_seidel(x, lo, hi, q)), ("gs", lambda: ts.gauss_seidel(y, q, f)),
                     ("mv", lambda: ts.matvec(x, out=y))):
        t_ = []
        for _ in range(7):
            t = time.perf_counter()
            for _ in range(50): fn()
            t_.append((time.perf_counter() - t) / 50 * 1e6)
        best[name] = round(min(t_), 1)
    print(N, best)
