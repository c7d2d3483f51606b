"""``dequantize_batch``: a folder (files, globs) of images, one Dask task per image.

Each task reads its file, de-quantizes it exactly as :func:`qpsolve.dequantize`
does (same options, bit depth detected per file when ``bits`` is not given,
alpha passed through) and writes the result atomically, so an interrupted run
leaves only complete outputs and a second run skips them.  A file that cannot
be read, or whose answer is not certified, is reported and leaves no output;
the others are written all the same.

Memory: the client holds paths and one small :class:`FileReport` per file,
and keeps at most ``2 x workers`` tasks in flight, so the scheduler's state
does not grow with the folder; each worker holds one image at a time
(one thread per worker), so its peak is that of the largest single image.

Huge images (more than ``huge_pixels`` pixels per channel) are solved as
``qs.dequantize(image, tile=huge_tile)``, each tile its own Dask task
submitted by the image's task (which leaves its worker's thread pool while
it waits): a 24 Mpx photograph keeps the whole cluster busy, and the worker
that holds it holds its envelopes, not a global problem.
"""

from __future__ import annotations

import glob
import os
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .cluster import check_cluster_args, dask_client, worker_count

__all__ = ["dequantize_batch", "dequantize_file", "expand_inputs", "output_path", "FileReport", "BatchReport",
           "IMAGE_EXTENSIONS", "FORMATS"]

#: extensions a folder is searched for (case-insensitive; hidden files are skipped)
IMAGE_EXTENSIONS = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp", ".webp", ".npy")

#: output formats (see :func:`qpsolve.imaging.io.write_image`)
FORMATS = ("png", "tif", "npy")

_GLOB_CHARS = set("*?[")

#: images with more pixels than this (per channel) are solved in tiles, one Dask task per tile
HUGE_PIXELS = 2**22
#: the tile size of those images (see :func:`qpsolve.imaging.tiles.solve_tiled`)
HUGE_TILE = 1024


def expand_inputs(inputs):
    """Files named by ``inputs``: files, folders (their images, not recursive) and globs.

    Order is kept (a folder's and a glob's files sorted), duplicates are
    dropped.  A name that is neither an existing path nor a glob matching a
    file raises ``ValueError`` naming it, before any work starts.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.png", "a.png", "notes.txt", ".hidden.png"):
    ...     _ = (d / name).write_bytes(b"")
    >>> [p.name for p in expand_inputs([d])]
    ['a.png', 'b.png']
    >>> [p.name for p in expand_inputs([str(d / "*.png"), d / "a.png"])]
    ['a.png', 'b.png']
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    files, seen = [], set()

    def add(p):
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            files.append(p)

    for item in inputs:
        text = os.fspath(item)
        p = Path(text)
        if p.is_dir():
            found = sorted(q for q in p.iterdir()
                           if q.is_file() and not q.name.startswith(".") and q.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                raise ValueError(f"input folder {text!r} holds no image ({', '.join(IMAGE_EXTENSIONS)})")
            for q in found:
                add(q)
        elif p.is_file():
            add(p)
        elif _GLOB_CHARS & set(text):
            found = sorted(Path(q) for q in glob.glob(text, recursive=True) if Path(q).is_file())
            if not found:
                raise ValueError(f"input pattern {text!r} matches no file")
            for q in found:
                add(q)
        else:
            raise ValueError(f"input {text!r}: no such file or folder")
    if not files:
        raise ValueError("no input given")
    return files


def output_path(src, out_dir, fmt="png"):
    """Where the result of ``src`` goes: ``out_dir / (stem + '.' + fmt)``.

    Examples
    --------
    >>> output_path("shots/a.jpg", "out").as_posix()
    'out/a.png'
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    return Path(out_dir) / f"{Path(src).stem}.{fmt}"


@dataclass
class FileReport:
    """What happened to one input.

    ``status`` is ``'written'``, ``'skipped'`` (a complete output existed),
    ``'uncertified'`` (solved, not certified: nothing written) or
    ``'failed'`` (``error`` says why: nothing written).
    """

    input: str
    output: str
    status: str
    seconds: float = 0.0
    bits: int | None = None
    certified: bool | None = None
    error: str = ""
    worker: str = ""
    peak_rss_mb: float | None = None
    notes: list = field(default_factory=list)

    @property
    def ok(self):
        return self.status in ("written", "skipped")


@dataclass
class BatchReport:
    """All :class:`FileReport` of a batch (input order) and the wall time of the run.

    ``seconds`` runs from the moment the client is ready to the last report
    (``startup_seconds`` is the time it took to start the embedded cluster,
    0 with a given client or nothing to do).
    """

    files: list
    seconds: float
    workers: int
    startup_seconds: float = 0.0

    @property
    def ok(self):
        """True when every file was written or skipped."""
        return all(f.ok for f in self.files)

    def count(self, status):
        return sum(f.status == status for f in self.files)

    @property
    def exit_status(self):
        """0 when all is well, 2 when a file failed, else 1 when one was not certified."""
        if self.count("failed"):
            return 2
        return 1 if self.count("uncertified") else 0

    def images_per_minute(self):
        """Solved images (written or uncertified) per minute of wall time."""
        done = self.count("written") + self.count("uncertified")
        return 60.0 * done / self.seconds if self.seconds > 0 else float("nan")

    def table(self):
        """A plain-text table: one line per file, then the totals."""
        rows = [("input", "status", "seconds", "bits", "certified", "worker peak MB", "output / error")]
        for f in self.files:
            cert = "-" if f.certified is None else ("yes" if f.certified else "NO")
            rows.append((f.input, f.status, f"{f.seconds:.2f}" if f.status != "skipped" else "-",
                         "-" if f.bits is None else str(f.bits), cert,
                         "-" if f.peak_rss_mb is None else f"{f.peak_rss_mb:.0f}",
                         f.error if f.error else f.output))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
        parts = [f"{self.count(s)} {s}" for s in ("written", "skipped", "uncertified", "failed") if self.count(s)]
        if self.workers:
            run = (f"; {self.seconds:.1f} s on {self.workers} worker(s) (+ {self.startup_seconds:.1f} s to start "
                   f"or reach them), {self.images_per_minute():.1f} images/min")
        else:
            run = "; nothing to do, no worker started"
        lines.append(f"{len(self.files)} file(s): {', '.join(parts)}{run}")
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def as_dicts(self):
        return [asdict(f) for f in self.files]


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _tile_executor():
    """A context yielding an executor of Dask tasks when running on a Dask worker, else ``None``."""
    import contextlib

    try:
        from distributed import get_worker, worker_client

        get_worker()
    except (ImportError, ValueError):
        return contextlib.nullcontext(None)

    @contextlib.contextmanager
    def executor():
        with worker_client() as wc:  # secedes: this worker's thread can run tiles while the image waits
            yield wc.get_executor(pure=False)

    return executor()


def dequantize_file(src, dst, *, bits=None, max_pixels=None, options=None, huge_pixels=HUGE_PIXELS,
                    huge_tile=HUGE_TILE):
    """Read ``src``, de-quantize it as :func:`qpsolve.dequantize`, write ``dst`` atomically.

    The task each Dask worker runs.  It never raises: the returned
    :class:`FileReport` says what happened (``failed`` with the error for an
    unreadable or invalid input, ``uncertified`` when a channel's answer was
    not certified; neither writes a file).

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> img = ((np.add.outer(np.arange(24), np.arange(24)) * 5).astype(np.uint8) >> 6) << 6
    >>> np.save(d / "ramp.npy", img)
    >>> r = dequantize_file(d / "ramp.npy", d / "ramp.out.npy")
    >>> r.status, r.bits, r.certified
    ('written', 2, True)
    >>> dequantize_file(d / "missing.png", d / "m.png").status
    'failed'
    """
    import contextlib

    from ..imaging.image import dequantize
    from ..imaging.io import DEFAULT_MAX_PIXELS, merge_alpha, read_image, split_alpha, write_image
    from ..model.bitdepth import check_bits, detect_bits
    from ..model.envelopes import container_range

    t0 = time.perf_counter()
    rep = FileReport(input=str(src), output=str(dst), status="failed")
    try:
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            image = read_image(src, max_pixels=DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels)
        rep.notes += [str(w.message) for w in caught]
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (1, 2, 3, 4)):
            raise ValueError(f"{str(src)!r} has shape {image.shape}; expected gray, gray+alpha, RGB or RGBA")
        colour, alpha = split_alpha(image)
        if colour.ndim == 3 and colour.shape[-1] == 1:
            colour = colour[..., 0]
        if bits is None:
            rep.bits = detect_bits(colour).bits
        else:
            check_bits(colour, bits)
            rep.bits = int(bits)
        opts = dict(options or {})
        # Dask already runs images side by side on every core: channel threads inside a task
        # would only compete with the other tasks.
        opts.setdefault("channel_jobs", 1)
        if colour.shape[0] * colour.shape[1] > huge_pixels and "tile" not in opts:
            opts["tile"] = huge_tile
        executor = _tile_executor() if "tile" in opts and "jobs" not in opts else contextlib.nullcontext(None)
        with executor as ex:
            if ex is not None:
                opts["jobs"] = ex  # one Dask task per tile
            out, res = dequantize(colour, bits=rep.bits, channel_axis=-1 if colour.ndim == 3 else None,
                                  return_result=True, **opts)
        tiles = [r.info["photo"].tiles for r in (res if isinstance(res, list) else [res]) if "photo" in r.info]
        if "tile" in opts:
            rep.notes.append(f"{sum(tiles)} tile(s) of {opts['tile']} px{' as Dask tasks' if ex is not None else ''}")
        results = res if isinstance(res, list) else [res]
        rep.certified = all(r.success for r in results)
        if rep.certified:
            write_image(dst, merge_alpha(out, alpha), data_range=container_range(image.dtype))
            rep.status = "written"
        else:
            bad = next(r for r in results if not r.success)
            rep.status = "uncertified"
            rep.error = f"not certified ({bad.status!s}): {bad.message}; nothing written"
    except Exception as exc:  # one bad file must not stop the batch; the report names it
        rep.status = "failed"
        rep.error = f"{type(exc).__name__}: {exc}"
    rep.seconds = time.perf_counter() - t0
    rep.peak_rss_mb = _peak_rss_mb()
    rep.worker = f"pid {os.getpid()}"
    return rep


def _plan(inputs, out_dir, fmt, overwrite):
    """(list of (src, dst), dict of skipped reports by index); refuses collisions up front."""
    files = expand_inputs(inputs)
    out_dir = Path(out_dir)
    pairs, by_dst = [], {}
    for src in files:
        dst = output_path(src, out_dir, fmt)
        if dst.resolve() == src.resolve():
            raise ValueError(f"output of {str(src)!r} would overwrite the input; choose another out_dir")
        if dst in by_dst:
            raise ValueError(f"inputs {str(by_dst[dst])!r} and {str(src)!r} would both be written to {str(dst)!r}; "
                             f"rename one or run them into different folders")
        by_dst[dst] = src
        pairs.append((src, dst))
    skipped = {}
    if not overwrite:
        for i, (src, dst) in enumerate(pairs):
            if dst.is_file():  # writes are atomic: an existing output is a complete one
                skipped[i] = FileReport(input=str(src), output=str(dst), status="skipped")
    return pairs, skipped


def dequantize_batch(inputs, out_dir, *, client=None, workers=None, scheduler=None, bits=None, overwrite=False,
                     format="png", max_pixels=None, progress=False, huge_pixels=HUGE_PIXELS, huge_tile=HUGE_TILE,
                     **dequantize_options):
    """De-quantize many image files on Dask, one task per image; write each result atomically.

    Parameters
    ----------
    inputs : str, Path or list of them
        Files, folders (their images, not recursive) and globs
        (``'shots/**/*.png'``); see :func:`expand_inputs`.
    out_dir : str or Path
        Folder for the results (made if missing): ``stem.png`` (16-bit, the
        input's container range mapped to 0..65535), ``.tif`` (float32) or
        ``.npy`` (float64) after ``format``.
    client : distributed.Client, optional
        Run on this client.  Otherwise ``scheduler`` (an address) or an
        embedded ``LocalCluster`` of ``workers`` process workers (default:
        the cores), made for this call and closed after it.
    bits : int, optional
        Bit depth of every input; detected per file (as ``qpsolve
        dequantize`` does) when absent.
    overwrite : bool
        Redo files whose output exists (default: skip them, so an
        interrupted run resumes where it stopped).
    max_pixels : int, optional
        Refuse larger images (see :func:`qpsolve.imaging.io.read_image`).
    progress : bool
        A tqdm bar over finished files.
    huge_pixels, huge_tile : int
        An image with more than ``huge_pixels`` pixels per channel is solved
        as ``qs.dequantize(image, tile=huge_tile)`` (unless ``tile`` is among
        the options), one Dask task per tile; with ``tile`` its result is
        certified tile by tile (see :func:`qpsolve.imaging.tiles.solve_tiled`).
    **dequantize_options
        Passed to :func:`qpsolve.dequantize` for every file (``model``,
        ``bc``, ``solver``, ``adaptive``, ``tol``, ``tile``, ...).

    Returns
    -------
    BatchReport
        One :class:`FileReport` per input, in input order (``print`` it for
        the table); ``exit_status`` is what the CLI returns.

    Raises
    ------
    ValueError
        Before any work, for an input that names nothing, two inputs that
        would share an output, or a bad option.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from distributed import Client, LocalCluster
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> img = ((np.add.outer(np.arange(24), np.arange(24)) * 5).astype(np.uint8) >> 6) << 6
    >>> for k in range(3):
    ...     np.save(d / f"img{k}.npy", img)
    >>> with LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as lc, Client(lc) as c:
    ...     rep = dequantize_batch(d, d / "out", client=c, format="npy")
    >>> [f.status for f in rep.files], rep.exit_status
    (['written', 'written', 'written'], 0)
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if "channel_axis" in dequantize_options or "return_result" in dequantize_options:
        raise ValueError("channel_axis and return_result are set per file by dequantize_batch; do not pass them")
    if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16):
        raise ValueError(f"bits must be an integer in 1..16, got {bits!r}")
    check_cluster_args(client, workers, scheduler)
    for name, v in (("huge_pixels", huge_pixels), ("huge_tile", huge_tile)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 8:
            raise ValueError(f"{name} must be an integer >= 8, got {v!r}")
    pairs, reports = _plan(inputs, out_dir, format, overwrite)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    todo = [i for i in range(len(pairs)) if i not in reports]
    t0 = time.perf_counter()
    nworkers, started = 0, 0.0
    if todo:  # nothing to do: no cluster is started
        with dask_client(client, workers=workers, scheduler=scheduler) as c:
            nworkers = worker_count(c)
            started = time.perf_counter() - t0
            t0 = time.perf_counter()
            _run(c, pairs, todo, reports, bits, max_pixels, dequantize_options, progress, window=2 * nworkers,
                 huge=(huge_pixels, huge_tile))
            seconds = time.perf_counter() - t0
    else:
        seconds = time.perf_counter() - t0
    files = [reports[i] for i in range(len(pairs))]
    return BatchReport(files=files, seconds=seconds, workers=nworkers, startup_seconds=started)


def _run(c, pairs, todo, reports, bits, max_pixels, options, progress, window, huge):
    """Submit the tasks ``window`` at a time and collect their reports (a lost worker fails its file only)."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    pending = iter(todo)
    index = {}

    def submit():
        i = next(pending, None)
        if i is None:
            return None
        src, dst = pairs[i]
        fut = c.submit(dequantize_file, str(src), str(dst), bits=bits, max_pixels=max_pixels, options=options,
                       huge_pixels=huge[0], huge_tile=huge[1],
                       pure=False, key=f"qpsolve-dequantize-{i}-{os.urandom(4).hex()}")
        index[fut.key] = i
        return fut

    first = [f for f in (submit() for _ in range(max(1, window))) if f is not None]
    done = as_completed(first)
    with tqdm(total=len(todo), desc="images", unit="img", disable=not progress) as bar:
        for fut in done:
            i = index.pop(fut.key)
            src, dst = pairs[i]
            try:
                reports[i] = fut.result()
            except Exception as exc:  # the worker died (memory limit, crash): this file fails alone
                reports[i] = FileReport(input=str(src), output=str(dst), status="failed",
                                        error=f"{type(exc).__name__}: {exc}")
            fut.release()
            bar.update(1)
            nxt = submit()
            if nxt is not None:
                done.add(nxt)
