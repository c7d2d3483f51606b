"""What the null-space shortcut saves and costs, tile by tile.

The camera man's 64 disjoint 64 x 64 tiles at 4 bits: each solved by ``auto`` with the shortcut
(``on``) and without it (``off``, the registry's shortcut replaced by "no point"), alternating
tile by tile in one process after a warm-up; CPU seconds (getrusage) and iterations summed over the
tiles the shortcut answers, and over the others. Then the cost of asking on problems where nothing
fits: ``null_space_point`` on the other tiles, and on the 2-bit Gaussian at 1024^2.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/results/greens/nullspace_cost.py
"""

import resource

import skimage.data

import qpsolve as qs
import qpsolve.solvers as registry
from qpsolve.imaging.data import gaussian, to_uint8, truncate_bits
from qpsolve.solvers.nullspace import null_space_point


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(bits=4, side=64):
    img = truncate_bits(skimage.data.camera(), bits)
    probs = [qs.image_problem(img[i:i + side, j:j + side], bits=bits)
             for i in range(0, img.shape[0], side) for j in range(0, img.shape[1], side)]
    qs.solve(qs.image_problem(truncate_bits(skimage.data.camera()[-64:, -64:].copy(), 3), bits=3))  # warm-up
    real = registry._null_space_shortcut
    acc = {(m, hit): [0.0, 0, 0] for m in ("on", "off") for hit in (True, False)}
    for p in probs:
        hit = null_space_point(p) is not None
        for mode in ("off", "on"):
            registry._null_space_shortcut = real if mode == "on" else (lambda *a: None)
            t0 = cpu()
            r = qs.solve(p)
            a = acc[mode, hit]
            a[0] += cpu() - t0
            a[1] += r.iterations
            a[2] += 1
            assert r.success
    registry._null_space_shortcut = real
    for (mode, hit), (t, it, k) in acc.items():
        print(f"{mode:3s} {'shortcut tiles' if hit else 'other tiles   '}: {k} tiles, {t:.2f} CPU s, {it} iterations")
    others = [p for p in probs if null_space_point(p) is None]
    t0 = cpu()
    for _ in range(5):
        for p in others:
            null_space_point(p)
    print(f"asking on the {len(others)} other tiles: {(cpu() - t0) / 5 * 1e3:.1f} ms CPU in all")
    big = qs.image_problem(truncate_bits(to_uint8(gaussian(1024)), 2), bits=2)
    t0 = cpu()
    for _ in range(5):
        assert null_space_point(big) is None
    print(f"asking on the 2-bit Gaussian 1024^2: {(cpu() - t0) / 5 * 1e3:.1f} ms CPU")


if __name__ == "__main__":
    main()
