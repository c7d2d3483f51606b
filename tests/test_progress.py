import math
"""Progress reports of the solvers (``progress_scope``) and the per-channel bars of ``dequantize(progress=True)``."""

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import skimage.data
from PIL import Image

import qpsolve as qs
from qpsolve.cli import main
from qpsolve.imaging import progress as bars
from qpsolve.imaging.data import gaussian, to_uint8, truncate_bits
from qpsolve.linalg.threads import Cancelled, Progress, coarse_progress, progress_scope, report_progress

TOL = 1e-8


def _camera_problem():
    """Textured: the camera man's coat and tripod, 3 bits (tnnmg's kind of problem)."""
    return qs.image_problem(truncate_bits(skimage.data.camera()[200:264, 200:264], 3), bits=3)


def _lattice_problem():
    """The camera problem as a plain matrix: tnnmg's lattice path."""
    prob = _camera_problem()
    return qs.BoxQP(prob.P, prob.lower, prob.upper)


def _gaussian_problem():
    """Smooth: the paper's 2-bit Gaussian (few contacts: pdas's kind of problem)."""
    return qs.image_problem(truncate_bits(to_uint8(gaussian(128)), 2), bits=2)


def _solve(prob, solver, callback):
    seen = []
    with progress_scope(seen.append if callback else None):
        res = qs.solve(prob, solver=solver, tol=TOL)
    return res, seen


def _non_increasing(values):
    return all(b <= a for a, b in zip(values, values[1:]))


@pytest.mark.parametrize("make", [_camera_problem, _lattice_problem])
def test_tnnmg_reports_decreasing_gaps_down_to_tol(make):
    prob = make()
    res, seen = _solve(prob, "tnnmg", True)
    assert res.success and res.solver == "tnnmg"
    assert all(isinstance(p, Progress) and p.solver == "tnnmg" and p.measure == "gap" for p in seen)
    fine = [p for p in seen if p.stage == "fine"]
    coarse = [p for p in seen if p.stage == "coarse"]
    assert len(fine) >= res.iterations >= 2 and all(p.n == prob.n and p.tol == TOL for p in fine)
    assert [p.step for p in fine][-1] == res.iterations
    gaps = [p.gap for p in fine]
    assert _non_increasing(gaps) and gaps[0] > 1e3 * TOL and gaps[-1] <= TOL
    assert gaps[-1] == pytest.approx(res.kkt.relative_gap, rel=1e-6)  # the last one is the certificate's
    # the coarse-to-fine start reports too, marked as such, on smaller grids and with its own stop
    assert coarse and all(p.n < prob.n and p.tol > TOL for p in coarse)


def test_pdas_reports_violations_then_the_certificates_gap():
    prob = _gaussian_problem()
    res, seen = _solve(prob, "pdas", True)
    assert res.success and res.solver == "pdas" and "handovers" not in res.info
    fine = [p for p in seen if p.stage == "fine"]
    assert {p.solver for p in fine} == {"pdas"}
    viol = [p.gap for p in fine if p.measure == "violation"]
    gaps = [p.gap for p in fine if p.measure == "gap"]
    assert len(viol) == res.iterations >= 2
    assert _non_increasing(viol) and viol[0] > 1e-6 and viol[-1] <= fine[0].tol
    assert gaps and gaps[-1] <= TOL and _non_increasing(gaps)
    assert gaps[-1] == pytest.approx(res.kkt.relative_gap, rel=1e-6, abs=1e-20)
    # the coarsest level, solved by another backend (pcg here), is reported as a coarse stage
    coarse = [p for p in seen if p.stage == "coarse"]
    assert {p.solver for p in coarse} >= {"pcg", "pdas"} and all(p.n < prob.n for p in coarse)


@pytest.mark.parametrize("make, solver", [(_camera_problem, "tnnmg"), (_lattice_problem, "tnnmg"),
                                          (_gaussian_problem, "pdas"), (_gaussian_problem, "pcg")])
def test_reporting_changes_nothing(make, solver):
    prob = make()
    plain, _ = _solve(prob, solver, False)
    watched, seen = _solve(prob, solver, True)
    assert seen
    assert watched.x.tobytes() == plain.x.tobytes()
    assert watched.iterations == plain.iterations and watched.status == plain.status


def test_nested_scopes_restore_the_outer_callback():
    outer, inner = [], []
    with progress_scope(outer.append):
        report_progress("a", "fine", 1, 1, 1.0, 0.1)
        with pytest.raises(RuntimeError):
            with progress_scope(inner.append):
                report_progress("b", "fine", 1, 1, 1.0, 0.1)
                raise RuntimeError("a failed solve")
        report_progress("c", "fine", 1, 1, 1.0, 0.1)
        with progress_scope(None):  # silenced
            report_progress("d", "fine", 1, 1, 1.0, 0.1)
        with coarse_progress():
            report_progress("e", "fine", 1, 1, 1.0, 0.1)
        report_progress("f", "fine", 1, 1, 1.0, 0.1)
    report_progress("g", "fine", 1, 1, 1.0, 0.1)
    assert [p.solver for p in outer] == ["a", "c", "e", "f"]
    assert [p.stage for p in outer] == ["fine", "fine", "coarse", "fine"]
    assert [p.solver for p in inner] == ["b"]


def test_scopes_are_per_thread():
    both_open = threading.Barrier(2)
    seen = {0: [], 1: []}
    errors = []

    def run(k):
        try:
            with progress_scope(seen[k].append):
                both_open.wait(timeout=10)
                for step in range(1, 4):
                    report_progress(f"thread {k}", "fine", 1, step, 1.0 / step, 0.1)
                both_open.wait(timeout=10)  # the other thread's scope is still open here
        except BaseException as e:  # pragma: no cover (reported below)
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in (0, 1):
        assert [(p.solver, p.step) for p in seen[k]] == [(f"thread {k}", s) for s in (1, 2, 3)]
    report_progress("main", "fine", 1, 1, 1.0, 0.1)  # no scope in this thread: goes nowhere
    assert len(seen[0]) == len(seen[1]) == 3


class _FakeBar:
    def __init__(self):
        self.n, self.desc, self.resets, self.refreshes = 0, "", 0, 0

    def reset(self, total=None):
        self.n, self.resets = 0, self.resets + 1

    def set_description_str(self, desc, refresh=True):
        self.desc = desc

    def refresh(self):
        self.refreshes += 1


def test_bar_follows_the_fine_level_on_a_log_scale_and_restarts_on_a_handover():
    bar = _FakeBar()
    hook = bars.ChannelBar(bar, "channel 2")
    hook(Progress("pdas", "coarse", 16, 1, 1e-1, 1e-4, "violation"))
    assert bar.n == 0 and "channel 2 pdas" in bar.desc and "coarse" in bar.desc
    hook(Progress("tnnmg", "fine", 64, 1, 1e-2, 1e-8))
    assert bar.n == 0 and bar.resets == 0
    hook(Progress("tnnmg", "fine", 64, 2, 1e-5, 1e-8))
    assert bar.n == bars.TOTAL // 2 and "tnnmg" in bar.desc and "1.0e-05" in bar.desc
    hook(Progress("tnnmg", "fine", 64, 3, 1e-3, 1e-8))  # a gap that went up: the bar stays
    assert bar.n == bars.TOTAL // 2
    hook(Progress("pcg", "fine", 64, 1, 1e-4, 1e-8))  # handed over: the new solver's own scale
    assert bar.resets == 1 and bar.n == 0 and "pcg" in bar.desc
    hook(Progress("pcg", "fine", 64, 2, 1e-9, 1e-8))
    assert bar.n == bars.TOTAL


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=0.0) | st.just(float("nan")), min_size=1, max_size=30),
       st.sampled_from([1e-8, 1e-6, 1e-3]))
def test_bar_never_goes_back_and_fills_exactly_when_a_gap_reaches_tol(gaps, tol):
    # NaN and infinite reports (a solver's estimate gone wrong) move nothing
    bar = _FakeBar()
    hook = bars.ChannelBar(bar, "image")
    shown = []
    for k, g in enumerate(gaps, 1):
        hook(Progress("tnnmg", "fine", 64, k, g, tol))
        shown.append(bar.n)
    assert all(0 <= n <= bars.TOTAL for n in shown)
    assert all(b >= a for a, b in zip(shown, shown[1:]))
    finite = [g for g in gaps if math.isfinite(g)]
    assert (shown[-1] == bars.TOTAL) == any(g <= tol for g in finite)


def test_a_violation_alone_never_fills_the_bar():
    # pdas reaches the violation at which it polishes before anything is certified: the certificate's gap
    # fills the rest
    bar = _FakeBar()
    hook = bars.ChannelBar(bar, "image")
    hook(Progress("pdas", "fine", 64, 1, 1e-1, 1e-6, "violation"))
    hook(Progress("pdas", "fine", 64, 2, 1e-7, 1e-6, "violation"))
    assert bar.n == int(bars.TOTAL * bars.VIOLATION_SHARE)
    hook(Progress("pdas", "fine", 64, 2, 1e-3, 1e-8))  # the first certificate: not yet
    assert bar.n == int(bars.TOTAL * bars.VIOLATION_SHARE)
    hook(Progress("pdas", "fine", 64, 3, 5e-9, 1e-8))
    assert bar.n == bars.TOTAL


def test_a_report_without_a_stop_reaches_the_callback_as_nan():
    seen = []
    with progress_scope(seen.append):
        report_progress("pdas", "coarse", 64, 1, 1e-2, None, measure="violation")
    assert math.isnan(seen[0].tol)


_BROKEN_STDERR = """
import errno, sys
import numpy as np, skimage.data
import qpsolve as qs
from qpsolve.imaging.data import truncate_bits
class Broken:
    def write(self, text):
        raise OSError(errno.EBADF, "Bad file descriptor")
    def flush(self):
        raise OSError(errno.EBADF, "Bad file descriptor")
sys.stderr = {stream}
rgb = truncate_bits(skimage.data.coffee()[:96, :128], 3)
out = qs.dequantize(rgb, bits=3, channel_axis=-1, progress=True)
grey = qs.dequantize(rgb[..., 0], bits=3, progress=True)
print("done", out.shape, grey.shape, flush=True)
sys.stderr = sys.__stderr__  # (the interpreter's own last flush would fail on Broken: exit 120)
"""


@pytest.mark.parametrize("stream", ["None", "Broken()"])
def test_progress_without_a_usable_stderr_still_solves(stream):
    # cron, nohup, '2>&-': tqdm once held its lock after a failed write, and every channel waited on it
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", _BROKEN_STDERR.format(stream=stream)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and "done (96, 128, 3) (96, 128)" in r.stdout, r.stderr[-2000:]


def test_bar_closes_when_the_solve_is_cancelled(capsys):
    with pytest.raises(Cancelled):
        with bars.channel_bar(True, "channel 0") as hook:
            report_progress("tnnmg", "fine", 64, 1, 1e-2, 1e-8)
            assert hook.bar in bars._open
            raise Cancelled("stopped from another thread")
    assert not bars._open and hook.bar.disable  # closed
    report_progress("tnnmg", "fine", 64, 2, 1e-3, 1e-8)  # the scope ended with the block
    assert "channel 0" in capsys.readouterr().err


def test_bar_keeps_drawing_between_reports_and_its_ticker_ends(capsys, monkeypatch):
    import time

    monkeypatch.setattr(bars, "TICK", 0.02)
    with bars.channel_bar(True, "channel 0"):
        time.sleep(0.5)  # a long step: no report
    assert capsys.readouterr().err.count("channel 0 starting") >= 5  # tqdm alone drew it once
    assert not [t for t in threading.enumerate() if t.name.startswith("qpsolve-bar-")]


def test_close_bars_ends_bars_of_other_threads():
    opened, release = threading.Event(), threading.Event()
    box = {}

    def channel():
        with bars.channel_bar(True, "channel 1") as hook:
            box["bar"] = hook.bar
            opened.set()
            release.wait(timeout=10)

    t = threading.Thread(target=channel)
    t.start()
    assert opened.wait(timeout=10)
    try:
        with bars.channel_bar(True, "another call's channel") as mine:
            bars.close_bars({t.ident})  # the interrupt path of map_channels, from the waiting thread
            assert box["bar"].disable and list(bars._open) == [mine.bar] and not mine.bar.disable
        assert not bars._open
    finally:
        release.set()
        t.join()


def test_an_interrupt_closes_the_bars_of_running_channels():
    import signal

    from qpsolve.imaging.channels import map_channels

    release, both_open, box = threading.Event(), threading.Barrier(2), {}

    def channel(c, item):
        with bars.channel_bar(True, f"channel {c}") as hook:
            box[c] = hook.bar
            both_open.wait(timeout=10)
            if c == 0:
                signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # Ctrl-C while they run
            release.wait(timeout=10)  # a solve that reaches its next check only later
            if c == 0:
                raise Cancelled("stopped")

    with pytest.raises(KeyboardInterrupt):
        map_channels(channel, ["a", "b"], jobs=2)
    try:
        assert len(box) == 2 and all(bar.disable for bar in box.values()) and not bars._open  # closed at once
    finally:
        release.set()


def _rgb_crop():
    return truncate_bits(skimage.data.astronaut()[100:164, 100:164], 3)


@pytest.mark.parametrize("adaptive", [True, False])
def test_dequantize_progress_draws_one_bar_per_channel_on_stderr(capsys, adaptive):
    img = _rgb_crop()
    plain = qs.dequantize(img, bits=3, channel_axis=-1, adaptive=adaptive)
    quiet = capsys.readouterr()
    assert quiet.err == "" and quiet.out == ""
    shown = qs.dequantize(img, bits=3, channel_axis=-1, adaptive=adaptive, progress=True)
    cap = capsys.readouterr()
    assert cap.out == ""
    for c in range(3):
        assert f"channel {c} " in cap.err
    assert "%|" in cap.err and "-> 1e-08" in cap.err
    assert any(name in cap.err for name in ("pdas", "tnnmg", "pcg"))
    assert np.array_equal(shown, plain)


def test_decorrelated_colour_draws_one_bar_for_the_joint_solve(capsys):
    img = truncate_bits(skimage.data.astronaut()[100:132, 100:132], 3)
    qs.dequantize(img, bits=3, channel_axis=-1, color_space="decorrelated", progress=True)
    err = capsys.readouterr().err
    assert "channels (joint) " in err and "-> 1e-08" in err and "channel 0" not in err


def test_cli_progress_shows_the_bar(tmp_path, capsys):
    Image.fromarray(truncate_bits(skimage.data.camera()[200:264, 200:264], 3)).save(tmp_path / "in.png")
    code = main(["dequantize", str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--bits", "3", "--progress"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    assert "image " in cap.err and "%|" in cap.err and "-> 1e-08" in cap.err
    assert (tmp_path / "out.png").exists()
    code = main(["dequantize", str(tmp_path / "in.png"), str(tmp_path / "quiet.png"), "--bits", "3"])
    assert code == 0 and capsys.readouterr().err == ""
