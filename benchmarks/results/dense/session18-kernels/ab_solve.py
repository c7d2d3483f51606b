import sys, time
import numpy as np, qpsolve as qs, skimage.data
from qpsolve.imaging.data import truncate_bits
bits = int(sys.argv[1])
q = truncate_bits(skimage.data.camera(), bits)
prob = qs.image_problem(q, bits=bits)
t = time.perf_counter(); r = qs.solve(prob); first = time.perf_counter() - t
ts = []
for i in range(3):
    t = time.process_time(); r = qs.solve(prob, solver="tnnmg"); ts.append(time.process_time() - t)
print(sys.argv[2], bits, f"first(auto) {first:.3f}", "warm cpu", " ".join(f"{v:.3f}" for v in ts), "min", f"{min(ts):.3f}", r.iterations, repr(r.objective))
