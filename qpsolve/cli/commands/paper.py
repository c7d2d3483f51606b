"""``qpsolve paper``: reproduce the plate-bending paper, one command per result.

* ``qpsolve paper table1 [--out FILE]`` - Table 1 beside the published numbers (Markdown file,
  plain-text table on stdout).
* ``qpsolve paper figures [--out DIR] [--size N]`` - Figures 3, 4 and 5 as PNGs.

Every solve must be certified optimal; otherwise the command reports which one failed,
writes nothing and exits with status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _variants(text):
    from ...paper.table1 import DEFAULT_VARIANTS, VARIANTS

    text = text.strip()
    if text in ("", "none"):
        return ()
    if text == "default":
        return DEFAULT_VARIANTS
    if text == "all":
        return tuple(VARIANTS)
    names = tuple(v.strip() for v in text.split(",") if v.strip())
    for v in names:
        if v not in VARIANTS:
            raise ValueError(f"--variants: unknown variant {v!r}; choose from {', '.join(VARIANTS)}, "
                             f"or none/default/all")
    return names


def register(sub):
    p = sub.add_parser("paper", help="reproduce Table 1 and Figures 3-5 of the plate-bending paper",
                       description="Reproduce the results of Völgyes et al. (2018) with certified solves.")
    psub = p.add_subparsers(dest="paper_command", metavar="WHAT")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    t = psub.add_parser("table1", help="Table 1 beside the published numbers",
                        description="Compute Table 1 (64x64 Gaussian and Rosenbrock at 2, 3, 5 bits; zero pad, "
                                    "Laplace, biharmonic; NRMSE, PSNR, SSIM) plus research-variant rows, print "
                                    "it beside the paper's values and write it as Markdown.")
    t.add_argument("--out", default="examples/table1.md", help="Markdown file (default examples/table1.md)")
    t.add_argument("--size", type=int, default=64,
                   help="image side (default 64, the paper's; other sizes have no paper column)")
    t.add_argument("--variants", default="default",
                   help="research rows: none, default, all, or a comma list of thin-plate, mixed, "
                        "mixed-0.01, even, triharmonic (default: all)")
    t.add_argument("--solver", default="auto")
    t.add_argument("--time-limit", type=float, default=None, help="seconds per solve (default none)")
    t.set_defaults(func=run_table1)

    f = psub.add_parser("figures", help="Figures 3, 4 and 5 as PNG files",
                        description="Draw Figure 3 (1-D), Figure 4 (2-D Gaussian and Rosenbrock) and Figure 5 "
                                    "(masked night sky) from certified solves.")
    f.add_argument("--out", default="examples", help="folder for the PNGs (default examples; created)")
    f.add_argument("--size", type=int, default=64, help="image side of Figures 4 and 5 (default 64, >= 16)")
    f.add_argument("--solver", default="auto")
    f.set_defaults(func=run_figures)


def run_table1(args):
    from ...paper.table1 import NotCertifiedError, compute_table1, format_table1, table1_markdown, write_text

    out = Path(args.out)
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():  # fail before minutes of solving
        raise OSError(f"cannot write {str(out)!r}: folder {str(folder)!r} does not exist")
    if args.time_limit is not None and not args.time_limit > 0:
        raise ValueError(f"--time-limit must be positive, got {args.time_limit}")
    variants = _variants(args.variants)
    try:
        rows = compute_table1(size=args.size, variants=variants, solver=args.solver,
                              time_limit=args.time_limit)
    except NotCertifiedError as exc:
        print(f"qpsolve paper table1: {exc}; nothing written", file=sys.stderr)
        return 1
    print(format_table1(rows))
    write_text(out, table1_markdown(rows, size=args.size, solver=args.solver))
    print(f"wrote {out}")
    return 0


def run_figures(args):
    from ...paper.figures import write_figures
    from ...paper.table1 import NotCertifiedError

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise OSError(f"--out {str(out)!r} exists and is not a folder")
    try:
        paths = write_figures(out, size=args.size, solver=args.solver)
    except NotCertifiedError as exc:
        print(f"qpsolve paper figures: {exc}; nothing written", file=sys.stderr)
        return 1
    for path in paths:
        print(f"wrote {path}")
    return 0
