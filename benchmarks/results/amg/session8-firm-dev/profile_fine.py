"""cProfile of one tnnmg solve of issue #20's textured lattice plate.

``python profile_fine.py SIZE '{"KNOB": value}' [N]``: prints CPU / wall seconds and the N top
functions by total time (own time) and by cumulative time.  Knobs are tnnmg module attributes.
"""
import cProfile, json, pstats, sys, time
import qpsolve as qs
import qpsolve.solvers.tnnmg as T
from qpsolve.bench.matrix_problems import build_matrix_problem

size = int(sys.argv[1])
opts = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
for k, v in opts.items():
    setattr(T, k, v)
prob = build_matrix_problem(name="plate-textured", size=size)
pr = cProfile.Profile()
t0 = time.process_time(); w0 = time.perf_counter()
pr.enable()
res = qs.solve(prob, solver="tnnmg")
pr.disable()
print(size, opts, res.status, "cpu", round(time.process_time() - t0, 1), "wall", round(time.perf_counter() - w0, 1),
      [(l["n"], l["steps"], round(l["seconds"], 2)) for l in res.info["levels"]], flush=True)
st = pstats.Stats(pr)
st.sort_stats("tottime").print_stats(top)
st.sort_stats("cumulative").print_stats(top)
