import sys, numpy as np, json
import qpsolve.solvers.tnnmg as T
from qpsolve.bench.matrix_problems import build_matrix_problem
size, steps, cyc = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
T.LATTICE_MONOTONE_CYCLES = cyc
prob = build_matrix_problem("plate-textured", size)
out = T._solve(prob, tol=1e-8, max_iter=steps, x0=None, verbose=False, time_limit=None)
print(out.message, out.info["levels"][-1]["history"][-3:])
np.save(f"/tmp/snap_{size}_{steps}_{cyc}.npy", out.x)
