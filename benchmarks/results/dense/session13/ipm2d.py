# Run from the repository root: PYTHONPATH=$PWD python benchmarks/results/dense/session13/ipm2d.py SIZE BITS
"""Feasibility: Mehrotra IPM iterations on camera (2-D, 13-point plate) with exact sparse LU steps."""
import sys, time, numpy as np, scipy.sparse as sp, scipy.sparse.linalg as spl
import qpsolve as qs
import skimage.data
from skimage.transform import resize
from qpsolve.imaging.data import truncate_bits
size, bits = int(sys.argv[1]), int(sys.argv[2])
img = skimage.data.camera()
if size != 512:
    img = np.clip(np.rint(resize(img.astype(float), (size, size), anti_aliasing=True, preserve_range=True)), 0, 255).astype(np.uint8)
prob = qs.image_problem(truncate_bits(img, bits), bits=bits)
P = prob.P.tocsc(); q = prob.q; lo, hi = prob.lower, prob.upper; n = prob.n
x = 0.5 * (lo + hi); s, t = x - lo, hi - x
g = P @ x + q
kappa = 1e-2 * max(np.abs(g).max(), 1e-3 * P.diagonal().max() * np.median(hi - lo))
z = np.maximum(g, 0) + kappa; w = np.maximum(-g, 0) + kappa
t0 = time.perf_counter()
for it in range(80):
    g = P @ x + q
    mu = (s @ z + t @ w) / (2 * n)
    term = np.where(g > 0, g * s, -g * t)
    E = 0.5 * x @ (g - q) + q @ x
    rel = term.sum() / max(1, abs(E))
    print(f"{it} mu {mu:.2e} rel {rel:.2e} t {time.perf_counter()-t0:.1f}", flush=True)
    if rel <= 1e-8:
        c = qs.certificate(prob, x); print(c); 
        if c.optimal: break
    zs, wt = z / s, w / t
    lu = spl.splu((P + sp.diags(zs + wt)).tocsc(), permc_spec="MMD_AT_PLUS_A")
    def direction(target, cl=0.0, ch=0.0):
        al, ah = target - cl, target - ch
        dx = lu.solve(al / s - ah / t - g)
        return dx, al / s - z - zs * dx, ah / t - w + wt * dx
    def longest(ds, dt, dz, dw):
        a = 1 / 0.99
        for v, dv in ((s, ds), (t, dt), (z, dz), (w, dw)):
            m = dv < 0
            if m.any(): a = min(a, float(np.min(v[m] / -dv[m])))
        return a
    dx, dz, dw = direction(0.0)
    a = longest(dx, -dx, dz, dw)
    mu_aff = ((s + a * dx) @ (z + a * dz) + (t - a * dx) @ (w + a * dw)) / (2 * n)
    dx, dz, dw = direction((mu_aff / mu) ** 3 * mu, dx * dz, -dx * dw)
    a = min(1.0, 0.99 * longest(dx, -dx, dz, dw))
    x = x + a * dx; s, t = x - lo, hi - x
    z += a * dz; w += a * dw
