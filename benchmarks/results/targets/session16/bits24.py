import sys, time, hashlib, json
import numpy as np
import qpsolve as qs
from qpsolve.bench.problems import build_problem
out = {}
for spec in sys.argv[1:]:
    name, size = spec.rsplit("-", 1)
    prob = build_problem(name, int(size))
    t = time.perf_counter()
    r = qs.solve(prob, solver="pdas")
    dt = time.perf_counter() - t
    h = hashlib.sha1(np.ascontiguousarray(r.x).tobytes()).hexdigest()[:12]
    print(json.dumps({"case": spec, "s": round(dt, 3), "it": r.iterations, "status": str(r.status), "obj": r.objective, "x": h}), flush=True)
