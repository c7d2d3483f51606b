"""One benchmark cell in a fresh interpreter: the child's run and its peak memory, the parent's watch.

The child builds the problem, solves it through :func:`qpsolve.solve` and prints
its record as one marked JSON line; the parent kills it after its time limit plus
a margin, so a crash or a runaway cannot take the benchmark down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .problems import build_problem

__all__ = ["run_child", "child_main"]

_MARK = "@@QPSOLVE-BENCH@@"


def _peak_mb():
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes there, kB on Linux
        return peak / 2**20
    try:  # VmHWM is the same number on Linux; prefer it when readable
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return peak / 1024.0


def _child(spec):
    """Run one benchmark cell in this (fresh) process and return its record."""
    import qpsolve as qs
    from qpsolve.solvers import backend

    rec = {"baseline_mb": _peak_mb()}
    t0 = time.perf_counter()
    prob = build_problem(spec["problem"], spec["size"])
    rec["build_time"] = time.perf_counter() - t0
    why = None if spec["solver"] == "auto" else backend(spec["solver"]).supports(prob)
    if why is not None:
        rec.update(outcome="unsupported", reason=str(why))
        return rec
    import resource

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    res = qs.solve(prob, solver=spec["solver"], tol=spec["tol"], time_limit=spec["time_limit"])
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    rec.update(
        outcome="ran",
        solve_time=float(res.solve_time),
        # user + system seconds of the solve: on a shared machine wall seconds grow with the load,
        # CPU seconds much less (the 1024^2 / 512^2 ratio of issue #20 read 4.5x and 8.5x, same code)
        solve_cpu=(r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
        iterations=int(res.iterations),
        objective=float(res.objective),
        relative_gap=float(res.kkt.relative_gap),
        gap=float(res.kkt.gap),
        projected_gradient=float(res.kkt.projected_gradient),
        status=str(res.status),
        backend=str(res.solver),
        success=bool(res.success),
        message=str(res.message),
    )
    rec["peak_mb"] = _peak_mb()
    return rec


def child_main():
    """Entry point of the subprocess: spec as JSON in ``argv[1]``, record as a marked JSON line."""
    spec = json.loads(sys.argv[1])
    try:
        rec = _child(spec)
    except Exception as exc:  # reported, not raised: the parent records it
        rec = {"outcome": "error", "reason": f"{type(exc).__name__}: {exc}", "peak_mb": _peak_mb()}
    sys.stdout.flush()
    print(_MARK + json.dumps(rec), flush=True)


def run_child(solver, problem, size, *, time_limit, tol, margin=None):
    """Run one cell in a fresh interpreter and return its record.

    Parameters
    ----------
    solver, problem : str
        Registry name and :data:`PROBLEMS` key.
    size : int
        Image side.
    time_limit : float
        Passed to :func:`qpsolve.solve`; the subprocess is killed after
        ``time_limit + margin`` seconds.
    tol : float
        Certificate tolerance.
    margin : float, optional
        Extra seconds for start-up, problem building and the certificate
        (default ``30 + 0.25 * time_limit``).

    Returns
    -------
    dict
        ``outcome`` is ``'ran'``, ``'unsupported'``, ``'error'`` (exception in
        the child), ``'crashed'`` (no record came back) or ``'timeout'``.
    """
    if margin is None:
        margin = 30.0 + 0.25 * time_limit
    spec = {"solver": solver, "problem": problem, "size": int(size), "time_limit": float(time_limit),
            "tol": float(tol)}
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MPLBACKEND", "Agg")
    pkg_root = str(Path(__file__).resolve().parents[2])  # the folder that holds the qpsolve package
    env["PYTHONPATH"] = pkg_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-c", "from qpsolve.bench.child import child_main; child_main()", json.dumps(spec)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=time_limit + margin)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the child's own session: it and anything it spawned
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.communicate()
        return {"outcome": "timeout", "wall_time": time.perf_counter() - t0,
                "reason": f"killed after {time_limit + margin:.0f} s (time limit {time_limit:g} s + margin)"}
    wall = time.perf_counter() - t0
    for line in reversed(out.splitlines()):
        if line.startswith(_MARK):
            rec = json.loads(line[len(_MARK):])
            rec["wall_time"] = wall
            return rec
    tail = (err.strip().splitlines() or ["no output"])[-1]
    return {"outcome": "crashed", "wall_time": wall,
            "reason": f"exit code {proc.returncode}: {tail[:200]}"}
