"""Trace tnnmg's fine Newton steps on issue #20's lattice plate.

``python trace.py SIZE '{"KNOB": value}' [problem]`` prints, per level, the Newton steps and, per
fine step, the relative gap estimate, held pixels, CG iterations, step length t and line
searches (1 = no retry). Knobs are tnnmg module attributes.
"""
import sys, time, json
import qpsolve as qs
import qpsolve.solvers.tnnmg as T
from qpsolve.bench.matrix_problems import build_matrix_problem

size = int(sys.argv[1])
opts = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
name = sys.argv[3] if len(sys.argv) > 3 else "plate-textured"
for k, v in opts.items():
    setattr(T, k, v)
arcs = []
_arc = T._arc
def counting_arc(*a, **k):
    arcs.append(1)
    return _arc(*a, **k)
T._arc = counting_arc
from qpsolve.linalg import gridmg
_vc = gridmg.MonotoneHierarchy.vcycle
def marking_vcycle(self, *a, **k):
    arcs.append(0)  # 0 = a V-cycle, 1 = a line search
    return _vc(self, *a, **k)
gridmg.MonotoneHierarchy.vcycle = marking_vcycle
marks = []
_newton = T._newton
def marking_newton(level, x, **k):
    marks.append(len(arcs))
    return _newton(level, x, **k)
T._newton = marking_newton
prob = build_matrix_problem(name, size)
t0 = time.process_time(); w0 = time.perf_counter()
res = qs.solve(prob, solver="tnnmg")
print(size, opts, res.status, "cpu", round(time.process_time() - t0, 1), "wall", round(time.perf_counter() - w0, 1),
      [(l["n"], l["steps"], round(l["seconds"], 2)) for l in res.info["levels"]], flush=True)
fine = res.info["levels"][-1]
# line searches per fine step: runs of 1s between V-cycles (the last level's events)
ev = arcs[marks[-1]:]
searches, run = [], 0
for e in ev:
    if e:
        run += 1
    elif run:
        searches.append(run)
        run = 0
if run:
    searches.append(run)
print("fine: step rel_gap held cg t searches")
for i, (rel, held, its, t) in enumerate(fine["history"], 1):
    print(f"{i:3d} {rel:.3e} {held:8d} {its} {t:.4f} {searches[i-1] if i <= len(searches) else '?'}")
