"""``dequantize_video``: a film frame by frame, or as plates tied in time over overlapping chunks, on Dask.

Frames are decoded on the client (PyAV), cut into chunks and sent to the
workers, one Dask task per chunk; results come back in order, are blended
and encoded on the client.  At most ``2 x workers`` chunks are in flight,
so the client holds a bounded number of frames whatever the film's length.

* frame by frame (default): a chunk is one frame; each plane is its own 2-D
  :func:`qpsolve.dequantize`.
* ``temporal=K``: a chunk is ``K`` frames, and each plane's ``(t, y, x)``
  block is one QP (:mod:`qpsolve.distributed.temporal`): each frame's 2-D
  plate plus a weighted temporal second difference that lets a pixel change
  linearly in time for free and is dropped where neighbouring frames differ
  by more than a level (:mod:`qpsolve.model.temporal`).  Chunks overlap by
  ``overlap`` frames and are blended with tent weights (a convex
  combination, so every frame stays inside its envelopes); slow gradients
  then stop flickering between frames.

``bits`` says how many significant bits the stored samples carry: levels are
multiples of ``2**(c - bits)`` in the ``c``-bit container (8 or 10 bits per
sample; ``bits = c`` removes the 8- or 10-bit banding itself).  A sample off
that grid (lossy compression after the quantization) is refused with the
frame named.

Defaults differ from :func:`qpsolve.dequantize` in three places, all
overridable: ``bc='even'`` (mirror at the frame's edges, which the spectral
solvers diagonalise); every 2-D plane starts from a coarse-to-fine point built
here (:mod:`qpsolve.distributed.start`), which ``pdas`` finishes in a few
iterations; and for ``temporal`` ``solver='spacetime'``
(:mod:`qpsolve.solvers.spacetime`: projected Newton whose face solves use the
chunk's separable inverse, a DCT per frame and a ``T x T`` eigenbasis in
time), started from the frames' 2-D plates, on the whole chunk when those
touch their bounds at most ``MAX_HELD`` times, else in spatial tiles, each
by ``spacetime`` or, when its own start still touches its bounds more often
or the rule in space is not ``even``, by ``pcg`` with AMG
(:func:`qpsolve.distributed.temporal.default_solver`).
Measurements: benchmarks/results/distributed/ and the README.
"""

from __future__ import annotations

import collections
import os
import resource
import time
from dataclasses import dataclass, field

import numpy as np

from ..validation import check_at_least
from .cluster import check_cluster_args, dask_client, worker_count
from .frames import frame_planes, plane_format, to_uint16
from .sinks import check_output, open_sink
from .temporal import TEMPORAL_OPTIONS, blend, frame_envelopes, solve_temporal_block
from .temporal_blend import chunk_blend_weights

__all__ = ["dequantize_video", "solve_chunk", "chunk_starts", "tent_weights", "flicker", "psnr", "VideoReport",
           "read_planes", "plane_start"]

VIDEO_DEFAULTS = {"bc": "even"}
TEMPORAL_DEFAULTS = {"bc": "even"}  # and the solver of temporal.default_solver
#: options of a temporal chunk that also shape its frames' 2-D start solves (the rest are the 3-D solver's)
MODEL_OPTIONS = ("model", "bc", "rounding", "adaptive", "alpha", "beta", "tol", "outliers")
#: a temporal block is solved whole by ``spacetime`` when its frames' 2-D plates touch their bounds at
#: most :data:`qpsolve.solvers.spacetime.MAX_HELD` times (its dense Schur complement stays small);
#: otherwise, and for ``pcg``, blocks larger than ``2 * TEMPORAL_TILE**2`` pixels per frame are solved in
#: overlapping spatial tiles of ``TEMPORAL_TILE`` a side (``TEMPORAL_TILE_OVERLAP`` shared), blended
#: with ramps.  A tile much smaller than the scene's smooth features lies inside one band, has no
#: contact, and its plate is free: 64-px tiles on a 2x240x427 block gave 31.4 dB against 41.7 whole
#: (README), 128-px tiles 41.9; so tiles are large and few.
TEMPORAL_TILE = 256
#: ... and whole only up to this many values (frames x pixels): a worker's peak grows with them (1.5 GB
#: measured for one 5 x 480 x 854 plane, 2.05 M values: the assembled P, its checks and the solver)
TEMPORAL_WHOLE_VALUES = 2**22
TEMPORAL_TILE_OVERLAP = 32


def flicker(out, truth):
    """Flicker against the truth: mean absolute error of the frame differences.

    ``mean |(out[t+1] - out[t]) - (truth[t+1] - truth[t])|`` over all pixels
    and frame pairs (first axis = time); 0 when every change between frames
    is the true one, whatever each frame's own error.

    Examples
    --------
    >>> truth = np.zeros((3, 2, 2)); out = truth + np.array([0, 1, 0])[:, None, None]
    >>> float(flicker(out, truth)), float(flicker(truth + 5, truth))
    (1.0, 0.0)
    """
    out, truth = np.asarray(out, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if out.shape != truth.shape or out.ndim < 2 or out.shape[0] < 2:
        raise ValueError(f"out {out.shape} and truth {truth.shape} must be equal shapes with >= 2 frames first")
    return float(np.mean(np.abs(np.diff(out, axis=0) - np.diff(truth, axis=0))))


def psnr(out, truth, peak):
    """PSNR in dB of ``out`` against ``truth`` for the signal range ``peak``.

    Examples
    --------
    >>> round(float(psnr(np.full(4, 1.0), np.zeros(4), 255)), 2)
    48.13
    """
    mse = float(np.mean((np.asarray(out, dtype=np.float64) - np.asarray(truth, dtype=np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak**2 / mse))


def chunk_starts(n, k, overlap):
    """First frames of the chunks of ``k`` frames that cover ``n`` frames with ``overlap`` shared.

    The stride is ``k - overlap``; the last chunk ends at frame ``n`` (it may
    share more than ``overlap`` frames with the one before).

    Examples
    --------
    >>> chunk_starts(10, 4, 1)
    [0, 3, 6]
    >>> chunk_starts(11, 4, 1)
    [0, 3, 6, 7]
    >>> chunk_starts(3, 4, 1)
    [0]
    """
    if n <= k:
        return [0]
    starts = list(range(0, n - k + 1, k - overlap))
    if starts[-1] + k < n:
        starts.append(n - k)
    return starts


def tent_weights(k, overlap):
    """Blend weights of a chunk's ``k`` frames: ramps of ``overlap`` frames at both ends, 1 between.

    All positive; a frame's result is the weighted mean over the chunks
    that hold it.

    Examples
    --------
    >>> tent_weights(6, 2).round(3).tolist()
    [0.333, 0.667, 1.0, 1.0, 0.667, 0.333]
    """
    i = np.arange(k, dtype=np.float64)
    return np.minimum(1.0, np.minimum(i + 1, k - i) / (overlap + 1))


def plane_start(frame, step, crange, options):
    """The coarse-to-fine start (:func:`~qpsolve.distributed.start.coarse_start`) of one 2-D plane.

    ``None`` when the plane is too small to gain from one (the solver's own
    start is then used).  Built on the quantizer's envelopes of ``frame``
    with the model and boundary rule of ``options``.
    """
    from ..imaging.bounds import image_envelopes
    from .start import MIN_SIDE, coarse_start

    if min(frame.shape) < 2 * MIN_SIDE:
        return None
    model, bc = options.get("model", "biharmonic"), options.get("bc", "odd")
    lo, hi, _, _ = image_envelopes(frame, None, model, bc, None, rounding=options.get("rounding", "floor"),
                                   step=step, levels=None, lower=None, upper=None, confidence=None,
                                   data_range=crange, alpha=options.get("alpha", 1.0), beta=options.get("beta", 1.0))
    return coarse_start(lo, hi, model=model, bc=bc, alpha=options.get("alpha", 1.0), beta=options.get("beta", 1.0))


def solve_chunk(planes, step, crange, temporal, options, start=True, tile=TEMPORAL_TILE,
                tile_overlap=TEMPORAL_TILE_OVERLAP):
    """De-quantize one chunk (the Dask task): ``planes`` are ``(T, h, w)`` integer blocks.

    Frame by frame each frame of each plane is its own 2-D solve, started
    (``start=True``) from :func:`plane_start`.  With ``temporal`` each
    plane's block is one temporal QP
    (:func:`~qpsolve.distributed.temporal.solve_temporal_block`), started
    from its frames' 2-D plates (it differs from them only where time bends
    it), whole by ``spacetime`` when that start touches its bounds at most
    :data:`~qpsolve.solvers.spacetime.MAX_HELD` times and it holds at most
    :data:`TEMPORAL_WHOLE_VALUES` values, otherwise in spatial
    tiles of ``tile`` pixels a side (``tile_overlap`` shared, ramp-blended)
    once its frames exceed ``2 * tile**2`` pixels, then blended
    with the bin centres by each frame's 2-D ``adaptive`` weights, opened
    where the frames' plates drift in step
    (:func:`~qpsolve.distributed.temporal_blend.chunk_blend_weights`).  Starts
    change nothing but the time: every solve is the shared certificate's.

    Returns ``(results, info)``: float64 blocks in the container's units, and
    ``{'certified': [bool per solve], 'solves': [{'plane', 'shape', 'seconds',
    'certified', 'message'}], 'seconds', 'peak_rss_mb', 'messages'}``.
    Raises ``ValueError`` for data off the level grid (the caller names the frames).

    Examples
    --------
    >>> y = (np.add.outer(np.arange(12), np.arange(16)) * 4).astype(np.uint8) & 0xC0
    >>> out, info = solve_chunk([y[None]], 64, (0, 255), False, {"bc": "even"})
    >>> out[0].shape, out[0].dtype, info["certified"]
    ((1, 12, 16), dtype('float64'), [True])
    """
    from ..imaging.image import dequantize

    t0 = time.perf_counter()
    outs, certified, messages, solves = [], [], [], []
    frame_options = {k: v for k, v in options.items() if k in MODEL_OPTIONS}

    def one(block, plane, opts, x0=None, record=True):
        t = time.perf_counter()
        if x0 is not None:
            opts = dict(opts, x0=np.ravel(x0))
        x, res = dequantize(block, step=step, data_range=crange, return_result=True, **opts)
        if record:
            certified.append(bool(res.success))
            solves.append({"plane": plane, "shape": tuple(block.shape), "seconds": time.perf_counter() - t,
                           "certified": bool(res.success), "message": res.message})
            if not res.success:
                messages.append(f"{res.status!s}: {res.message}")
        return x

    def frame(f, plane, opts, record=True):
        return one(f, plane, opts, plane_start(f, step, crange, opts) if start else None, record)

    def chunk(lo, hi, plane, x0):
        t = time.perf_counter()
        res = solve_temporal_block(lo, hi, options, x0)
        certified.append(bool(res.success))
        solves.append({"plane": plane, "shape": tuple(lo.shape), "seconds": time.perf_counter() - t,
                       "certified": bool(res.success), "message": res.message})
        if not res.success:
            messages.append(f"{res.status!s}: {res.message}")
        return res.x.reshape(lo.shape)

    if temporal and options.get("outliers") is not None:
        raise ValueError("outliers is not available with temporal (each frame's 2-D dequantize has it)")
    for p, block in enumerate(planes):
        block = np.asarray(block)
        if temporal and block.shape[0] > 1:
            lo, hi = frame_envelopes(block, step, crange, options)
            adaptive = options.get("adaptive", True)
            # the frames' own 2-D plates (the same QP without the temporal term; auto's fast 2-D
            # path) start the chunk's solve; with the blend they are also its evidence of drift
            plain = dict(frame_options, adaptive=False)
            plates = None
            # any dict (even {}) asks for the blend, as in frame_blend_weights
            if start or (adaptive is not None and adaptive is not False and block.shape[0] > 2):
                plates = np.stack([frame(f, p, plain, record=False) if start else one(f, p, plain, record=False)
                                   for f in block])
            x0 = plates if start else None
            # the weights before the solve, as before: their temporaries are gone by the solver's peak
            weights = chunk_blend_weights(lo, hi, plates, adaptive)
            x = _tiled((lo, hi), x0, lambda b, x, p=p: chunk(b[0], b[1], p, x),
                       None if _whole(lo, hi, x0, options) else tile, tile_overlap)
            outs.append(blend(x, lo, hi, weights))
        else:
            # a one-frame chunk is a 2-D dequantize, which knows no temporal options
            two_d = {k: v for k, v in options.items() if k not in TEMPORAL_OPTIONS}
            outs.append(np.stack([frame(f, p, two_d) for f in block]))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return outs, {"certified": certified, "solves": solves, "seconds": time.perf_counter() - t0,
                  "peak_rss_mb": rss, "messages": messages, "pid": os.getpid()}


def _whole(lo, hi, x0, options):
    """Whether ``spacetime`` takes a temporal block whole: its start touches the bounds few times."""
    from .temporal import default_solver

    if x0 is None or options.get("solver") not in (None, "spacetime") or lo.size > TEMPORAL_WHOLE_VALUES:
        return False
    return default_solver(lo, hi, x0, options) == "spacetime"


def _tiled(block, x0, solve, tile, overlap):
    """``solve(block, x0)`` of a tuple of ``(T, h, w)`` arrays, in overlapping spatial tiles when they are large.

    Tiles of ``tile`` pixels a side (every frame of the block)
    are solved one after the other and blended with positive ramps over the
    overlap: a convex combination of certified tiles, inside every envelope,
    as the chunks are blended in time.  Keeps a worker's memory to one tile.
    """
    from ..imaging.tiles import blend_weights, tile_slices

    shape = block[0].shape[1:]
    if tile is None or shape[0] * shape[1] <= 2 * tile**2:
        return solve(block, x0)
    acc = np.zeros(block[0].shape)
    wsum = np.zeros(shape)
    for sl in tile_slices(shape, tile, overlap):
        w = blend_weights(sl, shape, overlap)
        full = (slice(None),) + tuple(sl)
        acc[full] += w * solve(tuple(b[full] for b in block), None if x0 is None else x0[full])
        wsum[tuple(sl)] += w
    return acc / wsum


@dataclass
class VideoReport:
    """What :func:`dequantize_video` did."""

    input: str
    output: str
    frames: int
    seconds: float
    workers: int
    mode: str
    pixel_format: str
    output_format: str
    frame_rate: str | None
    audio: bool
    solves: int = 0
    uncertified: int = 0
    chunks: int = 0
    peak_rss_mb: float = 0.0
    messages: list = field(default_factory=list)
    #: one dict per task, in frame order: ``first``, ``last`` (1-based frames), ``solves``,
    #: ``uncertified``, ``seconds`` (in the task), ``worker`` (pid)
    chunk_reports: list = field(default_factory=list)

    @property
    def fps(self):
        """Frames de-quantized per second of wall time (decoding and encoding included)."""
        return self.frames / self.seconds if self.seconds > 0 else float("nan")

    @property
    def exit_status(self):
        """0 when every solve was certified, else 1 (the frames are written all the same)."""
        return 1 if self.uncertified else 0

    def __str__(self):
        cert = ("all certified" if not self.uncertified
                else f"{self.uncertified} of {self.solves} NOT certified (first: {self.messages[0]})")
        return (f"{self.input} -> {self.output}: {self.frames} frames ({self.pixel_format} -> {self.output_format}"
                f", {self.frame_rate or '?'} fps{', audio kept' if self.audio else ''}), {self.mode}, "
                f"{self.chunks} task(s) on {self.workers} worker(s) in {self.seconds:.1f} s = {self.fps:.2f} frames/s;"
                f" {self.solves} plane solves, {cert}; worker peak RSS {self.peak_rss_mb:.0f} MB")

    def chunk_table(self):
        """One line per task: frames, solves, how many certified, seconds in the task.

        Examples
        --------
        >>> r = VideoReport("a.mkv", "b.mkv", 2, 1.0, 1, "frame by frame", "gray", "FFV1", "25", False,
        ...                 chunk_reports=[{"first": 1, "last": 2, "solves": 2, "uncertified": 1, "seconds": 0.5,
        ...                                 "worker": 7}])
        >>> print(r.chunk_table())
        frames  solves  certified  seconds  worker
        1-2     2       1 of 2 NO  0.50     pid 7
        """
        rows = [("frames", "solves", "certified", "seconds", "worker")]
        for c in self.chunk_reports:
            ok = c["solves"] - c["uncertified"]
            rows.append((f"{c['first']}-{c['last']}", str(c["solves"]),
                         "yes" if not c["uncertified"] else f"{ok} of {c['solves']} NO", f"{c['seconds']:.2f}",
                         f"pid {c['worker']}"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)


def read_planes(path):
    """Every frame of a video as planes: ``(format, [list of (T, h, w) arrays], pts list)``.

    For tests and small clips (the whole clip in memory).
    """
    import av

    with av.open(str(path)) as inp:
        fmt, frames, pts = None, [], []
        for fr in inp.decode(inp.streams.video[0]):
            fmt = fmt or plane_format(fr, max_bits=16)
            frames.append(frame_planes(fr, fmt))
            pts.append(fr.pts)
    if not frames:
        raise ValueError(f"{str(path)!r} holds no video frame")
    return fmt, [np.stack([f[i] for f in frames]) for i in range(len(frames[0]))], pts


def _check_bits(bits, fmt):
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= fmt.bits:
        raise ValueError(f"bits must be an integer in 1..{fmt.bits} for {fmt.name} video "
                         f"({fmt.bits}-bit samples), got {bits!r}")
    return int(bits)


def _frames(path):
    """Decoded frames of the first video stream, with the stream (opened here, closed at the end)."""
    import av

    try:
        inp = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise OSError(f"cannot read video {str(path)!r}: {exc}") from exc
    if not inp.streams.video:
        inp.close()
        raise ValueError(f"{str(path)!r} has no video stream")
    return inp, inp.streams.video[0]


def dequantize_video(src, out, *, bits, temporal=None, overlap=None, client=None, workers=None, scheduler=None,
                     overwrite=False, progress=False, start=True, **dequantize_options):
    """De-quantize a video; write 16-bit FFV1 in Matroska (``out`` ends in ``.mkv``) or PNG frames (a folder).

    Parameters
    ----------
    src : str or Path
        Any video PyAV decodes whose frames are planar gray, YUV or RGB at 8
        to 12 bits (``gray``, ``yuv420p``, ``yuv420p10le``, ``rgb24``, ...).
    out : str or Path
        ``.mkv``: FFV1 in the 16-bit version of the input's layout
        (``yuv420p16le``, ``gray16le``, ``gbrp16le``), audio copied, time
        stamps and frame rate kept.  Anything else: a folder of
        ``frame_000001.png``, ... (16-bit gray or RGB), ``video.json`` (frame
        rate, time stamps) and ``audio.mka`` when the input has audio.  Written
        atomically (a temporary file or folder renamed at the end).
    bits : int
        Significant bits of the stored samples (``1 .. c`` for ``c``-bit video).
    temporal : int, optional
        Solve ``(x, y, t)`` plates over chunks of this many frames (``>= 2``).
    overlap : int, optional
        Frames shared by neighbouring chunks (default ``max(1, temporal // 4)``).
    client, workers, scheduler
        As in :func:`qpsolve.distributed.dequantize_batch`.
    overwrite : bool
        Replace an existing ``out``.
    progress : bool
        A tqdm bar over frames.
    start : bool
        Start each 2-D solve from :func:`plane_start` and each 3-D one from
        its frames' answers (default); ``False`` leaves the start to the
        solver.  Only the time changes: answers are certified either way.
    **dequantize_options
        Passed to :func:`qpsolve.dequantize` per plane (on top of
        ``bc='even'``; with ``temporal`` the solver is ``spacetime`` or ``pcg``, see
        :func:`~qpsolve.distributed.temporal.default_solver`).

    Returns
    -------
    VideoReport
    """
    k, ov = _check_temporal(temporal, overlap)
    check_cluster_args(client, workers, scheduler)
    for key in ("bits", "step", "levels", "lower", "upper", "data_range", "channel_axis", "return_result", "x0"):
        if key in dequantize_options:
            raise ValueError(f"{key} is set by dequantize_video from bits and the pixel format; do not pass it")
    for key in TEMPORAL_OPTIONS:
        if key in dequantize_options:
            if not temporal:
                raise ValueError(f"{key} needs temporal (it weighs the temporal term of a chunk's QP)")
            check_at_least(dequantize_options[key], key, 0)
    if temporal and dequantize_options.get("outliers") is not None:
        raise ValueError("outliers is not available with temporal (frame by frame has it)")
    options = dict(TEMPORAL_DEFAULTS if temporal else VIDEO_DEFAULTS)
    options.update(dequantize_options)
    out = check_output(out, overwrite)
    t0 = time.perf_counter()
    inp, vs = _frames(src)
    sinks = []  # the sink, once the first frame has told its format
    try:
        with dask_client(client, workers=workers, scheduler=scheduler) as c:
            nworkers = worker_count(c)
            report = _pipeline(c, inp, vs, src, out, bits, k, ov, bool(temporal), options, progress,
                               window=2 * nworkers, sinks=sinks, use_start=bool(start))
            report.workers = nworkers
            report.audio = sinks.pop().close()
    except BaseException:
        for sink in sinks:
            sink.abort()  # no partial output
        raise
    finally:
        inp.close()
    report.seconds = time.perf_counter() - t0
    return report


def _check_temporal(temporal, overlap):
    if temporal is None:
        if overlap is not None:
            raise ValueError("overlap needs temporal")
        return 1, 0
    if isinstance(temporal, bool) or not isinstance(temporal, (int, np.integer)) or temporal < 2:
        raise ValueError(f"temporal must be an integer >= 2 (frames per chunk), got {temporal!r}")
    k = int(temporal)
    ov = max(1, k // 4) if overlap is None else overlap
    if isinstance(ov, bool) or not isinstance(ov, (int, np.integer)) or not 0 <= ov < k:
        raise ValueError(f"overlap must be an integer in 0..{k - 1} (less than temporal), got {overlap!r}")
    return k, int(ov)


class _Blender:
    """Accumulates chunk results (in chunk order) and hands out finished frames in order."""

    def __init__(self, overlap):
        self.overlap = overlap
        self.acc = {}          # frame -> [sum planes, weight]
        self.next_out = 0

    def add(self, start, blocks):
        k = blocks[0].shape[0]
        w = tent_weights(k, self.overlap) if k > 1 else np.ones(1)
        for j in range(k):
            slot = self.acc.setdefault(start + j, [[np.zeros(b.shape[1:], np.float64) for b in blocks], 0.0])
            for s, b in zip(slot[0], blocks):
                s += w[j] * b[j]
            slot[1] += w[j]

    def ready(self, upto):
        """Finished frames below ``upto`` (no later chunk holds them), in order: (index, planes)."""
        while self.next_out < upto and self.next_out in self.acc:
            planes, wsum = self.acc.pop(self.next_out)
            yield self.next_out, [p / wsum for p in planes]
            self.next_out += 1


def _output_format(out, fmt):
    if str(out).lower().endswith(".mkv"):
        return f"FFV1 {fmt.out16}"
    return f"16-bit {'gray' if fmt.gray else 'RGB'} PNG frames"


def _pipeline(c, inp, vs, src, out, bits, k, overlap, temporal, options, progress, window, sinks, use_start):
    """Decode, submit chunks (``window`` in flight), blend in order, encode into the sink put in ``sinks``."""
    from tqdm.auto import tqdm

    stride = k - overlap
    buf = collections.deque(maxlen=k)      # the last k frames: (index, planes)
    pts, color_range = {}, None
    fmt = step = sink = None
    chunks = collections.deque()           # (start, length, future) in submission order
    blender = _Blender(overlap)
    rep = None
    next_start, n = 0, 0
    covered = [0]                          # end of the last chunk submitted
    total = vs.frames or None

    def submit(start, length):
        blocks = [np.stack([buf[i - buf[0][0]][1][p] for i in range(start, start + length)])
                  for p in range(len(buf[0][1]))]
        fut = c.submit(solve_chunk, blocks, step, fmt.crange, temporal, options, use_start, pure=False,
                       key=f"qpsolve-video-{start}-{os.urandom(4).hex()}")
        chunks.append((start, length, fut))
        rep.chunks += 1
        covered[0] = max(covered[0], start + length)

    def collect(final=False):
        """Take finished chunks in order while more than ``window`` are in flight (all of them at the end)."""
        while chunks and (final or len(chunks) >= window):
            start, length, fut = chunks.popleft()
            try:
                blocks, info = fut.result()
            except ValueError as exc:
                raise ValueError(f"frames {start + 1}-{start + length} of {str(src)!r}: {exc}") from exc
            fut.release()
            rep.solves += len(info["certified"])
            rep.uncertified += sum(not ok for ok in info["certified"])
            rep.messages += info["messages"]
            rep.peak_rss_mb = max(rep.peak_rss_mb, info["peak_rss_mb"])
            rep.chunk_reports.append({"first": start + 1, "last": start + length, "solves": len(info["certified"]),
                                      "uncertified": sum(not ok for ok in info["certified"]),
                                      "seconds": info["seconds"], "worker": info["pid"]})
            blender.add(start, blocks)
            upto = chunks[0][0] if chunks else (next_start if not final else start + length)
            for idx, planes in blender.ready(upto):
                sink.write([to_uint16(p, fmt.bits) for p in planes], pts.pop(idx), color_range)
                bar.update(1)

    with tqdm(total=total, desc="frames", unit="fr", disable=not progress) as bar:
        for frame in inp.decode(vs):
            if fmt is None:
                fmt = plane_format(frame)
                bits = _check_bits(bits, fmt)
                step = 2.0 ** (fmt.bits - bits)
                color_range = frame.color_range
                sink = open_sink(out, src, fmt, frame.width, frame.height, vs.average_rate, vs.time_base)
                sinks.append(sink)
                rep = VideoReport(input=str(src), output=str(out), frames=0, seconds=0.0, workers=0,
                                  mode=f"temporal K={k}, overlap {overlap}" if temporal else "frame by frame",
                                  pixel_format=fmt.name, output_format=_output_format(out, fmt),
                                  frame_rate=None if vs.average_rate is None else str(vs.average_rate), audio=False)
            elif plane_format(frame).name != fmt.name or (frame.width, frame.height) != (sink.width, sink.height):
                raise ValueError(f"frame {n + 1} of {str(src)!r} changes format or size; qpsolve needs one of each")
            buf.append((n, frame_planes(frame, fmt)))
            pts[n] = frame.pts
            n += 1
            if n - next_start == k:
                submit(next_start, k)
                next_start += stride
                collect()
        if fmt is None:
            raise ValueError(f"{str(src)!r} holds no video frame")
        if covered[0] < n:  # the tail: one more chunk, ending at the last frame
            start = max(0, n - k)
            submit(start, n - start)
        next_start = n
        collect(final=True)
    rep.frames = n
    return rep
