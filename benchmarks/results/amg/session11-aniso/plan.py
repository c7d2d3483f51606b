import numpy as np, time
from qpsolve.bench.matrix_problems import build_matrix_problem
from qpsolve.linalg.lattice import find_lattice, stencil_array
from qpsolve.linalg import gridmg as g
import sys
for name in sys.argv[2:]:
    S = int(sys.argv[1])
    prob = build_matrix_problem(name, S)
    lat, _ = find_lattice(prob.P)
    print(name, lat.shape, lat.radius, getattr(lat, "order", None) is None)
    ls = g.LatticeStencil(stencil_array(prob.P, lat.shape, lat.radius), lat.shape, lat.radius)
    print(" fine couplings", g._fine_couplings(ls))
    for order, mono in ((1, False), (1, True)):
        print(" plan", order, mono, g._coarsening_plan(ls, order, mono))
    mh = g.MonotoneHierarchy(ls)
    for l in mh.levels:
        si, sj = g._axis_couplings(l.A, l.R)
        print("  level", l.n, l.m, l.R, "ratio %.3f" % (si / sj))
