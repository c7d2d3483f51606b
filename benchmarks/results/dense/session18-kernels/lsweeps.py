import sys, time
import numpy as np
from qpsolve.bench.harness import build_problem
from qpsolve.linalg.gridmg import LatticeStencil
from qpsolve.linalg.lattice import lattice_of, stencil_array
size = int(sys.argv[1])
prob = build_problem("plate-textured", size)
lat, why = lattice_of(prob)
P = lat.permuted(prob.P) if lat.order is not None else prob.P
ls = LatticeStencil(stencil_array(P, lat.shape, lat.radius), lat.shape, lat.radius)
N = ls.n * ls.m
rng = np.random.default_rng(0)
lo = rng.uniform(0, 100, N); hi = lo + 32; q = np.zeros(N)
x = np.clip(rng.uniform(0, 132, N), lo, hi)
free = (rng.random(N) > 0.3).astype(np.uint8); b = rng.normal(size=N) * free; v = np.zeros(N)
def t(f, k=15):
    f(); ts_ = []
    for _ in range(k):
        a = time.perf_counter(); f(); ts_.append(time.perf_counter() - a)
    return 1e3 * float(np.median(ts_))
res = {"pgs fwd": t(lambda: ls.projected_gauss_seidel(x, lo, hi, q, reverse=False)),
       "pgs rev": t(lambda: ls.projected_gauss_seidel(x, lo, hi, q, reverse=True)),
       "gs fwd": t(lambda: ls.gauss_seidel(v, b, free, reverse=False)),
       "matvec": t(lambda: ls.matvec(x))}
print(sys.argv[2], size, " ".join(f"{k} {v:.2f}" for k, v in res.items()))
