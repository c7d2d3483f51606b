"""Experiment: carry the decoupled-row mask down the plan (a coarse row whose children are all decoupled is left out)."""
import sys, time, os, resource
sys.path.insert(0, 'tests')
import numpy as np, scipy.sparse as sp
from test_gridmg_semi import _lattice, _vcycle_factor
from qpsolve.linalg import gridmg as g
from qpsolve.model.plates import anisotropic_plate

def couplings(A, R, skip):
    W = 2 * R + 1; k = np.arange(W * W)
    zi = np.where((k // W - R) % 2 == 0, 1.0, -1.0); zj = np.where((k % W - R) % 2 == 0, 1.0, -1.0)
    off = A != 0; off[:, R * W + R] = False
    use = off.any(axis=1) & ~skip
    return float(np.abs(A[use] @ zi).sum()), float(np.abs(A[use] @ zj).sum())

def ind(nf, nc, par, w):
    r, c = np.nonzero((par >= 0) & (w != 0))
    return sp.csr_matrix((np.ones(r.size), (r, par[r, c])), shape=(nf, nc))

def plan_dec(fine, order):
    n, m, R, periodic = fine.n, fine.m, fine.r, fine.periodic
    A = fine.A
    off = A != 0; off[:, R * (2 * R + 1) + R] = False
    dec = ~off.any(axis=1)
    axes = g._coarsen_axes(couplings(A, R, dec), n, m)
    plan = []; first = True
    while axes is not None:
        nc, pi, wi, Ri = g._axis_transfer(n, R, periodic, axes[0], order)
        mc, pj, wj, Rj = g._axis_transfer(m, R, periodic, axes[1], order)
        Rc = max(Ri, Rj)
        out = np.zeros((nc * mc, (2 * Rc + 1) ** 2))
        if first:
            fine.galerkin(np.ones(n * m, np.uint8), pi, wi, pj, wj, nc, mc, Rc, np.ones(nc * mc, np.uint8), out)
        else:
            g._var_galerkin(A, n, m, R, periodic, pi, wi, pj, wj, nc, mc, Rc, out)
        live = (ind(n, nc, pi, wi).T @ sp.csr_matrix((~dec).reshape(n, m).astype(float)) @ ind(m, mc, pj, wj)).toarray()
        dec = (live == 0).ravel()
        plan.append(axes); first = False
        A, n, m, R = out, nc, mc, Rc
        axes = g._coarsen_axes(couplings(A, R, dec), n, m)
    return plan

S = int(sys.argv[1]) if len(sys.argv) > 1 else 128
P = anisotropic_plate((S, S), 0.1, "even")
for frac in (0.0, 0.2, 0.6):
    held = np.zeros((S, S), bool); held[:, :int(frac * S)] = True
    keep = sp.diags((~held).ravel().astype(float))
    Q = (keep @ P @ keep + sp.diags(held.ravel() * P.diagonal())).tocsr()
    rng = np.random.default_rng(0)
    free = (rng.random(S * S) >= 0.2).astype(np.uint8)
    ls = _lattice(Q)
    b = ls.matvec(rng.normal(size=S * S), free=free)
    A_F = lambda x: ls.matvec(x, free=free)
    res = {}
    for name in ("current", "carried"):
        ls = _lattice(Q)
        if name == "carried":
            ls._plans = {(1, False): plan_dec(ls, 1)}
        plan = g._coarsening_plan(ls, 1)
        h = g.TruncatedHierarchy(ls, free, smooth=2, order=1, drop=False)
        res[name] = (["semi" if a != (True, True) else "full" for a in plan], round(_vcycle_factor(h, A_F, b), 3))
    print(time.strftime('%H:%M:%SZ', time.gmtime()), S, f"{frac:.0%}", res, "load", os.getloadavg()[0], flush=True)
