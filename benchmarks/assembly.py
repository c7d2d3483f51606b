"""Time the assembly of the energy matrices: ``python -m benchmarks.assembly``.

Writes ``benchmarks/results/assembly.md``: seconds and non-zeros per model and
grid size (each size in a fresh process, so the peak memory is its own).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from qpsolve.imaging.io import atomic_output

CHILD = """
import json, resource, time, qpsolve as qs
t = time.perf_counter()
P = qs.energy_matrix(({n}, {n}), {model!r}, {bc!r})
dt = time.perf_counter() - t
print(json.dumps({{"seconds": dt, "nnz": int(P.nnz),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    ap.add_argument("--models", nargs="+", default=["biharmonic", "laplace", "thin-plate"])
    ap.add_argument("--bc", default="odd")
    ap.add_argument("--out", default="benchmarks/results/assembly.md")
    args = ap.parse_args(argv)
    if any(n < 2 for n in args.sizes):
        ap.error("sizes must be >= 2")
    rows = []
    for model in args.models:
        for n in args.sizes:
            code = CHILD.format(n=n, model=model, bc=args.bc)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((model, n, r))
            print(f"{model:12s} {n:5d}^2  {r['seconds']:7.2f} s  nnz {r['nnz']:>11,d}  peak {r['peak_mb']:.0f} MB",
                  flush=True)
    lines = ["# Operator assembly", "", f"Command: `python -m benchmarks.assembly {' '.join(argv or sys.argv[1:])}`",
             f"Boundary rule: {args.bc}. One fresh process per row; peak MB includes the interpreter.", "",
             "| model | size | seconds | non-zeros | peak MB |", "|---|---|---|---|---|"]
    lines += [f"| {m} | {n}² | {r['seconds']:.2f} | {r['nnz']:,} | {r['peak_mb']:.0f} |" for m, n, r in rows]
    with atomic_output(args.out) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
