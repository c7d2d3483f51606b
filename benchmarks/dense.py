"""``python -m benchmarks.dense``: photographs with dense contact sets, whole and certified.

Each case runs in a fresh subprocess (``--child CASE``), which reports its wall
and CPU seconds (``resource.getrusage``: the machine is shared, so CPU seconds
are the fairer figure), its peak resident memory, the solver ``auto`` chose,
and whether every channel was certified.  The parent repeats each case (with
``--interleave`` in rounds over the cases, :func:`run_order`), takes
medians and writes ``dense.md`` (table), ``dense.json`` and ``dense.png``
(CPU seconds against pixels) under ``--out``.

Cases (all ``solver="auto"``, the default tolerance):

- ``camera-B``: ``skimage.data.camera()`` (512²) truncated to ``B`` bits, the
  plain plate (``image_problem``: biharmonic, ``odd``);
- ``astronaut-B`` / ``coffee-B`` / ``chelsea-B``: the RGB photographs at full
  size, each channel its own plain-plate problem;
- ``...-B-default``: the same photograph through ``qs.dequantize`` with all
  defaults, ``channel_axis=-1`` for colour, timed as a user waits for it: the
  whole call (the default solves the plain plate's problem, then blends it with
  the bin centres; the *solve s* column is the solves' own wall seconds summed
  over the channels, the rest of the row's time is the blend and the
  calibration around it; colour channels solved side by side overlap, so
  their sum can exceed the row's wall seconds);
- ``...-B-tileT``: the same photograph through ``qs.dequantize`` with all
  defaults but ``tile=T`` (overlapping ``T``-pixel tiles, each its own
  certified QP; the path for memory limits), timed the same way; ``--cases
  tiled`` runs :data:`TILED_CASES`;
- ``textured-S``: camera upscaled (bilinear) to ``S²``, 3 bits, plain plate;
- ``cli-coffee-12mp``: coffee upscaled (bilinear) to 4000×3000 RGB, 4 bits, written
  as a PNG and run as a user runs it, ``python -m qpsolve dequantize IN OUT --bits 4
  --verbose`` (all defaults) in its own process: wall, CPU and peak memory are that
  process's, *certified* is its exit status 0 (the command writes nothing unless every
  channel is certified); the solver column lists each channel's ``solver`` line.  The
  verbose lines give each channel's split (:func:`channel_splits`: the photo pipeline
  before the solve, ``auto``'s ``pdas`` probe until its hand-over, the whole solve, the
  blend), listed under the table; a run that reaches ``--timeout`` is stopped (Ctrl-C)
  30 s before it and reported with the splits it got to.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

PHOTOS = ("camera", "astronaut", "coffee", "chelsea")
DEFAULT_CASES = (
    "camera-3", "camera-4", "astronaut-3", "astronaut-4", "coffee-3", "coffee-4", "chelsea-3", "chelsea-4",
    "camera-3-default", "camera-4-default", "astronaut-3-default", "astronaut-4-default",
    "coffee-3-default", "coffee-4-default", "chelsea-3-default", "chelsea-4-default",
    "textured-1024", "textured-2048", "cli-coffee-12mp",
)
#: the tiled cases (``...-tileT``), run with ``--cases tiled`` (or named one by one)
TILED_CASES = ("camera-3-tile64", "camera-4-tile64", "coffee-3-tile64", "astronaut-4-tile64", "camera-2-tile64",
               "coffee-2-tile64")
#: the CLI case: (rows, columns) of the upscaled photograph and its bit depth
CLI_CASES = {"cli-coffee-12mp": ("coffee", (3000, 4000), 4)}
#: seconds before ``--timeout`` at which a CLI case interrupts its command (it then reports its splits)
CLI_MARGIN = 30.0


def tile_of(name):
    """The tile side of a ``...-tileT`` case, else ``None``.

    >>> tile_of("camera-3-tile64"), tile_of("camera-3-default")
    (64, None)
    """
    last = name.rsplit("-", 1)[-1]
    return int(last[4:]) if last.startswith("tile") and last[4:].isdigit() else None


def _image(name):
    import numpy as np
    import skimage.data
    from skimage.transform import resize

    if name.startswith("textured-"):
        size = int(name.split("-")[1])
        img = resize(skimage.data.camera().astype(np.float64), (size, size), order=1, anti_aliasing=False,
                     preserve_range=True)
        return np.clip(np.rint(img), 0, 255).astype(np.uint8), 3
    photo, bits = name.split("-")[:2]
    return getattr(skimage.data, photo)(), int(bits)


def cli_input(name, path):
    """Write the input PNG of CLI case ``name`` to ``path``; returns ``(shape, bits)``."""
    import numpy as np
    import skimage.data
    import skimage.io
    from skimage.transform import resize

    from qpsolve.imaging.data import truncate_bits

    photo, size, bits = CLI_CASES[name]
    img = getattr(skimage.data, photo)().astype(np.float64)
    big = resize(img, size + img.shape[2:], order=1, anti_aliasing=False, preserve_range=True)
    q = truncate_bits(np.clip(np.rint(big), 0, 255).astype(np.uint8), bits)
    skimage.io.imsave(path, q, check_contrast=False)
    return q.shape, bits


#: channels solved side by side print their lines prefixed ``[channel c]`` (qpsolve.imaging.channels)
_LABEL = re.compile(r"^\[channel (\d+)\] (.*)$")
_SPLIT = re.compile(r"^\[photo\] channel (\d+): (envelopes and weights|envelopes|solved|blended|restored)\b"
                    r".* in ([0-9.]+) s$")
_PROBE = re.compile(r"^\[pdas\] hands over to \S+ after ([0-9.]+) s")


def channel_splits(lines):
    """Per-channel wall seconds from the verbose lines of ``qpsolve dequantize``.

    Returns one dict per channel that got as far as its pipeline, with
    ``pipeline`` (the envelopes, and the blend weights unless the blend makes
    them), ``probe`` (``pdas`` until it handed over; 0 without a hand-over),
    ``solve`` (the whole solve, probe included) and ``blend`` (or the restore
    when nothing is blended), each present once its line was printed.  Channels solved
    side by side prefix their lines ``[channel c]``; an unlabelled hand-over
    line belongs to the channel that printed last.

    Examples
    --------
    >>> channel_splits(["[photo] channel 0: envelopes and weights in 20.1 s",
    ...                 "[pdas] hands over to tnnmg after 9.5 s: too_many_active ...",
    ...                 "[photo] channel 0: solved (optimal) in 150.0 s"])
    [{'pipeline': 20.1, 'probe': 9.5, 'solve': 150.0}]
    >>> channel_splits(["[channel 0] [photo] channel 0: envelopes and weights in 20.1 s",
    ...                 "[channel 1] [photo] channel 1: envelopes and weights in 19.0 s",
    ...                 "[channel 0] [pdas] hands over to tnnmg after 9.5 s: too_many_active ...",
    ...                 "[channel 1] [pdas] hands over to tnnmg after 8.0 s: too_many_active ..."])
    [{'pipeline': 20.1, 'probe': 9.5}, {'pipeline': 19.0, 'probe': 8.0}]
    """
    out = []
    last = None
    for line in lines:
        line = line.strip()
        label = _LABEL.match(line)
        if label:
            last, line = int(label.group(1)), label.group(2)
        m = _SPLIT.match(line)
        if m:
            c, what, sec = int(m.group(1)), m.group(2), float(m.group(3))
            while len(out) <= c:
                out.append({})
            key = {"envelopes and weights": "pipeline", "envelopes": "pipeline", "solved": "solve",
                   "blended": "blend", "restored": "blend"}[what]
            out[c][key] = sec
            if key == "solve":
                out[c].setdefault("probe", 0.0)
            if not label:
                last = c
            continue
        m = _PROBE.match(line)
        if m and last is not None and last < len(out) and "solve" not in out[last]:
            out[last]["probe"] = float(m.group(1))
    return out


def cli_child(name, limit=None):
    """Run CLI case ``name`` through ``python -m qpsolve dequantize`` in a fresh process; print one JSON line.

    With ``limit`` (seconds) the command is interrupted (SIGINT, as Ctrl-C) when it runs longer.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.png"), os.path.join(tmp, "out.png")
        shape, bits = cli_input(name, src)
        cmd = [sys.executable, "-m", "qpsolve", "dequantize", src, dst, "--bits", str(bits), "--verbose"]
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        # SIGINT back to its default in the command: a benchmark started in the background (``nohup ... &``)
        # runs with SIGINT ignored, which its children inherit, and the limit's Ctrl-C was then lost
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        stopped = False
        try:
            stdout, stderr = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)  # the command's own Ctrl-C path: nothing written
            stdout, stderr = proc.communicate()
            stopped = True
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wrote = os.path.exists(dst)
    p = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    lines = p.stdout.splitlines()
    solvers = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("solver ")]
    statuses = [ln.split(":", 1)[1].split("(")[0].strip() for ln in lines if ln.startswith("status ")]
    gaps = [float(m.group(1)) for ln in lines if ln.startswith("certificate")
            for m in [re.search(r"\(relative ([-+0-9.eE]+)\)", ln)] if m]
    out = {
        "case": name, "shape": list(shape), "pixels": int(shape[0] * shape[1]), "bits": bits,
        "wall": wall, "cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
        "peak_mb": r1.ru_maxrss / 1024.0, "certified": p.returncode == 0 and wrote,
        "statuses": ([f"stopped after {wall:.0f} s"] if stopped else [])
        + (statuses or [f"exit {p.returncode}: " + ((p.stderr.strip().splitlines() or [""])[-1])]),
        "channels": channel_splits(lines), "last_line": lines[-1] if lines else "",
        "rel_gap": max(gaps) if gaps else float("nan"), "solve_wall": None,
        "solvers": sorted(set(solvers)), "fallback": [], "command": " ".join(cmd[1:3] + ["IN", "OUT"] + cmd[5:]),
    }
    print(json.dumps(out), flush=True)


def child(name, limit=None, channel_jobs=None):
    """Solve one case; print one JSON line (``limit``: seconds a CLI case may run, see :func:`cli_child`;
    ``channel_jobs``: the default cases' colour channels solved at once, ``None`` for the default)."""
    import numpy as np

    if name in CLI_CASES:
        return cli_child(name, limit)

    import qpsolve as qs
    from qpsolve.imaging.data import truncate_bits

    from qpsolve.linalg.rowpool import threads

    img, bits = _image(name)
    q = truncate_bits(img, bits)
    tile = tile_of(name)
    dequantize = name.endswith("-default") or tile is not None
    extra, ch_jobs = ({} if tile is None else {"tile": tile}), 1
    if dequantize and q.ndim == 3:
        # RGB photographs: one plate per channel (without channel_axis a colour array is a 3-D volume),
        # solved side by side as the default does (recorded: earlier rows solved them one at a time)
        from qpsolve.imaging.channels import channel_jobs as decide

        # tiles take their channels one at a time (channel_jobs refuses more with tile=): --channel-jobs is
        # for the untiled cases
        ch_jobs = decide(None if tile else channel_jobs, channels=q.shape[2], pixels=q.shape[0] * q.shape[1],
                         tile=tile)
        extra.update(channel_axis=-1, channel_jobs=ch_jobs)
    load0 = os.getloadavg()[0]
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if dequantize:
        _, res = qs.dequantize(q, bits=bits, return_result=True, **extra)
        results = res if isinstance(res, list) else [res]
    else:
        planes = [q] if q.ndim == 2 else [q[..., c] for c in range(q.shape[2])]
        results = [qs.solve(qs.image_problem(p, bits=bits)) for p in planes]
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    solvers = sorted({f"{r.solver} -> {r.info['fallback']['solver']}" if isinstance(r.info.get("fallback"), dict)
                      else str(r.solver) for r in results})
    out = {
        "case": name, "shape": list(img.shape), "pixels": int(np.prod(img.shape[:2])), "bits": bits,
        "wall": wall, "cpu": cpu, "peak_mb": r1.ru_maxrss / 1024.0,
        "certified": all(str(r.status) == "optimal" for r in results),
        "statuses": [str(r.status) for r in results],
        "rel_gap": max(float(r.kkt.relative_gap) for r in results),
        "solve_wall": sum(float(r.solve_time) for r in {id(r): r for r in results}.values()),
        "solvers": solvers, "fallback": [str(r.info.get("fallback", "")) for r in results],
        "threads": threads(), "channel_jobs": ch_jobs, "load": [load0, os.getloadavg()[0]],
    }
    print(json.dumps(out), flush=True)


def _run(name, timeout, channel_jobs=None):
    load0 = os.getloadavg()[0]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    extra = [] if channel_jobs is None else ["--channel-jobs", str(channel_jobs)]
    # its own process group, so that a timeout also ends the CLI process a CLI case starts
    p = subprocess.Popen([sys.executable, "-m", "benchmarks.dense", "--child", name, "--timeout", str(timeout), *extra],
                         stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return {"case": name, "error": f"timed out after {timeout:.0f} s"}
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            row = json.loads(line)
            row.setdefault("load", [load0, os.getloadavg()[0]])
            return row
    return {"case": name, "error": (stderr.strip().splitlines() or ["no output"])[-1]}


def _median(rows, key):
    vals = [r[key] for r in rows if key in r]
    return statistics.median(vals) if vals else None


def _fmt(v):
    return "" if v is None else f"{v:.1f}"


def _threads_of(rows):
    """The grid kernels' threads, and ``× C ch`` when C colour channels were solved side by side."""
    def one(r):
        ch = r.get("channel_jobs", 1)
        return f"{r.get('threads', '-')}" + (f" × {ch} ch" if ch and ch > 1 else "")
    return "/".join(sorted({one(r) for r in rows}))


def _load_of(rows):
    loads = [r["load"] for r in rows if "load" in r]
    return f"{min(a for a, _ in loads):.1f} -> {max(b for _, b in loads):.1f}" if loads else "-"


#: a 1-minute load average above this (on the runs' own records) means the machine was shared
SHARED_LOAD = 1.5


def provenance(results, command):
    """Header lines saying which commands made the rows, when, and how loaded the machine was.

    Every row carries its own ``run`` record (command, UTC time) and ``load``
    (:func:`_run`, :func:`child`), so a table merged from several commands
    (``--merge``) or grown case by case names each of them, and says the
    machine was shared only when the recorded load says so.  Rows made
    before these records existed are counted as "not recorded".

    Examples
    --------
    >>> rows = {"a": [{"run": {"command": "python -m benchmarks.dense --cases a", "date": "2026-12-06 22:00 UTC"},
    ...                "load": [0.4, 2.5]}]}
    >>> for line in provenance(rows, "python -m benchmarks.dense --cases a"):
    ...     print(line)
    Commands (date, cases):  
    - `python -m benchmarks.dense --cases a` (2026-12-06 22:00 UTC: a)  
    Load: 1-minute load average 0.4-2.5 while the runs ran (2 cores): **shared**, wall seconds are inflated; CPU seconds (user + system of the solving process) are the fairer figure.  
    """
    made, dates, loads, unrecorded = {}, {}, [], 0
    for name, rows in results.items():
        for r in rows:
            run = r.get("run")
            if run is None:
                unrecorded += 1
            else:
                made.setdefault(run["command"], []).append(name)
                dates.setdefault(run["command"], set()).add(run["date"])
            loads.extend(r.get("load") or [])
    lines = ["Commands (date, cases):  "]
    for cmd, names in made.items():
        span = sorted(dates[cmd])
        when = span[0] if len(span) == 1 else f"{span[0]} to {span[-1]}"
        lines.append(f"- `{cmd}` ({when}: {', '.join(dict.fromkeys(names))})  ")
    if unrecorded:
        lines.append(f"- {unrecorded} run(s) made before runs recorded their command; "
                     f"the last command writing this table: `{command}`  ")
    if loads:
        lo, hi = min(loads), max(loads)
        shared = (f"**shared**, wall seconds are inflated; CPU seconds (user + system of the solving process) "
                  f"are the fairer figure." if hi > SHARED_LOAD else "quiet.")
        lines.append(f"Load: 1-minute load average {lo:.1f}-{hi:.1f} while the runs ran "
                     f"({os.cpu_count()} cores): {shared}  ")
    else:
        lines.append("Load: not recorded.  ")
    return lines


def _interleaved(results):
    """Whether any row was made by a command with ``--interleave`` (each row records its command)."""
    return any(a.startswith("--inter") for rows in results.values() for r in rows
               for a in (r.get("run") or {}).get("command", "").split())


def report(results, out, command):
    out.mkdir(parents=True, exist_ok=True)
    (out / "dense.json").write_text(json.dumps(results, indent=1))
    lines = [
        "# Dense contact sets: photographs whole, certified", "",
        *provenance(results, command),
        f"Written: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ",
        f"Machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}.  ",
        "Every run is a fresh process; medians over the repeats listed"
        + (" (made in rounds over the cases by the commands with `--interleave`)" if _interleaved(results) else "")
        + ". `solver=\"auto\"`, tol 1e-8; "
        "*certified* means every channel's answer passed the shared certificate.", "",
        "*threads*: the grid kernels' threads (`QPSOLVE_THREADS`; `-` for runs made before it existed), times the "
        "colour channels solved side by side (`channel_jobs`, `× C ch`; one when not shown); *load*: the "
        "machine's 1-minute load average at the start and end of the runs (lowest start, highest end).", "",
        "| case | shape | bits | runs | CPU s (median) | wall s (median) | solve s (wall, summed over channels, median) | peak MB | certified "
        "| max rel. gap | solver | threads | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rows in results.items():
        ok = [r for r in rows if "error" not in r]
        if not ok:
            lines.append(f"| {name} | | | 0 | {rows[0].get('error', '')} | | | | | | | | |")
            continue
        shape = "×".join(str(s) for s in ok[0]["shape"])
        cert = "yes" if all(r["certified"] for r in ok) else "NO: " + ", ".join(ok[0]["statuses"])
        lines.append(
            f"| {name} | {shape} | {ok[0]['bits']} | {len(ok)} | {_median(ok, 'cpu'):.1f} | {_median(ok, 'wall'):.1f} "
            f"| {_fmt(_median(ok, 'solve_wall'))} "
            f"| {_median(ok, 'peak_mb'):.0f} | {cert} | {max(r['rel_gap'] for r in ok):.1e} | {', '.join(ok[0]['solvers'])} "
            f"| {_threads_of(ok)} | {_load_of(ok)} |")
    for name, rows in results.items():
        for k, r in enumerate(row for row in rows if row.get("channels")):
            parts = [f"channel {c}: " + ", ".join(f"{key} {ch[key]:.1f} s" for key in ("pipeline", "probe", "solve", "blend")
                                                 if key in ch) for c, ch in enumerate(r["channels"])]
            lines.append("")
            lines.append(f"{name}, run {k + 1} ({r['wall']:.0f} s wall, {r['cpu']:.0f} CPU s, {r['peak_mb']:.0f} MB"
                         f"{', ' + r['statuses'][0] if not r['certified'] else ''}), wall seconds per channel "
                         "(*probe*: `pdas` until its hand-over, inside *solve*): " + "; ".join(parts))
    (out / "dense.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for name, rows in results.items():
            ok = [r for r in rows if "error" not in r]
            if ok:
                px = ok[0]["pixels"] * (ok[0]["shape"][2] if len(ok[0]["shape"]) == 3 else 1)
                ax.loglog(px, _median(ok, "cpu"), "^" if tile_of(name) else "s" if "default" in name else "o")
                ax.annotate(name, (px, _median(ok, "cpu")), fontsize=6)
        ax.axhline(3.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("pixels (all channels)")
        ax.set_ylabel("CPU seconds (median)")
        ax.set_title("dense contact sets, solver='auto'")
        fig.tight_layout()
        fig.savefig(out / "dense.png", dpi=110)
    except ImportError:  # pragma: no cover - matplotlib is a test dependency
        pass


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.dense", description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    ap.add_argument("--out", default="benchmarks/results/dense")
    ap.add_argument("--channel-jobs", type=int, default=None,
                    help="colour channels of the *-default cases solved at once (default: the library's choice)")
    ap.add_argument("--interleave", action="store_true",
                    help="make the repeats in rounds over the cases (one run of each, then the next round), so "
                         "that every median, and a ratio of two, spans the same minutes of a machine whose speed "
                         "drifts")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="add the runs in these dense.json files "
                    "(made in parallel) to --out's and write the report; nothing is run")
    args = ap.parse_args(argv)
    if args.child:
        # a CLI case stops itself (Ctrl-C) before the parent's timeout, so its row keeps the splits it got to
        child(args.child, limit=max(args.timeout - CLI_MARGIN, 1.0), channel_jobs=args.channel_jobs)
        return 0
    if args.merge:
        out = Path(args.out)
        path = out / "dense.json"
        results = json.loads(path.read_text()) if path.exists() else {}
        for extra in args.merge:
            for name, rows in json.loads(Path(extra).read_text()).items():
                results[name] = results.get(name, []) + rows  # repeats run apart count together
        report(results, out, "python -m benchmarks.dense " + " ".join(argv if argv is not None else sys.argv[1:]))
        return 0
    if "tiled" in args.cases:
        args.cases = [c for c in args.cases if c != "tiled"] + list(TILED_CASES)
    for name in args.cases:
        if not (name.startswith("textured-") or name.split("-")[0] in PHOTOS or name in CLI_CASES):
            ap.error(f"--cases: unknown case {name!r}")
        if "-tile" in name and tile_of(name) is None:
            ap.error(f"--cases: {name!r}: a tiled case ends in -tileT with T the tile side in pixels, e.g. camera-3-tile64")
    out = Path(args.out)
    path = out / "dense.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    command = "python -m benchmarks.dense " + " ".join(argv if argv is not None else sys.argv[1:])
    for name, rows in run_order(args.cases, args.repeats, args.interleave):
        row = _run(name, args.timeout, args.channel_jobs)
        row["run"] = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        rows.append(row)
        print(json.dumps(row), flush=True)
        results[name] = rows
        report(results, out, command)  # after every run, so a partial run leaves its table
    return 0


def run_order(cases, repeats, interleave=False):
    """The runs to make, in order: ``(case, rows)`` pairs, ``rows`` the case's list that each run appends to.

    Case by case (every repeat of a case, then the next case), or with ``interleave`` in rounds (one run
    of every case, then the next round), so that the medians of two cases, and their ratio, span the same
    minutes of a machine whose speed drifts.  A case stops at its first run that ends in an error (a
    timeout will time out again); the others go on.

    Examples
    --------
    >>> [name for name, rows in run_order(["a", "b"], 2)]
    ['a', 'a', 'b', 'b']
    >>> [name for name, rows in run_order(["a", "b"], 2, interleave=True)]
    ['a', 'b', 'a', 'b']
    >>> order = []
    >>> for name, rows in run_order(["a", "b"], 2, interleave=True):
    ...     order.append(name)
    ...     rows.append({"error": "timed out"} if name == "a" else {})
    >>> order
    ['a', 'b', 'b']
    """
    table = {name: [] for name in dict.fromkeys(cases)}
    order = list(table) * repeats if interleave else [name for name in table for _ in range(repeats)]
    for name in order:
        rows = table[name]
        if any("error" in r for r in rows):
            continue  # an earlier run of this case ended in an error
        yield name, rows


if __name__ == "__main__":
    sys.exit(main())
