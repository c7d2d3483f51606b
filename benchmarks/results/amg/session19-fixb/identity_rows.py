import sys; sys.path.insert(0, 'tests')
import numpy as np, scipy.sparse as sp
from test_gridmg_semi import _lattice
from qpsolve.linalg.gridmg import _fine_couplings, _coarsening_plan, TruncatedHierarchy
from qpsolve.model.plates import anisotropic_plate
S = 64
P = sp.csr_matrix(anisotropic_plate((S, S), 0.1, "even"))
print("full:", _fine_couplings(_lattice(P)), _coarsening_plan(_lattice(P), 1)[:3])
for frac in (0.2, 0.4, 0.6):
    mask = np.zeros((S, S), bool); mask[:, : int(frac * S)] = True   # a held band, as identity rows
    keep = sp.diags((~mask.ravel()).astype(float))
    d = P.diagonal()
    Q = (keep @ P @ keep + sp.diags(mask.ravel() * d)).tocsr()
    ls = _lattice(Q)
    c = _fine_couplings(ls)
    print(f"{frac:.0%} identity rows:", tuple(round(x) for x in c), round(max(c) / min(c), 2), _coarsening_plan(ls, 1)[:3])
