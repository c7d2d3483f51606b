import sys, time, json
import numpy as np, skimage.data
sys.path.insert(0, "benchmarks/results/dense")
from steps_run import camera_case, set_knobs
import qpsolve as qs, qpsolve.solvers.tnnmg as T
from qpsolve.imaging.data import truncate_bits
CONFIGS = {"base": {"EARLY_GAP": float("inf")}, "e3": {"EARLY_GAP": 1e-3, "EARLY_CYCLES": 2, "EARLY_TRUNC": 1},
           "e2": {"EARLY_GAP": 1e-2, "EARLY_CYCLES": 2, "EARLY_TRUNC": 1}}
def cases(which):
    out = []
    for bits in (3, 4):
        if "camera" in which: out.append((f"camera-{bits}", camera_case(512, bits)[1]))
        for photo in ("coffee", "astronaut", "chelsea"):
            if photo in which:
                img = getattr(skimage.data, photo)()
                for c in range(3):
                    out.append((f"{photo}{c}-{bits}", qs.image_problem(truncate_bits(img[..., c], bits), bits=bits)))
    if "textured" in which:
        out.append(("textured-1024", camera_case(1024, 3)[1]))
    return out
which = sys.argv[1].split(","); rounds = int(sys.argv[2])
cs = cases(which)
qs.solve(cs[0][1], solver="tnnmg")
res = {}
for r in range(rounds):
    for name, prob in cs:
        for cname, knobs in CONFIGS.items():
            set_knobs(knobs, T)
            t0 = time.process_time(); out = qs.solve(prob, solver="tnnmg"); cpu = time.process_time() - t0
            assert out.success, (name, cname)
            res.setdefault((name, cname), []).append((cpu, out.iterations))
for name, _ in cs:
    row = [name]
    for cname in CONFIGS:
        v = res[(name, cname)]
        row.append(f"{cname} {min(c for c, _ in v):.2f}s/{v[0][1]}st")
    print("  ".join(row), flush=True)
tot = {c: sum(min(x for x, _ in res[(n, c)]) for n, _ in cs) for c in CONFIGS}
print("total", {c: round(v, 2) for c, v in tot.items()})
