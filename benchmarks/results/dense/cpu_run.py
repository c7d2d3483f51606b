import sys, time, skimage.data, qpsolve as qs
from qpsolve.imaging.data import truncate_bits
s = int(sys.argv[1]); b = int(sys.argv[2]); solver = sys.argv[3]
img = skimage.data.camera(); step = 512 // s
im = img[::step, ::step].copy() if step > 1 else img
prob = qs.image_problem(truncate_bits(im, b), bits=b)
t = time.perf_counter(); c = time.process_time()
res = qs.solve(prob, solver=solver, time_limit=float(sys.argv[4]) if len(sys.argv) > 4 else None)
print(s, b, solver, res.status, 'wall %.2f cpu %.2f' % (time.perf_counter() - t, time.process_time() - c), 'rel %.1e' % res.kkt.relative_gap, 'E %.10g' % res.objective, flush=True)
