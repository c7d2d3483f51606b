import time, numpy as np
from qpsolve.linalg import gridmg
from qpsolve.model.operators import GridSpec
def bench(fn, reps=7, inner=10):
    ts_ = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(inner): fn()
        ts_.append((time.perf_counter() - t) / inner * 1e6)
    return round(min(ts_))
N = 256
rng = np.random.default_rng(0)
x0 = rng.normal(size=N * N); lo = x0 - 0.5; hi = x0 + 0.5; q = rng.normal(size=N * N)
f = (rng.random(N * N) > 0.3).astype(np.uint8); b = q * f
for model in ("laplace", "biharmonic", "triharmonic", "thin-plate", "mixed"):
    ts = gridmg.TypedStencil(GridSpec((N, N), model, "odd").energy())
    x = x0.copy(); v = np.zeros(N * N); y = np.empty(N * N)
    ts.projected_gauss_seidel(x, lo, hi, q); ts.gauss_seidel(v, b, f); ts.matvec(x, out=y)
    print(model, int(ts.cnt[ts.r, ts.r]), "pgs", bench(lambda: ts.projected_gauss_seidel(x, lo, hi, q)),
          "gs", bench(lambda: ts.gauss_seidel(v, b, f)), "gs0", bench(lambda: (v.fill(0), ts.gauss_seidel(v, b, f, zero=True))),
          "mv", bench(lambda: ts.matvec(x, out=y)), flush=True)
for R, full in ((2, False), (2, True), (3, True), (4, True)):
    W = 2 * R + 1
    A = rng.normal(scale=0.02, size=(N * N, W * W))
    if not full:
        for a in range(W):
            for c in range(W):
                if abs(a - R) + abs(c - R) > R: A[:, a * W + c] = 0.0
    A[:, R * W + R] = 2.0
    ls = gridmg.LatticeStencil(A, (N, N), R)
    x = x0.copy(); v = np.zeros(N * N); y = np.empty(N * N)
    ls.projected_gauss_seidel(x, lo, hi, q); ls.gauss_seidel(v, b, f); ls.matvec(x, out=y)
    print("lattice R", R, ls._da.size, "pgs", bench(lambda: ls.projected_gauss_seidel(x, lo, hi, q)),
          "gs", bench(lambda: ls.gauss_seidel(v, b, f)), "mv", bench(lambda: ls.matvec(x, out=y)), flush=True)
