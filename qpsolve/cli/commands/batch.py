"""``qpsolve batch INPUT... --out DIR``: many images on Dask, one task per image.

INPUT are files, folders (their images) and globs.  Runs on an embedded
``LocalCluster`` of ``--workers`` process workers (default: the cores) or on
the cluster at ``--scheduler``.  Outputs are written atomically; a second run
skips the outputs that exist (``--overwrite`` redoes them).  The report at
the end has one line per file; exit status 0 when every file was written or
skipped, 1 when one was not certified (not written), 2 when one failed
(named in the report) -- every other file is written all the same.
"""

from __future__ import annotations

import argparse

from ...model.envelopes import ROUNDINGS
from ...model.operators import BOUNDARIES, MODELS
from ...solvers import SOLVERS
from ..argtypes import positive_int


def add_cluster_options(p):
    """``--workers N | --scheduler ADDRESS`` (shared with ``qpsolve video``)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=positive_int, default=None,
                   help="process workers of the embedded Dask LocalCluster (default: the cores)")
    g.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786); "
                        "its workers must see the input and output paths")


def add_model_options(p, bc_default):
    p.add_argument("--model", default="biharmonic", choices=MODELS)
    p.add_argument("--bc", default=bc_default, choices=BOUNDARIES)
    p.add_argument("--rounding", default="floor", choices=ROUNDINGS)
    p.add_argument("--adaptive", action=argparse.BooleanOptionalAction, default=True,
                   help="content-adaptive model (default), as in qpsolve dequantize")
    p.add_argument("--tol", type=float, default=1e-8)


def register(sub):
    p = sub.add_parser("batch", help="de-quantize many images on Dask (a folder, files, globs)",
                       description="De-quantize every image named by INPUT (files, folders, globs) on Dask, one "
                                   "task per image, and write DIR/<name>.png (16-bit) atomically. A second run "
                                   "skips complete outputs.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or globs")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (made if missing)")
    p.add_argument("--bits", type=int, default=None, help="bit depth of every input; detected per file when absent")
    p.add_argument("--format", default="png", choices=("png", "tif", "npy"),
                   help="output format: 16-bit PNG (default), float32 TIFF or float64 .npy")
    p.add_argument("--overwrite", action="store_true", help="redo files whose output exists (default: skip them)")
    p.add_argument("--huge-pixels", type=positive_int, default=None, metavar="N",
                   help="images with more pixels than N (default 4194304) are solved in tiles of --huge-tile px, "
                        "one Dask task per tile")
    p.add_argument("--huge-tile", type=positive_int, default=None, metavar="PX", help="tile side (default 1024)")
    add_cluster_options(p)
    add_model_options(p, "odd")
    p.add_argument("--solver", default="auto", choices=["auto", *SOLVERS])
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar")
    p.set_defaults(func=run)


def run(args):
    from ...distributed import dequantize_batch
    from ...distributed.batch import HUGE_PIXELS, HUGE_TILE

    rep = dequantize_batch(args.inputs, args.out, workers=args.workers, scheduler=args.scheduler, bits=args.bits,
                           overwrite=args.overwrite, format=args.format, progress=args.progress, model=args.model,
                           bc=args.bc, rounding=args.rounding, adaptive=args.adaptive, tol=args.tol,
                           solver=args.solver, huge_pixels=args.huge_pixels or HUGE_PIXELS,
                           huge_tile=args.huge_tile or HUGE_TILE)
    print(rep.table())
    for f in rep.files:
        if f.status == "failed":
            print(f"failed: {f.input}: {f.error}")
    return rep.exit_status
