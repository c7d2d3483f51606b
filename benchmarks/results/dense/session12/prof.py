import cProfile, pstats, sys, time, os
import numpy as np, skimage.data
import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
bits = int(sys.argv[1]); mode = sys.argv[2] if len(sys.argv) > 2 else "plain"
q = truncate_bits(skimage.data.camera(), bits)
pr = cProfile.Profile()
t0 = time.perf_counter(); c0 = time.process_time()
pr.enable()
if mode == "plain":
    r = qs.solve(qs.image_problem(q, bits=bits))
else:
    _, r = qs.dequantize(q, bits=bits, return_result=True)
pr.disable()
print("wall", time.perf_counter() - t0, "cpu", time.process_time() - c0, r.status, r.solver, r.info.get("fallback"))
st = pstats.Stats(pr); st.sort_stats("cumulative").print_stats(45)
st.sort_stats("tottime").print_stats(30)
