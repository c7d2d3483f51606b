import sys, time
import numpy as np
from qpsolve.linalg import gridmg
from qpsolve.model.operators import GridSpec
size = int(sys.argv[1])
ts = gridmg.TypedStencil(GridSpec((size, size), "biharmonic", "odd").energy())
rng = np.random.default_rng(0)
N = size * size
free = (rng.random(N) > 0.3).astype(np.uint8)
h = gridmg.TruncatedHierarchy(ts, free, smooth=2, order=1, drop=False)
mh = gridmg.MonotoneHierarchy(ts, smooth=2)
r = rng.normal(size=N)
def t(f, k=21):
    f(); ts_ = []
    for _ in range(k):
        a = time.perf_counter(); f(); ts_.append(time.perf_counter() - a)
    return 1e3 * float(np.median(ts_))
none = np.zeros(0, np.uint8)
out = {}
for name, tr, fr, al in (("trunc", h.transfers[0], h.free, h.alive), ("mono", mh.transfers[0], none, none)):
    nc, mc = tr.nc, tr.mc
    oc = np.zeros(nc * mc)
    out[name + " restrict"] = t(lambda: tr.restrict(r, fr, size, al, oc))
    vc = rng.normal(size=nc * mc); v = np.zeros(N)
    out[name + " prolong"] = t(lambda: gridmg._prolong(vc, fr, size, size, tr, mc, al, v))
print(sys.argv[2], size, " ".join(f"{k} {v:.2f}" for k, v in out.items()))
