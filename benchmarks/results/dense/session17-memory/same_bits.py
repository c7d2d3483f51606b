"""Steps, objective (repr) and sum |x| of camera 512^2 at 3 and 4 bits (``tnnmg``) and plate-textured 256^2
(``auto``): one JSON line, to compare two trees bit for bit."""
import sys, time, json
import numpy as np
import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
import skimage.data
out = {}
for bits in (3, 4):
    q = truncate_bits(skimage.data.camera(), bits)
    prob = qs.image_problem(q, bits=bits)
    t = time.perf_counter()
    r = qs.solve(prob, solver="tnnmg")
    out[f"camera{bits}"] = (r.iterations, repr(r.objective), float(np.abs(r.x).sum()), str(r.status), round(time.perf_counter() - t, 2))
from qpsolve.bench.problems import build_problem as make_problem
try:
    prob = make_problem("plate-textured", 256)
except Exception as e:
    prob = None; print("plate:", e)
if prob is not None:
    t = time.perf_counter()
    r = qs.solve(prob)
    out["plate256"] = (r.iterations, repr(r.objective), float(np.abs(r.x).sum()), str(r.status), round(time.perf_counter() - t, 2))
print(json.dumps(out))
