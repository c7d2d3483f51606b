"""Batches and video on Dask: ``python -m benchmarks.distributed [--scheduler ADDRESS]``.

Writes ``benchmarks/results/distributed/distributed.md`` (+ ``.json``, ``.png``):

* batch throughput (images per minute) of sixteen 160x160 smooth images
  (2 and 3 bits) with 1 and 2 process workers of an embedded LocalCluster,
  the median of ``--repeat`` runs each (cluster start-up and the workers'
  first imports are left out: a warm-up task runs first);
* memory against the folder's size: client and worker peak RSS for batches
  of 16, 64 and 256 small images, each in a fresh process (neither should
  grow with the folder);
* video at 480p (854x480 yuv420p, a smooth scene drifting --speed px per frame (default 2),
  truncated to 3 bits): frames per second frame by frame and with
  ``--temporal``, and on a smaller clip of the same scene (3 bits) flicker and
  PSNR against the truth, for the bin midpoint, frame by frame and temporal.

``--scheduler tcp://host:8786`` runs everything on that cluster instead
(its workers must see this machine's temporary folder: same host or a shared
file system); the worker counts then are whatever the cluster has.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from qpsolve.imaging.io import atomic_output


def _uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "?"


def smooth_images(folder, count=16, size=160):
    """``count`` smooth ``size``-px images: the paper's Gaussian and Rosenbrock, shifted, at 2 and 3 bits.

    Smooth content (few contacts, ``pdas``) keeps the batch within minutes on a
    shared 2-core machine; 160x160 photograph crops at 4 bits took 30 to 205 s
    each there (``pcg`` on texture), see the results file.
    """
    from PIL import Image

    from qpsolve.imaging.data import gaussian, rosenbrock, to_uint8, truncate_bits

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        base = gaussian(size) if k % 2 == 0 else rosenbrock(size)
        img = truncate_bits(to_uint8(np.roll(base, (7 * k) % size, axis=k % 2)), 2 + (k // 2) % 2)
        p = folder / f"{'gaussian' if k % 2 == 0 else 'rosenbrock'}_{k:02d}.png"
        Image.fromarray(img).save(p)
        paths.append(p)
    return paths


def _client(workers, scheduler):
    import logging

    from distributed import Client, LocalCluster

    if scheduler:
        return None, Client(scheduler)
    lc = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR)
    return lc, Client(lc)


def _warm(c):
    """One tiny solve on every worker, so imports and first-call costs are not timed."""
    import qpsolve as qs  # noqa: F401

    def tiny():
        import qpsolve

        img = ((np.add.outer(np.arange(24), np.arange(24)) * 5).astype(np.uint8) >> 6) << 6
        qpsolve.dequantize(img, bits=2)
        return os.getpid()

    c.run(tiny)


def bench_batch(files, workers, repeat, scheduler, tmp):
    from qpsolve.distributed import dequantize_batch

    lc, c = _client(workers, scheduler)
    try:
        _warm(c)
        runs = []
        for r in range(repeat):
            rep = dequantize_batch(files, Path(tmp) / f"out-{workers}-{r}", client=c)
            if not rep.ok:
                raise RuntimeError(f"batch failed:\n{rep.table()}")
            runs.append({"seconds": rep.seconds, "images_per_min": rep.images_per_minute(),
                         "peak_rss_mb": max(f.peak_rss_mb for f in rep.files),
                         "certified": all(f.certified for f in rep.files),
                         "task_seconds": sorted(f.seconds for f in rep.files)})
        return {"workers": len(c.nthreads()), "runs": runs,
                "median_images_per_min": statistics.median(r["images_per_min"] for r in runs),
                "median_seconds": statistics.median(r["seconds"] for r in runs)}
    finally:
        c.close()
        if lc is not None:
            lc.close()


def memory_child(count, size, workers, tmp):
    """One batch of ``count`` small images on a fresh embedded cluster, in this (fresh) process.

    Returns the client process's peak RSS (it also runs the LocalCluster's
    scheduler) before the cluster started and after the batch, and the largest
    worker peak RSS.
    """
    import resource

    from qpsolve.distributed import dequantize_batch

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    base = smooth_images(Path(tmp) / "base", count=min(count, 16), size=size)
    files = []
    for k in range(count):
        q = Path(tmp) / "many" / f"{k:04d}_{base[k % len(base)].name}"
        q.parent.mkdir(exist_ok=True)
        q.write_bytes(base[k % len(base)].read_bytes())
        files.append(q)
    rep = dequantize_batch(files, Path(tmp) / "out", workers=workers)
    return {"files": count, "size": size, "workers": rep.workers, "ok": rep.ok, "seconds": rep.seconds,
            "client_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "client_rss_before_mb": before,
            "worker_peak_rss_mb": max(f.peak_rss_mb for f in rep.files if f.peak_rss_mb is not None)}


def bench_memory(counts, size, workers, scheduler):
    """:func:`memory_child` for each count, each in its own Python process (peaks are per process)."""
    import sys

    if scheduler:
        raise ValueError("the memory part measures embedded clusters; run it without --scheduler")
    out = []
    for n in counts:
        with tempfile.TemporaryDirectory(prefix="qpsolve-mem-") as tmp:
            code = ("import json, sys; from benchmarks.distributed import memory_child; "
                    f"print(json.dumps(memory_child({n}, {size}, {workers}, {tmp!r})))")
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            out.append(json.loads(r.stdout.strip().splitlines()[-1]))
            print("memory:", out[-1], flush=True)
    return out


def bench_video(frames, height, width, bits, temporal, workers, scheduler, tmp, speed=0.5, temporal_frames=None,
                plain=False):
    """Both modes on a synthetic clip; ``temporal_frames`` cuts the clip of the temporal run shorter.

    Flicker and PSNR are over the frames both runs have.  ``plain`` also runs
    both modes with ``adaptive=False`` (the plates without the blend with the bin centres).
    """
    from qpsolve.distributed import dequantize_video, flicker
    from qpsolve.distributed.clips import moving_scene, quantize, write_clip
    from qpsolve.distributed.video import psnr, read_planes

    tf = frames if temporal_frames is None else min(frames, temporal_frames)
    truth = moving_scene(frames, height, width, colour=True, speed=speed)
    q = quantize(truth, bits)
    src = write_clip(Path(tmp) / f"clip{height}.mkv", q)
    src_t = src if tf == frames else write_clip(Path(tmp) / f"clip{height}-t.mkv", [p[:tf] for p in q])
    lc, c = _client(workers, scheduler)
    res = {"n_frames": frames, "temporal_frames": tf, "size": f"{width}x{height}", "bits": bits, "speed": speed}
    y_truth = truth[0][:tf]
    try:
        _warm(c)
        runs = [("frames", None, src, {}), ("temporal", temporal, src_t, {})]
        if plain:
            runs += [("frames_plain", None, src, {"adaptive": False}),
                     ("temporal_plain", temporal, src_t, {"adaptive": False})]
        for mode, k, clip, extra in runs:
            out = Path(tmp) / f"v{height}-{mode}.mkv"
            rep = dequantize_video(clip, out, bits=bits, temporal=k, client=c, overwrite=True, **extra)
            _, planes, _ = read_planes(out)
            y = planes[0][:tf] / (65535 / 255)
            res[mode] = {"fps": rep.fps, "seconds": rep.seconds, "frames": rep.frames, "uncertified": rep.uncertified,
                         "solves": rep.solves, "peak_rss_mb": rep.peak_rss_mb, "report": str(rep),
                         "chunks": rep.chunk_reports, "flicker": flicker(y, y_truth), "psnr": psnr(y, y_truth, 255),
                         "psnr_planes": [psnr(p[:tf] / (65535 / 255), t[:tf], 255) for p, t in zip(planes, truth)],
                         "flicker_planes": [flicker(p[:tf] / (65535 / 255), t[:tf]) for p, t in zip(planes, truth)]}
            print(f"video {width}x{height} {mode}:", rep, flush=True)
        mid = q[0][:tf] + 2.0 ** (8 - bits) / 2
        half = 2.0 ** (8 - bits) / 2
        res["midpoint"] = {"flicker": flicker(mid, y_truth), "psnr": psnr(mid, y_truth, 255),
                           "psnr_planes": [psnr(p[:tf] + half, t[:tf], 255) for p, t in zip(q, truth)],
                           "flicker_planes": [flicker(p[:tf] + half, t[:tf]) for p, t in zip(q, truth)]}
        res["workers"] = len(c.nthreads())
        res["temporal_k"] = temporal
    finally:
        c.close()
        if lc is not None:
            lc.close()
    return res


def write_results(out_dir, res):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_output(out_dir / "distributed.json") as tmp:
        Path(tmp).write_text(json.dumps(res, indent=1, default=str))
    lines = [
        "# Batches and video on Dask",
        "",
        f"`{res['command']}`, {res['started']} to {res['finished']} UTC. The machine has 2 cores and was "
        f"**shared with other jobs** while this ran (`uptime` before: `{res['uptime_before']}`; after: "
        f"`{res['uptime_after']}`), so the figures are lower bounds and noisy.",
        "",
    ]
    runs = [(k, res[k]["run"]) for k in ("batch", "memory", "vsmall", "v480") if isinstance(res.get(k), dict)
            and "run" in res[k]] + [("memory", m[0]["run"]) for m in [res.get("memory")] if isinstance(m, list)
                                    and m and "run" in m[0]]
    if runs:
        lines += ["Each part's own run (parts not run again keep their results):", ""]
        lines += [f"* {k}: `{r['command']}`, {r['started']} UTC (`uptime`: `{r['uptime']}`)" for k, r in runs]
        lines.append("")
    if "batch" in res:
        lines += _batch_lines(res["batch"])
    m = res.get("memory")
    if m:
        lines += [
            "## Memory against the folder's size",
            "",
            f"Batches of {m[0]['size']}x{m[0]['size']} smooth images (copies of the batch images at that size), 2 "
            "process workers of a fresh embedded LocalCluster, each batch in a fresh Python process. Client: peak "
            "RSS (`ru_maxrss`) of the process that calls `dequantize_batch` (it also runs the LocalCluster's "
            "scheduler), before the cluster started and after the batch. Worker: the largest peak RSS of any "
            "worker. The client keeps at most 2 tasks per worker in flight and one small report per file.",
            "",
            "| files | client peak RSS before / after | worker peak RSS | batch seconds | all written |",
            "|---|---|---|---|---|",
        ]
        for r in m:
            lines.append(f"| {r['files']} | {r['client_rss_before_mb']:.0f} / **{r['client_peak_rss_mb']:.0f} MB** | "
                         f"**{r['worker_peak_rss_mb']:.0f} MB** | {r['seconds']:.1f} | {'yes' if r['ok'] else 'NO'} |")
        lines.append("")
    lines += ["## Video", ""]
    for key in ("v480", "vsmall"):
        v = res.get(key)
        if not v:
            continue
        tf = v.get("temporal_frames", v["n_frames"])
        cut = "" if tf == v["n_frames"] else (f" (the temporal run on the first {tf}; flicker and PSNR over those "
                                              f"{tf} frames for every row)")
        lines += [f"{v['size']}, {v['n_frames']} frames{cut}, yuv420p truncated to {v['bits']} bits, a smooth scene "
                  f"drifting {v['speed']} px per frame; {v['workers']} worker(s); flicker and PSNR on the Y plane "
                  f"against the truth (8-bit units).", "",
                  "| method | frames / s | flicker (MAE of frame differences) | PSNR dB | uncertified solves | "
                  "worker peak RSS |", "|---|---|---|---|---|---|",
                  f"| bin midpoint | - | {v['midpoint']['flicker']:.3f} | {v['midpoint']['psnr']:.2f} | - | - |"]
        for mode, label in (("frames", "frame by frame"), ("temporal", f"--temporal {v['temporal_k']}"),
                            ("frames_plain", "frame by frame, `adaptive=False`"),
                            ("temporal_plain", f"--temporal {v['temporal_k']}, `adaptive=False`")):
            if mode not in v:
                continue
            r = v[mode]
            lines.append(f"| {label} | **{r['fps']:.3f}** | {r['flicker']:.3f} | {r['psnr']:.2f} | "
                         f"{r['uncertified']} of {r['solves']} | {r['peak_rss_mb']:.0f} MB |")
        lines.append("")
        if "psnr_planes" in v["frames"]:
            lines += ["PSNR dB / flicker of the Y, U, V planes (U and V at half size):", ""]
            for mode, label in (("midpoint", "bin midpoint"), ("frames", "frame by frame"),
                                ("temporal", f"--temporal {v['temporal_k']}"),
                                ("frames_plain", "frame by frame, adaptive=False"),
                                ("temporal_plain", f"--temporal {v['temporal_k']}, adaptive=False")):
                if mode not in v:
                    continue
                r = v[mode]
                fl = r.get("flicker_planes")
                lines.append(f"* {label}: " + ", ".join(
                    f"{n} {p:.2f}" + ("" if fl is None else f" / {f:.3f}")
                    for n, p, f in zip("YUV", r["psnr_planes"], fl or [None] * 3)))
            lines.append("")
    part = res.get("v480_partial")
    if not res.get("v480") and part:
        lines += [f"480p, partial: {part['note']}", ""]
    elif not res.get("v480"):
        lines += ["480p (854x480, `--parts 480p`) was not run: see README, 'Batches and video on Dask'.", ""]
    lines += ["Frames per second count decoding, solving, blending and FFV1 encoding (wall time of the call).", ""]
    with atomic_output(out_dir / "distributed.md") as tmp:
        Path(tmp).write_text("\n".join(lines))
    _plot(out_dir, res)


def _batch_lines(batch):
    b1, b2 = batch.get("1"), batch.get("2")
    lines = [
        "## Batch throughput",
        "",
        f"Sixteen 160x160 smooth images (the paper's Gaussian and Rosenbrock, shifted, at 2 and 3 bits), "
        f"`dequantize_batch` with the defaults (adaptive, `solver='auto'`), 16-bit PNG out; median of "
        f"{len((b1 or b2)['runs'])} runs on one embedded LocalCluster per worker count (start-up and first imports "
        f"not timed).",
        "",
        "| workers | images / min (median) | runs (images / min) | batch seconds (median) | all certified |",
        "|---|---|---|---|---|",
    ]
    for b in (b1, b2):
        if b is None:
            continue
        runs = ", ".join(f"{r['images_per_min']:.1f}" for r in b["runs"])
        cert = all(r["certified"] for r in b["runs"])
        lines.append(f"| {b['workers']} | **{b['median_images_per_min']:.1f}** | {runs} | {b['median_seconds']:.1f} "
                     f"| {'yes' if cert else 'NO'} |")
    if b1 and b2:
        ratio = b2["median_images_per_min"] / b1["median_images_per_min"]
        lines += ["", f"2 workers / 1 worker: **{ratio:.2f}x** (target 1.5x: {'met' if ratio >= 1.5 else 'NOT met'}).",
                  ""]
        task = b1["runs"][0]["task_seconds"]
        lines += [f"One image takes {task[0]:.2f} to {task[-1]:.2f} s in a task (1 worker, first run).", ""]
    return lines


def _plot(out_dir, res):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(12, 3.6))
    b = res.get("batch", {})
    ax[0].bar(["1 worker", "2 workers"], [b.get(k, {}).get("median_images_per_min", 0) for k in ("1", "2")],
              color=["#888", "#37a"])
    ax[0].set_ylabel("images / min")
    ax[0].set_title("batch, 16 smooth 160^2 images")
    v = res.get("v480") or res.get("vsmall")  # the small clip when 480p was not run
    if v:
        ax[1].bar(["frame by frame", f"temporal {v['temporal_k']}"], [v["frames"]["fps"], v["temporal"]["fps"]],
                  color=["#888", "#37a"])
        ax[1].set_ylabel("frames / s")
        ax[1].set_title(f"video {v['size']}")
    vs = res.get("vsmall") or v
    if vs:
        labels = ["midpoint", "frame by frame", f"temporal {vs['temporal_k']}"]
        ax[2].bar(labels, [vs["midpoint"]["flicker"], vs["frames"]["flicker"], vs["temporal"]["flicker"]],
                  color=["#c44", "#888", "#37a"])
        ax[2].set_ylabel("flicker (8-bit units)")
        ax[2].set_title(f"flicker, {vs['size']}, {vs['bits']} bits")
    fig.tight_layout()
    with atomic_output(out_dir / "distributed.png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def _save(out, res):
    """Results so far (a long run that is stopped keeps its finished parts)."""
    res = dict(res, finished=time.strftime("%Y-%m-%d %H:%M", time.gmtime()), uptime_after=_uptime())
    write_results(out, res)


def main(argv=None):
    import sys

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/results/distributed")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scheduler", default=None, help="run on this Dask scheduler instead of embedded clusters")
    ap.add_argument("--video-frames", type=int, default=8, help="frames of the 480p clip (frame by frame)")
    ap.add_argument("--temporal", type=int, default=3, help="K of the 480p temporal run")
    ap.add_argument("--temporal-frames", type=int, default=4, help="frames of the 480p temporal run")
    ap.add_argument("--speed", type=float, default=2.0, help="motion of the 480p scene, pixels per frame")
    ap.add_argument("--plain", action="store_true",
                    help="also run both video modes with adaptive=False (the plates without the blend)")
    ap.add_argument("--memory-counts", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--memory-size", type=int, default=64, help="side of the memory part's images")
    ap.add_argument("--parts", nargs="+", default=["batch", "memory", "small", "480p"],
                    choices=["batch", "memory", "small", "480p"],
                    help="what to run; results of parts not run are kept from an earlier distributed.json")
    args = ap.parse_args(argv)
    res = {"command": "python -m benchmarks.distributed " + " ".join(sys.argv[1:] if argv is None else argv),
           "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "uptime_before": _uptime()}
    old = Path(args.out) / "distributed.json"
    if old.is_file():  # parts not run now keep their earlier results
        prev = json.loads(old.read_text())
        for key in ("batch", "memory", "vsmall", "v480"):
            if key in prev:
                res[key] = prev[key]
    stamp = {"command": res["command"], "started": res["started"], "uptime": res["uptime_before"]}
    with tempfile.TemporaryDirectory(prefix="qpsolve-bench-") as tmp:
        files = smooth_images(Path(tmp) / "images")
        if "batch" in args.parts:
            res["batch"] = {}
            for w in (1, 2):
                res["batch"][str(w)] = bench_batch(files, w, args.repeat, args.scheduler, tmp)
                print(f"batch, {w} worker(s): {res['batch'][str(w)]['median_images_per_min']:.1f} images/min",
                      flush=True)
            res["batch"]["run"] = stamp
            _save(args.out, res)
        if "memory" in args.parts:
            res["memory"] = bench_memory(args.memory_counts, args.memory_size, 2, args.scheduler)
            res["memory"][0]["run"] = stamp
            _save(args.out, res)
        if "small" in args.parts:
            res["vsmall"] = bench_video(16, 48, 80, 3, 6, 2, args.scheduler, tmp, speed=0.3, plain=args.plain)
            res["vsmall"]["run"] = stamp
            _save(args.out, res)
        if "480p" in args.parts:
            res["v480"] = bench_video(args.video_frames, 480, 854, 3, args.temporal, 2, args.scheduler, tmp,
                                      temporal_frames=args.temporal_frames, speed=args.speed, plain=args.plain)
            res["v480"]["run"] = stamp
            _save(args.out, res)
    res["finished"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    res["uptime_after"] = _uptime()
    write_results(args.out, res)
    print(f"wrote {args.out}/distributed.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
