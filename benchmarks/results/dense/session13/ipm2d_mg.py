# Run from the repository root: PYTHONPATH=$PWD python benchmarks/results/dense/session13/ipm2d_mg.py SIZE BITS THETA RTOL [MODE]
# RTOL "adaptive": min(1e-2, 10 x the relative gap estimate) for each Newton system
"""Feasibility: the Mehrotra IPM of ipm2d.py, each Newton system (P + Dg) dx = r solved by CG preconditioned
with the truncated Galerkin V-cycle (gridmg.TruncatedHierarchy) on the pixels whose barrier term Dg_i is
below THETA * P_ii, Jacobi on the others (MODE "truncated", the default), or by the V-cycle of the
Galerkin hierarchy of P + Dg itself (MODE "diagonal": per-pixel stencils, gridmg.LatticeStencil, with
Dg on the centre; THETA unused). Prints per IPM iteration: mu, gap estimate, CG iterations."""
import sys, time
import numpy as np
import qpsolve as qs
import skimage.data
from skimage.transform import resize
from qpsolve.imaging.data import truncate_bits
from qpsolve.linalg.gridmg import LatticeStencil, TypedStencil, TruncatedHierarchy
from qpsolve.linalg.lattice import stencil_array

size, bits, theta = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
adaptive = sys.argv[4] == "adaptive"
rtol = 1e-2 if adaptive else float(sys.argv[4])
mode = sys.argv[5] if len(sys.argv) > 5 else "truncated"
img = skimage.data.camera()
if size != 512:
    img = np.clip(np.rint(resize(img.astype(float), (size, size), anti_aliasing=True, preserve_range=True)), 0, 255).astype(np.uint8)
prob = qs.image_problem(truncate_bits(img, bits), bits=bits)
ts = TypedStencil(prob.grid.energy())
Pd = ts.matvec_diagonal()
R = 2
base = stencil_array(prob.P.tocsr(), prob.grid.shape, R)
centre = (2 * R + 1) * R + R
q = prob.q; lo, hi = prob.lower, prob.upper; n = prob.n
x = 0.5 * (lo + hi); s, t = x - lo, hi - x
g = ts.matvec(x) + q
kappa = 1e-2 * max(np.abs(g).max(), 1e-3 * Pd.max() * np.median(hi - lo))
z = np.maximum(g, 0) + kappa; w = np.maximum(-g, 0) + kappa
t0 = time.perf_counter(); total_cg = 0
for it in range(80):
    g = ts.matvec(x) + q
    mu = (s @ z + t @ w) / (2 * n)
    term = np.where(g > 0, g * s, -g * t)
    E = 0.5 * x @ (g - q) + q @ x
    rel = term.sum() / max(1, abs(E))
    if rel <= 1e-8:
        c = qs.certificate(prob, x)
        print(c, flush=True)
        if c.optimal:
            break
    if adaptive:
        rtol = min(1e-2, 10.0 * rel)
    Dg = z / s + w / t
    if mode == "diagonal":
        A = base.copy()
        A[:, centre] += Dg
        h = TruncatedHierarchy(LatticeStencil(A, prob.grid.shape, R), np.ones(n, np.uint8), smooth=2, order=1,
                               drop=False)
        held = np.zeros(n, bool)
        prec = h.vcycle
    else:
        free = (Dg < theta * Pd).astype(np.uint8)
        h = TruncatedHierarchy(ts, free, smooth=2, order=1, drop=False)
        held = free == 0
        jac = 1.0 / (Pd + Dg)

        def prec(r):
            out = np.where(held, r * jac, 0.0)
            out += h.vcycle(np.where(held, 0.0, r))
            return out

    def solve(rhs):
        # CG on (P + Dg) dx = rhs, preconditioned by prec
        v = np.zeros(n); r = rhs.copy(); zz = prec(r); p = zz.copy(); rz = r @ zz
        stop = rtol * np.linalg.norm(rhs)
        for k in range(1, 500):
            Ap = ts.matvec(p) + Dg * p
            a = rz / (p @ Ap); v += a * p; r -= a * Ap
            if np.linalg.norm(r) <= stop:
                return v, k
            zz = prec(r); rz_new = r @ zz; p = zz + (rz_new / rz) * p; rz = rz_new
        return v, k

    def direction(target, cl=0.0, ch=0.0):
        al, ah = target - cl, target - ch
        dx, k = solve(al / s - ah / t - g)
        return dx, al / s - z - (z / s) * dx, ah / t - w + (w / t) * dx, k

    def longest(ds, dt, dz, dw):
        a = 1 / 0.99
        for v_, dv in ((s, ds), (t, dt), (z, dz), (w, dw)):
            m = dv < 0
            if m.any(): a = min(a, float(np.min(v_[m] / -dv[m])))
        return a

    dx, dz, dw, k1 = direction(0.0)
    a = longest(dx, -dx, dz, dw)
    mu_aff = ((s + a * dx) @ (z + a * dz) + (t - a * dx) @ (w + a * dw)) / (2 * n)
    dx, dz, dw, k2 = direction((mu_aff / mu) ** 3 * mu, dx * dz, -dx * dw)
    a = min(1.0, 0.99 * longest(dx, -dx, dz, dw))
    x = x + a * dx; s, t = x - lo, hi - x
    z += a * dz; w += a * dw
    total_cg += k1 + k2
    print(f"{it} mu {mu:.2e} rel {rel:.2e} held {int(held.sum())} cg {k1}+{k2} step {a:.3f} t {time.perf_counter()-t0:.1f}", flush=True)
print("total CG", total_cg, "time", round(time.perf_counter() - t0, 1))
