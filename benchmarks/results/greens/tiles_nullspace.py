"""``qs.dequantize(camera, bits=4, tile=64)`` with and without ``auto``'s null-space shortcut.

One run per process (``on`` or ``off``; ``off`` replaces the registry's shortcut by "no point",
the code path before it existed).  A warm-up solve of an unrelated tile loads the numba kernels
before the clock starts.  Prints CPU seconds of the dequantize call (getrusage), the number of
tiles, how many took the shortcut, the tiles' summed iterations, and a hash of the output.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/results/greens/tiles_nullspace.py on
"""

import hashlib
import resource
import sys

import numpy as np
import skimage.data

import qpsolve as qs
import qpsolve.solvers as registry
from qpsolve.imaging.data import truncate_bits


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(mode, bits=4, tile=64):
    img = truncate_bits(skimage.data.camera(), bits)
    warm = qs.image_problem(truncate_bits(skimage.data.camera()[-64:, -64:].copy(), 3), bits=3)
    qs.solve(warm)  # numba kernels compiled / loaded before timing
    real = registry._null_space_shortcut
    hits, calls = [], []

    def counted(prob, tol, t0):
        calls.append(1)
        res = real(prob, tol, t0) if mode == "on" else None
        if res is not None:
            hits.append(res.info["shortcut"])
        return res

    registry._null_space_shortcut = counted
    t0 = cpu()
    out, res = qs.dequantize(img, bits=bits, tile=tile, return_result=True)
    t = cpu() - t0
    digest = hashlib.sha1(np.ascontiguousarray(out).tobytes()).hexdigest()[:12]
    print(f"{mode}: {t:.2f} CPU s; {res.info['tiles']} tiles ({len(calls)} auto solves), "
          f"{len(hits)} by the shortcut {sorted(set(hits))}; iterations {res.iterations}; "
          f"certified {res.success} ({res.info['tiles_certified']} tiles); output sha1 {digest}")


if __name__ == "__main__":
    main(sys.argv[1])
