"""``python snap.py S BITS``: the fine iterates of ``tnnmg`` on camera resized to S^2 (after each Newton step's
sweeps, where the gap is estimated), saved as ``snaps_S_BITS.npy`` (not committed; 16 MB at 512^2)."""
import sys, time, pickle
import numpy as np
import qpsolve as qs
import qpsolve.solvers.tnnmg as T
from qpsolve.imaging.data import truncate_bits
import skimage.data
from skimage.transform import resize

size, bits = int(sys.argv[1]), int(sys.argv[2])
img = skimage.data.camera().astype(np.float64)
if size != 512:
    img = resize(img, (size, size), order=1, anti_aliasing=False, preserve_range=True)
img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
prob = qs.image_problem(truncate_bits(img, bits), bits=bits)
snaps = []
orig = T._estimate
def est(x, g, lo, hi, q):
    r = orig(x, g, lo, hi, q)
    if x.size == prob.n:
        snaps.append(x.copy())
    return r
T._estimate = est
t = time.perf_counter()
r = qs.solve(prob, solver="tnnmg", verbose=True)
print("solve", time.perf_counter() - t, r.iterations)
np.save(f"snaps_{size}_{bits}.npy", np.array(snaps))
