import sys, time, json
import numpy as np
from qpsolve.linalg import gridmg
from qpsolve.model.operators import GridSpec
size = int(sys.argv[1]); model = sys.argv[2] if len(sys.argv) > 2 else "biharmonic"
ts = gridmg.TypedStencil(GridSpec((size, size), model, "odd").energy())
rng = np.random.default_rng(0)
N = size * size
lo = rng.uniform(0, 100, N); hi = lo + 32; q = np.zeros(N)
x = np.clip(rng.uniform(0, 132, N), lo, hi)
free = (rng.random(N) > 0.3).astype(np.uint8); b = rng.normal(size=N) * free; v = np.zeros(N)
def t(f, k=15):
    f(); ts_ = []
    for _ in range(k):
        a = time.perf_counter(); f(); ts_.append(time.perf_counter() - a)
    return 1e3 * float(np.median(ts_))
res = {"pgs fwd": t(lambda: ts.projected_gauss_seidel(x, lo, hi, q, reverse=False)),
       "pgs rev": t(lambda: ts.projected_gauss_seidel(x, lo, hi, q, reverse=True)),
       "gs fwd": t(lambda: ts.gauss_seidel(v, b, free, reverse=False)),
       "gs rev": t(lambda: ts.gauss_seidel(v, b, free, reverse=True)),
       "gs zero": t(lambda: ts.gauss_seidel(np.zeros(N), b, free, reverse=False, zero=True)),
       "matvec": t(lambda: ts.matvec(x))}
print(sys.argv[3] if len(sys.argv) > 3 else "", size, model, " ".join(f"{k} {v:.2f}" for k, v in res.items()))
