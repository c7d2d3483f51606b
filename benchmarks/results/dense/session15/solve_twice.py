"""One fresh process: build a case, solve it twice (the first solve pays numba's loading), print both timings as JSON.

``python solve_twice.py CASE [SOLVES]``: CASE is camera-3, camera-4 (tnnmg on the camera plain plate), textured-S
(camera upscaled to S², 3 bits, tnnmg) or plate-textured-S (issue #20's lattice plate, ``auto``)."""
import sys, time, json, numpy as np
import qpsolve as qs
case = sys.argv[1]
if case.startswith("plate"):
    from qpsolve.bench.matrix_problems import build_matrix_problem
    name, size = case.rsplit("-", 1)
    p = build_matrix_problem(name, int(size)); solver = "auto"
elif case.startswith("textured"):
    from skimage.transform import resize
    import skimage.data
    S = int(case.split("-")[1])
    img = np.clip(np.rint(resize(skimage.data.camera().astype(float), (S, S), order=1, anti_aliasing=False, preserve_range=True)), 0, 255).astype(np.uint8)
    p = qs.image_problem(img >> 5 << 5, bits=3); solver = "tnnmg"
else:
    import skimage.data
    from qpsolve.imaging.data import truncate_bits
    bits = int(case.split("-")[1])
    p = qs.image_problem(truncate_bits(skimage.data.camera(), bits), bits=bits); solver = "tnnmg"
ts = []
for k in range(int(sys.argv[2]) if len(sys.argv) > 2 else 2):
    t = time.perf_counter(); c = time.process_time(); r = qs.solve(p, solver=solver)
    ts.append((time.perf_counter() - t, time.process_time() - c))
print(json.dumps({"case": case, "first": ts[0], "warm": ts[1:], "objective": r.objective, "status": str(r.status),
                  "iterations": r.iterations, "qpsolve": qs.__file__}))
