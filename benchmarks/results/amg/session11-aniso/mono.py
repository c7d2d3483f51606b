import numpy as np, sys
from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.linalg.lattice import find_lattice, stencil_array
from qpsolve.linalg import gridmg as g
S = int(sys.argv[1])
prob = build_matrix_problem("plate-aniso", S)
lat, _ = find_lattice(prob.P)
A = stencil_array(prob.P, lat.shape, lat.radius)
order = None
lo, hi = prob.lower, prob.upper
for aniso in (1e300, 4.0):
    g.ANISO = aniso
    ls = g.LatticeStencil(A, lat.shape, lat.radius)
    mh = g.MonotoneHierarchy(ls, smooth=2)
    q = np.zeros(S * S)
    x = np.clip(0.5 * (lo + hi), lo, hi)
    # lattice order may permute: prob.P is in lattice order? use ls.matvec directly
    Es = []
    for k in range(30):
        x = mh.vcycle(x, lo, hi, q)
        Es.append(0.5 * x @ ls.matvec(x))
    print(aniso, [l.n * 0 + l.n for l in mh.levels], [l.m for l in mh.levels], "E", ["%.6g" % e for e in Es[::5]], Es[-1], "viol", mh.last_violation)
