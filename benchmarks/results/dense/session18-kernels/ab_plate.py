import sys, time
import numpy as np, qpsolve as qs
from qpsolve.bench.harness import build_problem
size = int(sys.argv[1])
prob = build_problem("plate-textured", size)
r = qs.solve(prob)
ts = []
for i in range(2 if size > 512 else 3):
    t = time.process_time(); r = qs.solve(prob); ts.append(time.process_time() - t)
print(sys.argv[2], size, "warm cpu", " ".join(f"{v:.3f}" for v in ts), "min", f"{min(ts):.3f}", r.solver, r.iterations, repr(r.objective))
