import cProfile, pstats, sys, time
import qpsolve as qs
from qpsolve.bench.matrix_problems import build_matrix_problem
n = int(sys.argv[1])
prob = build_matrix_problem("plate-textured", n)
pr = cProfile.Profile()
t0 = time.perf_counter()
pr.enable()
r = qs.solve(prob)
pr.disable()
print("wall", time.perf_counter() - t0, r.status, r.solver, r.iterations, {k: v for k, v in r.info.items() if k in ("fallback", "fine_steps", "retries", "line_search", "handovers")})
st = pstats.Stats(pr); st.sort_stats("cumulative").print_stats(50)
st.sort_stats("tottime").print_stats(30)
