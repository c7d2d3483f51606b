"""Monotone V-cycles of a LatticeStencil (a grid biharmonic handed over as CSR) against the TypedStencil of the same grid: the iterates must agree."""
import numpy as np
from qpsolve.linalg.gridmg import TypedStencil, LatticeStencil, MonotoneHierarchy
from qpsolve.linalg.lattice import find_lattice, stencil_array
from qpsolve.model.operators import GridSpec
for bc in ["even", "odd"]:
    g = GridSpec((96, 80), "biharmonic", bc)
    ts = TypedStencil(g.energy())
    P = g.matrix()
    import scipy.sparse as sp
    P = sp.csr_matrix(P)
    lat, why = find_lattice(P)
    print(bc, lat.shape, lat.radius, lat.order is None, why)
    ls = LatticeStencil(stencil_array(P, lat.shape, lat.radius), lat.shape, lat.radius)
    rng = np.random.default_rng(0)
    lo = 32.0 * rng.integers(0, 4, size=96 * 80); hi = lo + 32.0; q = np.zeros(96 * 80)
    xs = []
    for op in (ts, ls):
        mh = MonotoneHierarchy(op, smooth=2)
        x = 0.5 * (lo + hi)
        for _ in range(5):
            x = mh.vcycle(x, lo, hi, q, firm=0.1)
        xs.append(x.copy())
        print(len(mh.levels), 0.5 * x @ op.matvec(x))
    print("max diff", np.abs(xs[0] - xs[1]).max())
