"""Figure 4 (2-D): reference, 2-bit, Laplace, biharmonic for the Gaussian and Rosenbrock.

    python examples/figure4_2d.py [--size N] [--out examples/figure4_2d.png]

--size is the image side (default 64).  See :func:`qpsolve.paper.figures.figure4`.
"""

import argparse
import sys
from pathlib import Path

from qpsolve.paper.figures import figure4, save_figure


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--out", default=str(Path(__file__).with_name("figure4_2d.png")), help="PNG file")
    p.add_argument("--solver", default="auto")
    args = p.parse_args(argv)
    fig = figure4(args.size, solver=args.solver)
    save_figure(fig, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
