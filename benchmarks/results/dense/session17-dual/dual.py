"""Dual points for the certificate from a fine iterate of ``snap.py``: ``python dual.py S BITS STEPS EPS ITS ROUNDS``.

For each step in STEPS (comma-separated) and each EPS and ITS: hold the pixels within EPS grey levels of a bound,
solve the free pixels' Newton system ``P_FF d = -g_F`` by ITS iterations of ``pcg`` with the truncated V-cycle, and
ask the shared certificate with ``dual_shift=d``; then release the held pixels whose multiplier ``g + P d`` points
away from their bound, and again, ROUNDS times.  Prints the relative gap of each round.
"""
import sys, time
import numpy as np
import qpsolve as qs
from qpsolve.certificate import certificate, gap_terms
from qpsolve.linalg.gridmg import TypedStencil, TruncatedHierarchy
from qpsolve.imaging.data import truncate_bits
import skimage.data
from skimage.transform import resize

size, bits = int(sys.argv[1]), int(sys.argv[2])
steps = [int(s) for s in sys.argv[3].split(",")]
eps_list = [float(e) for e in sys.argv[4].split(",")]
its_list = [int(i) for i in sys.argv[5].split(",")]
rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 3
img = skimage.data.camera().astype(np.float64)
if size != 512:
    img = resize(img, (size, size), order=1, anti_aliasing=False, preserve_range=True)
img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
prob = qs.image_problem(truncate_bits(img, bits), bits=bits)
snaps = np.load(f"snaps_{size}_{bits}.npy")
ts = TypedStencil(prob.grid.energy())
lo, hi = prob.lower, prob.upper
for k in steps:
    x = snaps[k - 1]
    c0 = certificate(prob, x, 1e-8)
    g = prob.gradient(x, precise=True)
    E = c0.objective
    print(f"step {k}: plain rel gap {c0.relative_gap:.3e}")
    for eps in eps_list:
        for its in its_list:
            t0 = time.perf_counter()
            near_lo = x - lo <= eps
            near_hi = hi - x <= eps
            held = near_lo | near_hi
            line = []
            d = np.zeros_like(x)
            for rd in range(rounds):
                free = (~held).astype(np.uint8)
                h = TruncatedHierarchy(ts, free, smooth=2, order=1, drop=False)
                b = -g.copy(); b[held] = 0.0
                v, it = h.pcg(b, rtol=1e-14, max_iter=its)
                d = v
                c = certificate(prob, x, 1e-8, dual_shift=d)
                # wrong sign: held near lo with c<0 (wants up) or near hi with c>0
                cc = g + ts.matvec(d)
                wrong = (near_lo & held & (cc < 0)) | (near_hi & held & (cc > 0))
                # only those whose far room matters
                line.append(f"r{rd}: {c.relative_gap:.3e} (wrong {int(wrong.sum())})")
                if not wrong.any():
                    break
                held = held & ~wrong
            print(f"  eps {eps:g} its {its}: held {int(held.sum())}  " + "; ".join(line) + f"  [{time.perf_counter()-t0:.2f}s]")
