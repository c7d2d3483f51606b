import numpy as np, sys
from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.linalg.lattice import find_lattice, stencil_array
from qpsolve.linalg import gridmg as g
S = int(sys.argv[1]); name = sys.argv[2]; import os;
prob = build_matrix_problem(name, S)
lat, _ = find_lattice(prob.P)
A = stencil_array(prob.P, lat.shape, lat.radius)
rng = np.random.default_rng(0)
for held_frac in (0.0, 0.2):
    free = (rng.random(S * S) >= held_frac).astype(np.uint8)
    ls0 = g.LatticeStencil(A, lat.shape, lat.radius)
    b = ls0.matvec(rng.normal(size=S * S) * free, free=free)
    for aniso in [float(a) for a in sys.argv[3:]]:
        g.ANISO = aniso
        ls = g.LatticeStencil(A, lat.shape, lat.radius)
        h = g.TruncatedHierarchy(ls, free, smooth=2, order=1, drop=False)
        x = np.zeros_like(b); r = b.copy(); n0 = np.linalg.norm(r); hist = []
        for k in range(12):
            x += h.vcycle(r)
            r = b - ls.matvec(x, free=free)
            hist.append(np.linalg.norm(r))
        fac = (hist[-1] / hist[5]) ** (1 / 6)
        v, its = h.pcg(b, rtol=1e-8)
        print(f"{name} {S} held {held_frac} ANISO {aniso}: plan {[(int(a), int(c)) for a, c in g._coarsening_plan(ls, 1)]} factor {fac:.3f} pcg_its(1e-8) {its}", flush=True)
