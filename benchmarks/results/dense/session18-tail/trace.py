import sys, json, io, contextlib, re, time
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case, set_knobs
import qpsolve as qs, qpsolve.solvers.tnnmg as T
size, bits = int(sys.argv[1]), int(sys.argv[2])
opts = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
img, prob = camera_case(size, bits)
set_knobs(opts, T)
buf = io.StringIO()
t0 = time.process_time()
with contextlib.redirect_stdout(buf):
    r = qs.solve(prob, solver="tnnmg", verbose=True)
cpu = time.process_time() - t0
lines = [l for l in buf.getvalue().splitlines() if f"n={size*size}" in l or "extrapolated" in l]
out = []
for l in lines:
    m = re.search(r"rel gap ([0-9.e+-]+).*t ([0-9.]+)", l)
    if m: out.append(f"{float(m.group(1)):.2e}/{m.group(2)}")
    else: out.append("x" + l.split("=")[1])
print(opts, r.status, r.iterations, f"cpu {cpu:.1f}", " ".join(out))
