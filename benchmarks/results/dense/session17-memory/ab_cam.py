"""CPU seconds of three warm ``tnnmg`` solves of camera 512^2 at BITS bits: ``python ab_cam.py BITS LABEL``
(run alternately against two trees with PYTHONPATH)."""
import sys, time
import numpy as np
import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
import skimage.data
bits = int(sys.argv[1])
q = truncate_bits(skimage.data.camera(), bits)
prob = qs.image_problem(q, bits=bits)
qs.solve(prob, solver="tnnmg")
ts = []
for i in range(3):
    t = time.process_time(); r = qs.solve(prob, solver="tnnmg"); ts.append(time.process_time() - t)
print(sys.argv[2], bits, "cpu", " ".join(f"{v:.3f}" for v in ts), "min", f"{min(ts):.3f}", r.iterations)
