"""Figure 5 (masking): a night sky with a moon, solved across the moon with a mask; the halo without.

    python examples/figure5_mask.py [--size N] [--out examples/figure5_mask.png]

--size is the image side (default 64, at least 16).  See :func:`qpsolve.paper.figures.figure5`.
"""

import argparse
import sys
from pathlib import Path

from qpsolve.paper.figures import figure5, save_figure


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--out", default=str(Path(__file__).with_name("figure5_mask.png")), help="PNG file")
    p.add_argument("--solver", default="auto")
    args = p.parse_args(argv)
    fig = figure5(args.size, solver=args.solver)
    save_figure(fig, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
