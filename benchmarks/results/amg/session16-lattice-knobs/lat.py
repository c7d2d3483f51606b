"""tnnmg on issue #20's plate-textured (a CSR matrix, no grid) with experimental lattice knobs."""
import sys, json, time, resource
import qpsolve as qs
from qpsolve.bench.problems import build_problem
from qpsolve.solvers import tnnmg
size = int(sys.argv[1])
knobs = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
for k, v in knobs.items():
    setattr(tnnmg, k, v)
prob = build_problem("plate-textured", size)
t = time.perf_counter(); c = time.process_time()
r = qs.solve(prob, solver="tnnmg")
lv = r.info.get("levels", [{}])
print(json.dumps({"size": size, "knobs": knobs, "status": str(r.status), "wall": round(time.perf_counter() - t, 2),
                  "cpu": round(time.process_time() - c, 2), "fine_steps": r.iterations, "obj": r.objective,
                  "levels": [l.get("steps", l.get("iterations")) for l in lv] if isinstance(lv, list) else None}), flush=True)
