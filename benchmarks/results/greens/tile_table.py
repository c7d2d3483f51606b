"""Tiles of one shape through ``pdas``: CPU per tile before and after the shared dense table of ``P^g``.

36 disjoint 64 x 64 tiles of the camera man (4 bits, the paper's plate), solved one after another
in one process, as a tiled solve's worker does.  The first ``DENSE_TABLE_AFTER - 1`` tiles evaluate
their Schur blocks on the fly, the ``DENSE_TABLE_AFTER``-th builds the table, the rest gather.
Every tile is solved a second time at the end (the table in place) and compared bit for bit with
its first answer.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/results/greens/tile_table.py
"""

import resource
import sys

import numpy as np
import skimage.data

import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
from qpsolve.linalg import greens


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(side=64, count=36, bits=4):
    img = truncate_bits(skimage.data.camera(), bits)
    per_row = img.shape[1] // side
    probs = []
    for t in range(count):
        i, j = divmod(t, per_row)
        probs.append(qs.image_problem(img[i * side:(i + 1) * side, j * side:(j + 1) * side], bits=bits))
    warm = qs.image_problem(img[-side:, -side:].copy(), bits=bits)
    qs.solve(warm, solver="pdas")  # numba kernels compiled / loaded before timing
    greens._shared.cache_clear()
    first, times, table = [], [], None
    for k, p in enumerate(probs):
        before = greens._shared(p.grid).dense is None if k else True
        t0 = cpu()
        r = qs.solve(p, solver="pdas")
        times.append(cpu() - t0)
        assert r.success, r.message
        if before and greens._shared(p.grid).dense is not None:
            table = k
        first.append(r)
    t0 = cpu()
    again = [qs.solve(p, solver="pdas") for p in probs]
    t_again = cpu() - t0
    same = sum(np.array_equal(a.x, b.x) for a, b in zip(first, again))
    k = table
    print(f"tiles {count} x {side}^2, {bits} bits; table built in tile {k}")
    print(f"on the fly: tiles 0..{k - 1}: {sum(times[:k]):.2f} CPU s ({sum(times[:k]) / k:.3f} per tile)")
    print(f"tile {k} (with the table build): {times[k]:.2f} CPU s")
    rest = times[k + 1:]
    print(f"gathers: tiles {k + 1}..{count - 1}: {sum(rest):.2f} CPU s ({sum(rest) / len(rest):.3f} per tile)")
    print(f"all {count} again (table): {t_again:.2f} CPU s ({t_again / count:.3f} per tile)")
    print(f"first answers equal bit for bit to the second ones: {same} / {count}")
    print(f"steps: {[r.iterations for r in first]}")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
