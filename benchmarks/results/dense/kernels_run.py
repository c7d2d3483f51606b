"""Per-kernel wall / CPU ms at 512^2 on 1 and 2 threads (best of 3 x 50 calls): ``python kernels_run.py``."""
import numpy as np, time, os
from qpsolve.linalg import gridmg as G, rowpool
from qpsolve.model.operators import GridSpec
n=m=512; N=n*m
ts = G.TypedStencil(GridSpec((n, m), "biharmonic", "odd").energy())
rng=np.random.default_rng(0); x=rng.normal(size=N); out=np.empty(N)
free=(rng.random(N)>.3).astype(np.uint8)
h = G.TruncatedHierarchy(ts, free, smooth=2, order=1, drop=False)
mh = G.MonotoneHierarchy(ts, smooth=2)
tr = h.transfers[0]; lvl = h.levels[0]
e = np.zeros(0, np.uint8)
jobs = {
 "fine matvec": lambda: ts.matvec(x, out=out),
 "restrict (fine to 256^2)": lambda: tr.restrict(x, free, m, h.alive, np.zeros(lvl.n*lvl.m)),
 "prolong (256^2 to fine)": lambda: G._prolong(np.ones(lvl.n*lvl.m), free, n, m, tr, lvl.m, h.alive, out),
 "coarse matvec 256^2": lambda: G._var_product(lvl.A, np.ones(lvl.n*lvl.m), np.empty(lvl.n*lvl.m), lvl.n, lvl.m, lvl.R, lvl.periodic),
 "obstacles (fine to 256^2)": lambda: mh.transfers[0].restrict_obstacles(-np.abs(x), np.abs(x), m, np.full(lvl.n*lvl.m, -np.inf), np.full(lvl.n*lvl.m, np.inf)),
}
print("load", os.getloadavg())
for name, f in jobs.items():
    row = [name]
    for th in (1, 2):
        rowpool.set_threads(th); f()
        best = []
        for rep in range(3):
            t=time.perf_counter(); c=time.process_time()
            for _ in range(50): f()
            best.append(((time.perf_counter()-t)*20, (time.process_time()-c)*20))
        w, c = min(best)
        row += [f"{w:.2f} / {c:.2f}"]
    print("| " + " | ".join(row) + " |")
print("load", os.getloadavg())
