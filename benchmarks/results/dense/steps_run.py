"""Fine Newton steps of tnnmg on camera resized to S^2: ``python benchmarks/results/dense/steps_run.py S BITS [KNOBS_JSON [TIME_LIMIT]]``.

KNOBS_JSON sets module constants of qpsolve.solvers.tnnmg, e.g. ``{"MONOTONE_CYCLES": 0}`` for the
code before the constrained V-cycle (notes.md, session 3).  Prints one JSON line: status, CPU and
wall seconds, and (pixels, Newton steps, CG iterations) per level, coarsest first.
"""
import sys, time, resource, json
import numpy as np, skimage.data
from skimage.transform import resize
import qpsolve as qs
from qpsolve.imaging.data import truncate_bits


def camera_case(size, bits):
    """``(image, problem)``: camera resized to ``size^2`` (bilinear; 512 is the original), truncated to ``bits``."""
    img = skimage.data.camera().astype(np.float64)
    if size != 512:
        img = resize(img, (size, size), order=1, anti_aliasing=False, preserve_range=True)
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return img, qs.image_problem(truncate_bits(img, bits), bits=bits)


def set_knobs(opts, *modules):
    """Set each ``name: value`` of ``opts`` on the first module that has the name (else the last)."""
    for k, v in opts.items():
        setattr(next((m for m in modules if hasattr(m, k)), modules[-1]), k, v)


if __name__ == "__main__":
    import qpsolve.solvers.tnnmg as T
    size, bits = int(sys.argv[1]), int(sys.argv[2])
    opts = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    tl = float(sys.argv[4]) if len(sys.argv) > 4 else None
    img, prob = camera_case(size, bits)
    set_knobs(opts, T)
    r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.perf_counter()
    res = qs.solve(prob, solver="tnnmg", time_limit=tl)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    lv = res.info.get("levels", [])
    print(json.dumps({"size": size, "bits": bits, "opts": opts, "status": str(res.status), "cpu": round(cpu, 2),
                      "wall": round(time.perf_counter() - t0, 2),
                      "levels": [(l["n"], l["steps"], l["cg"]) for l in lv],
                      "E": res.objective if hasattr(res, "objective") else None}))
