"""Table 1 of Völgyes et al. (2018) beside the published numbers.

    python examples/table1.py [--size 64] [--out examples/table1.md] [--variants default]

Same as ``qpsolve paper table1``; see :mod:`qpsolve.paper`.
"""

import argparse
import sys
from pathlib import Path

from qpsolve.paper.table1 import DEFAULT_VARIANTS, VARIANTS, compute_table1, format_table1, table1_markdown, write_text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64, help="image side (64 = the paper's)")
    p.add_argument("--out", default=str(Path(__file__).with_name("table1.md")), help="Markdown file")
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                   help=f"comma list of {', '.join(VARIANTS)} (or 'none')")
    p.add_argument("--solver", default="auto")
    args = p.parse_args(argv)
    variants = () if args.variants in ("", "none") else tuple(args.variants.split(","))
    rows = compute_table1(size=args.size, variants=variants, solver=args.solver)
    print(format_table1(rows))
    write_text(args.out, table1_markdown(rows, size=args.size, solver=args.solver))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
