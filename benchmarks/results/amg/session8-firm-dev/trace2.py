"""Per fine Newton step of tnnmg on issue #20's lattice plate: gap, held, t, retries, CPU seconds.

``python trace2.py SIZE '{"KNOB": value}'``: prints one line per fine step (relative gap estimate,
held pixels, accepted t, line searches (2: the retry ran), CPU s of the step) and every certificate
call (its relative gap and floor).  Knobs are tnnmg module attributes.
"""
import json, sys, time
import qpsolve as qs
import qpsolve.solvers.tnnmg as T
from qpsolve.bench.matrix_problems import build_matrix_problem

size = int(sys.argv[1])
opts = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
for k, v in opts.items():
    setattr(T, k, v)
events = []
_arc, _cert, _est = T._arc, T.certificate, T._estimate
T._arc = lambda *a, **k: (events.append(("arc",)), _arc(*a, **k))[1]
def cert(prob, x, tol):
    c = _cert(prob, x, tol)
    events.append(("cert", c.optimal, getattr(c, "relative_gap", None), getattr(c, "gap", None), getattr(c, "gap_floor", None)))
    return c
T.certificate = cert
def est(x, g, lo, hi, q):
    events.append(("step", time.process_time(), x.size))
    return _est(x, g, lo, hi, q)
T._estimate = est
prob = build_matrix_problem("plate-textured", size)
t0 = time.process_time(); w0 = time.perf_counter()
res = qs.solve(prob, solver="tnnmg")
t1 = time.process_time()
print(size, opts, res.status, "cpu", round(t1 - t0, 2), "wall", round(time.perf_counter() - w0, 2),
      [(l["n"], l["steps"], round(l["seconds"], 2)) for l in res.info["levels"]], flush=True)
fine = [i for i, e in enumerate(events) if e[0] == "step" and e[2] == prob.n]
first = events[fine[0]][1]
print(f"CPU before the fine level {first - t0:.2f} s, fine level {t1 - first:.2f} s")
hist = res.info["levels"][-1]["history"]
print("step rel_gap held t searches cpu_s")
for s, i in enumerate(fine):
    nxt = fine[s + 1] if s + 1 < len(fine) else len(events)
    arcs = sum(1 for e in events[i:nxt] if e[0] == "arc")
    tend = events[nxt][1] if nxt < len(events) else t1
    rel, held, its, t = hist[s] if s < len(hist) else (float("nan"), 0, 0, float("nan"))
    certs = [e for e in events[i:nxt] if e[0] == "cert"]
    print(f"{s + 1:3d} {rel:.3e} {held:8d} {t:.4f} {arcs} {tend - events[i][1]:.2f}", *certs)
