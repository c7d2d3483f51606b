import sys, numpy as np
import qpsolve.solvers.tnnmg as T
from qpsolve.linalg.gridmg import TruncatedHierarchy
from qpsolve.bench.matrix_problems import build_matrix_problem
size, path = int(sys.argv[1]), sys.argv[2]
prob = build_matrix_problem("plate-textured", size)
lvl, work, order = T._lattice_level(prob)
x = np.load(path)
ts, lo, hi, q = lvl.ts, lvl.lower, lvl.upper, lvl.q
for s in range(T.NONLINEAR_SWEEPS):
    ts.projected_gauss_seidel(x, lo, hi, q, reverse=bool(s % 2))
g = lvl.gradient(x)
held = (x <= lo) | (x >= hi); free = ~held
term = np.maximum(np.where(g > 0, g * (x - lo), np.where(g < 0, g * (x - hi), 0.0)), 0)
n = size
left = (np.arange(n * n) % n) < n // 2
print("gap total", term.sum(), "on held", term[held].sum(), "free", term[free].sum(), "camera half", term[left].sum(), "gaussian half", term[~left].sum())
h = TruncatedHierarchy(ts, free.astype(np.uint8), smooth=2, order=1, drop=False)
b = -g.copy(); b[held] = 0
d, its = h.pcg(b, rtol=1e-13, max_iter=3)
ad = np.abs(d)
print("|d| max", ad.max(), "camera half max", ad[left].max(), "gauss half max", ad[~left].max(), "pixels |d|>1:", np.count_nonzero(ad > 1), "of which left", np.count_nonzero((ad > 1) & left))
i = np.argmax(ad); print("argmax at", divmod(i, n), "x", x[i], lo[i], hi[i])
dist = np.minimum(x - lo, hi - x)
hov = free & (dist < 1e-6)
print("hovering (<1e-6):", hov.sum(), "left", (hov & left).sum(), " their push g/diag toward bound:",
      np.percentile(np.where(x - lo < hi - x, g, -g)[hov] / lvl.diag[hov], [5, 50, 95]))
# how big are free regions: count connected components of free set
from scipy import ndimage
lab, k = ndimage.label(free.reshape(n, n))
sizes = np.bincount(lab.ravel())[1:]
print("free components", k, "largest", np.sort(sizes)[-5:])
big = lab.ravel() == (np.argmax(sizes) + 1)
print("|d| on the largest component: max", ad[big].max())
import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
fig, ax = plt.subplots(1, 3, figsize=(15, 5))
ax[0].imshow(held.reshape(n, n), cmap="gray"); ax[0].set_title("held")
im = ax[1].imshow(d.reshape(n, n), cmap="RdBu"); plt.colorbar(im, ax=ax[1]); ax[1].set_title("Newton step d (3 CG)")
im = ax[2].imshow(np.log10(term + 1e-12).reshape(n, n), vmin=-8); plt.colorbar(im, ax=ax[2]); ax[2].set_title("log10 gap term")
plt.savefig(sys.argv[3], dpi=70)
