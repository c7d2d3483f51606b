"""Figure 3 (1-D): quantized samples, envelopes, Laplace and biharmonic curves.

    python examples/figure3_1d.py [--size N] [--out examples/figure3_1d.png]

--size is the number of samples (default 48).  See :func:`qpsolve.paper.figures.figure3`.
"""

import argparse
import sys
from pathlib import Path

from qpsolve.paper.figures import figure3, save_figure


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=48)
    p.add_argument("--out", default=str(Path(__file__).with_name("figure3_1d.png")), help="PNG file")
    p.add_argument("--solver", default="auto")
    args = p.parse_args(argv)
    fig = figure3(args.size, solver=args.solver)
    save_figure(fig, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
