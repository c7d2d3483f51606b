"""Knob scan of tnnmg on today's code: fine steps and CPU per plain-plate photo plane."""
import sys, json, time, numpy as np, skimage.data
import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
from qpsolve.solvers import tnnmg
knobs = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
for k, v in knobs.items():
    assert hasattr(tnnmg, k), k
    setattr(tnnmg, k, v)
imgs = {"camera": skimage.data.camera()[..., None], "coffee": skimage.data.coffee(),
        "astronaut": skimage.data.astronaut(), "chelsea": skimage.data.chelsea()}
probs = []
for name, im in imgs.items():
    for bits in (3, 4):
        q = truncate_bits(im, bits)
        for c in range(q.shape[2]):
            probs.append((f"{name}{c}-{bits}", qs.image_problem(q[..., c], bits=bits)))
qs.solve(qs.image_problem(truncate_bits(skimage.data.camera(), 3)[:64, :64], bits=3), solver="tnnmg")
tot_cpu, tot_steps, rows = 0.0, 0, []
for name, p in probs:
    c0 = time.process_time()
    r = qs.solve(p, solver="tnnmg")
    cpu = time.process_time() - c0
    st = r.info["levels"][-1]["steps"]
    assert str(r.status) == "optimal", (name, r.status)
    tot_cpu += cpu; tot_steps += st; rows.append(f"{name}:{st}/{cpu:.2f}")
print(json.dumps(knobs), f"steps {tot_steps} cpu {tot_cpu:.1f}", " ".join(rows), flush=True)
