import sys, time
from line_profiler import LineProfiler
import qpsolve as qs
from qpsolve.bench.problems import build_problem
from qpsolve.linalg import greens
from qpsolve.solvers.pdas import saddle, schur, level, iteration
n = int(sys.argv[1])
prob = build_problem("gaussian2", n)
qs.solve(prob, solver="pdas")  # warm
lp = LineProfiler()
for f in (saddle.SaddleFactor.bordered, saddle.SaddleFactor.factor, level.Level._saddle, saddle.SaddleFactor.release):
    lp.add_function(f)
lp.enable()
t=time.perf_counter()
r = qs.solve(prob, solver="pdas")
print(time.perf_counter()-t, r.iterations)
lp.disable()
lp.print_stats(output_unit=1e-3, stripzeros=True)
