"""``qpsolve video IN OUT --bits N [--temporal K]``: de-quantize a film on Dask.

OUT ending in ``.mkv`` is FFV1 at 16 bits in Matroska (audio and time stamps
kept); anything else is a folder of 16-bit PNG frames with ``video.json``
(frame rate, time stamps) and ``audio.mka``.  Frame by frame by default;
``--temporal K`` solves the frames' plates tied by a temporal term over overlapping chunks of K frames.
Exit status 1 when a solve was not certified (the video is written), 2 on
bad input (nothing written).
"""

from __future__ import annotations

import argparse

from ...solvers import SOLVERS
from .batch import add_cluster_options, add_model_options, positive_int


def register(sub):
    p = sub.add_parser("video", help="de-quantize a video (frame by frame or plates tied in time) on Dask",
                       description="De-quantize every frame of IN and write 16-bit lossless OUT: FFV1 in Matroska "
                                   "for .mkv, else a folder of 16-bit PNG frames.")
    p.add_argument("input", metavar="IN", help="a video PyAV reads (8- to 12-bit gray, YUV or RGB)")
    p.add_argument("output", metavar="OUT", help="OUT.mkv (FFV1, 16-bit) or a folder (frame_000001.png, ...)")
    p.add_argument("--bits", type=int, required=True,
                   help="significant bits of the stored samples (up to the video's 8 or 10)")
    p.add_argument("--temporal", type=positive_int, default=None, metavar="K",
                   help="solve the frames' plates tied in time over chunks of K >= 2 frames, each a Dask task")
    p.add_argument("--overlap", type=int, default=None,
                   help="frames shared by neighbouring chunks (default max(1, K // 4))")
    p.add_argument("--temporal-weight", type=float, default=None, metavar="W",
                   help="weight of the temporal bending term of a chunk's QP (default 0.1; 0: frame by frame)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    add_cluster_options(p)
    add_model_options(p, "even")
    p.add_argument("--solver", default=None, choices=["auto", *SOLVERS],
                   help="backend (default: auto frame by frame; with --temporal spacetime, projected Newton "
                        "preconditioned by the chunk's exact separable inverse, or pcg with AMG for a rule in space "
                        "other than even)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bar")
    p.set_defaults(func=run)


def run(args):
    from ...distributed import dequantize_video

    if args.temporal == 1:
        raise ValueError("--temporal needs K >= 2 frames per chunk (leave it out for frame by frame)")
    options = dict(model=args.model, bc=args.bc, rounding=args.rounding, adaptive=args.adaptive, tol=args.tol)
    if args.solver is not None:
        options["solver"] = args.solver
    if args.temporal_weight is not None:
        options["temporal_weight"] = args.temporal_weight
    rep = dequantize_video(args.input, args.output, bits=args.bits, temporal=args.temporal, overlap=args.overlap,
                           workers=args.workers, scheduler=args.scheduler, overwrite=args.overwrite,
                           progress=args.progress, **options)
    print(rep)
    if rep.uncertified:  # which frames: one line per task
        print(rep.chunk_table())
    return rep.exit_status
