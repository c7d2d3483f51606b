"""Colour channels solved side by side (qpsolve.imaging.channels): the same answers, the memory rule."""

import sys
import threading

import numpy as np
import pytest

import qpsolve as qs
from qpsolve.imaging import channels, photo
from qpsolve.imaging.data import truncate_bits
from qpsolve.linalg import threads


def _coffee(bits=4):
    import skimage.data

    return truncate_bits(skimage.data.coffee()[100:140, 300:350], bits)


def test_policy_of_the_default(monkeypatch):
    from qpsolve.linalg import rowpool

    monkeypatch.setattr(channels, "usable_cores", lambda: 2)
    monkeypatch.setattr(channels, "memory_budget", lambda: 6 << 30)
    # three channels on two cores all at once: 1.5 solves' time, where two threads take two rounds
    assert channels.channel_jobs(None, channels=3, pixels=400 * 600, tile=None) == 3
    # four: two rounds of two take as long as four at once, and hold half the memory
    assert channels.channel_jobs(None, channels=4, pixels=400 * 600, tile=None) == 2
    # five: 2.5 solves' time at once, three rounds of two
    assert channels.channel_jobs(None, channels=5, pixels=400 * 600, tile=None) == 5
    # large channels (the 12-Mpx photograph of issue #18) and tiled solves go one at a time
    assert channels.channel_jobs(None, channels=3, pixels=channels.PARALLEL_PIXELS + 1, tile=None) == 1
    assert channels.channel_jobs(None, channels=3, pixels=channels.PARALLEL_PIXELS, tile=None) == 3
    assert channels.channel_jobs(None, channels=3, pixels=100, tile=64) == 1
    # less memory available: fewer at once
    monkeypatch.setattr(channels, "memory_budget", lambda: 2 * 400 * 600 * channels.BYTES_PER_PIXEL)
    assert channels.channel_jobs(None, channels=3, pixels=400 * 600, tile=None) == 2
    monkeypatch.setattr(channels, "memory_budget", lambda: 0)
    assert channels.channel_jobs(None, channels=3, pixels=400 * 600, tile=None) == 1
    # the cores shared with the grid kernels' threads
    monkeypatch.setattr(channels, "memory_budget", lambda: 6 << 30)
    monkeypatch.setattr(channels, "usable_cores", lambda: 8)
    budget_pixels = (6 << 30) // channels.BYTES_PER_PIXEL
    monkeypatch.setattr(channels, "PARALLEL_PIXELS", budget_pixels)
    # memory allows four: two rounds either way with three or four threads, so three
    assert channels.channel_jobs(None, channels=6, pixels=budget_pixels // 4, tile=None) == 3
    assert channels.channel_jobs(None, channels=3, pixels=budget_pixels // 2, tile=None) == 2
    assert channels.channel_jobs(None, channels=6, pixels=100, tile=None) == 6
    old = rowpool.set_threads(4)
    try:
        assert channels.channel_jobs(None, channels=6, pixels=100, tile=None) == 2
    finally:
        rowpool.set_threads(old)
    # an explicit count is honoured, up to the number of channels
    assert channels.channel_jobs(2, channels=3, pixels=6000 * 4000, tile=None) == 2
    assert channels.channel_jobs(16, channels=3, pixels=100, tile=None) == 3
    assert channels.channel_jobs(None, channels=1, pixels=100, tile=None) == 1
    assert channels.channel_jobs(1, channels=3, pixels=100, tile=64) == 1


def test_solvers_whose_memory_was_not_measured_keep_the_pixel_cap(monkeypatch):
    monkeypatch.setattr(channels, "usable_cores", lambda: 2)
    monkeypatch.setattr(channels, "memory_budget", lambda: 6 << 30)
    big = channels.IN_FLIGHT_PIXELS // 2  # a 2-Mpx channel: three fit the memory budget
    assert channels.channel_jobs(None, channels=3, pixels=big, tile=None) == 3
    assert channels.channel_jobs(None, channels=3, pixels=big, tile=None, solver="tnnmg") == 3
    assert channels.channel_jobs(None, channels=3, pixels=big, tile=None, solver="osqp") == 2
    assert channels.channel_jobs(None, channels=3, pixels=channels.IN_FLIGHT_PIXELS, tile=None, solver="pcg") == 1


@pytest.mark.parametrize("files, expected", [
    ({"/proc/meminfo": "MemTotal:       24000000 kB\nMemAvailable:    5000000 kB\n"}, 5000000 * 1024 * 4 // 5),
    ({"/proc/meminfo": "MemTotal:       64000000 kB\nMemAvailable:   60000000 kB\n"}, 6 << 30),
    ({"/proc/meminfo": "MemTotal:       64000000 kB\n"}, 6 << 30),
    ({}, 6 << 30),
    # a container: its cgroup's limit minus what it uses, whatever the host has
    ({"/proc/meminfo": "MemAvailable:   60000000 kB\n", "/sys/fs/cgroup/memory.max": "4000000000\n",
      "/sys/fs/cgroup/memory.current": "1000000000\n"}, 3000000000 * 4 // 5),
    ({"/proc/meminfo": "MemAvailable:   60000000 kB\n", "/sys/fs/cgroup/memory.max": "max\n"}, 6 << 30),
])
def test_the_memory_budget_follows_what_the_machine_has_available(monkeypatch, files, expected):
    import io

    def fake_open(path, *a, **k):
        if path not in files:
            raise FileNotFoundError(path)
        return io.StringIO(files[path])

    monkeypatch.setattr(channels, "open", fake_open, raising=False)  # the cgroup's files
    monkeypatch.setattr(threads, "open", fake_open, raising=False)  # /proc/meminfo (threads.meminfo)
    monkeypatch.setattr(channels, "IN_FLIGHT_BYTES", 6 << 30)
    assert channels.memory_budget() == expected


@pytest.mark.parametrize("bad", ["3", 2.0, None, True])
def test_the_thread_rule_refuses_what_is_not_a_count(bad):
    with pytest.raises(TypeError, match="fewest_threads_soonest: channels must be an integer"):
        channels.fewest_threads_soonest(bad, 2, 8)


@pytest.mark.parametrize("args, name", [((-1, 2, 8), "channels"), ((3, 0, 8), "cores"), ((3, 2, -1), "cap")])
def test_the_thread_rule_refuses_impossible_counts_by_name(args, name):
    with pytest.raises(ValueError, match=f"fewest_threads_soonest: {name} must be at least"):
        channels.fewest_threads_soonest(*args)


def test_more_than_one_channel_job_with_tiles_is_refused():
    # tiles fork worker processes, which must not happen beside threads inside a solve
    with pytest.raises(ValueError, match="channel_jobs=2 cannot be combined with tile"):
        qs.dequantize(_coffee(), bits=4, channel_axis=-1, tile=24, channel_jobs=2)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
@pytest.mark.parametrize("colour", [True, False])
def test_bad_channel_jobs_is_refused_by_name(bad, colour):
    # grey images too: the argument is checked before anything else
    img = _coffee() if colour else _coffee()[..., 0]
    with pytest.raises((TypeError, ValueError), match="channel_jobs"):
        qs.dequantize(img, bits=4, channel_axis=-1 if colour else None, channel_jobs=bad, adaptive=colour)


@pytest.mark.parametrize("adaptive", [True, False])
def test_side_by_side_gives_the_answers_of_one_at_a_time(adaptive, monkeypatch):
    # the photo pipeline (adaptive) and the plain plate both: the same answers, every channel
    # certified, and the channels really ran on several threads at once
    img = _coffee()
    seen, running, most = set(), [0], [0]
    lock = threading.Lock()
    target = photo if adaptive else qs.imaging.image
    name = "_solve_prob" if adaptive else "_solve_single"
    inner = getattr(target, name)

    def watched(*a, **k):
        with lock:
            seen.add(threading.current_thread().name)
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            return inner(*a, **k)
        finally:
            with lock:
                running[0] -= 1

    one, r1 = qs.dequantize(img, bits=4, channel_axis=-1, channel_jobs=1, adaptive=adaptive, return_result=True)
    monkeypatch.setattr(target, name, watched)
    three, r3 = qs.dequantize(img, bits=4, channel_axis=-1, channel_jobs=3, adaptive=adaptive, return_result=True)
    # bit for bit: each channel's arithmetic is that of a channel solved alone (a grid shape's dense
    # table of P^g, built on its DENSE_TABLE_AFTER-th request in whichever call, has the same bits)
    np.testing.assert_array_equal(one, three)
    assert [r.success for r in r1 + r3] == [True] * 6
    assert len(seen) >= 2 and all(n.startswith("qpsolve-channel") for n in seen)
    assert most[0] >= 2


def test_a_failing_channel_raises_and_cancels_the_rest():
    started = []
    gate = threading.Event()

    def fn(c, item):
        started.append(c)
        if c == 0:
            gate.wait(5)  # channel 1 fails while channel 0 still runs
            return item
        raise ValueError(f"channel {c} is broken")

    def fail_then_open(c, item):
        try:
            return fn(c, item)
        finally:
            if c == 1:
                gate.set()

    with pytest.raises(ValueError, match="channel 1 is broken"):
        channels.map_channels(fail_then_open, ["a", "b", "c", "d"], jobs=2)
    assert 3 not in started  # never started: cancelled after the failure


def test_map_channels_keeps_channel_order():
    out = channels.map_channels(lambda c, item: (c, item), list("abcde"), jobs=3)
    assert out == list(enumerate("abcde"))


def test_ctrl_c_while_waiting_is_raised_at_once():
    # an interrupt of the waiting thread must not wait for the running channels (minutes on a photo)
    import signal
    import time

    release = threading.Event()

    def slow(c, item):
        release.wait(30)
        return item

    timer = threading.Timer(0.3, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            channels.map_channels(slow, ["a", "b", "c"], jobs=2)
        assert time.perf_counter() - t0 < 5.0
    finally:
        release.set()
        timer.cancel()


def test_verbose_does_not_change_how_many_channels_run_at_once(capsys, monkeypatch):
    # a verbose solve is scheduled as a quiet one; side by side, each line names its channel
    monkeypatch.setattr(channels, "usable_cores", lambda: 2)
    monkeypatch.setattr(channels, "memory_budget", lambda: 1 << 30)
    assert channels.channel_jobs(None, channels=3, pixels=_coffee().size // 3, tile=None) == 3
    img = _coffee()
    qs.dequantize(img, bits=4, channel_axis=-1, verbose=True)
    out = capsys.readouterr().out.splitlines()
    for c in range(3):
        said = [line for line in out if line.startswith(f"[channel {c}] [photo] channel")]
        assert [line.split("[photo] channel ")[1].split(":")[0] for line in said] == [str(c)] * 3


def test_batch_tasks_solve_one_channel_at_a_time(tmp_path, monkeypatch):
    # Dask runs images side by side already: a batch task asks for one channel at a time
    from PIL import Image

    from qpsolve.distributed import batch
    from qpsolve.imaging import image

    seen = {}
    inner = image.dequantize

    def spy(*a, **k):
        seen.update(k)
        return inner(*a, **k)

    monkeypatch.setattr(image, "dequantize", spy)  # batch imports it inside the task
    Image.fromarray(_coffee()).save(tmp_path / "in.png")
    batch.dequantize_file(str(tmp_path / "in.png"), str(tmp_path / "out.png"), bits=4)
    assert seen["channel_jobs"] == 1 and (tmp_path / "out.png").exists()


def test_verbose_channels_side_by_side_print_whole_lines_labelled_by_channel(capsys):
    # an explicit channel_jobs > 1 with verbose: each channel's lines come out whole, prefixed
    # with their channel (not interleaved mid-line), in the order that channel printed them
    img = _coffee()
    qs.dequantize(img, bits=4, channel_axis=-1, channel_jobs=3, verbose=True)
    out = capsys.readouterr().out.splitlines()
    said = {c: [line for line in out if line.startswith(f"[channel {c}] ")] for c in range(3)}
    for c in range(3):
        photo = [line for line in said[c] if "[photo]" in line]
        assert [line.split("[photo] channel ")[1].split(":")[0] for line in photo] == [str(c)] * 3
        assert any("[pdas]" in line or "[tnnmg]" in line for line in said[c])
    # nothing a channel printed is left without its label
    assert not [line for line in out if not line.startswith("[channel ") and ("[photo] channel" in line or
                                                                            "[pdas]" in line)]


def test_a_failing_channel_cancels_the_channels_still_running():
    # the running channel's solver checks between iterations (out_of_time) and stops there
    from qpsolve.linalg.threads import out_of_time

    import time

    ran = []

    def fn(c, item):
        if c == 1:
            time.sleep(0.2)
            raise ValueError("channel 1 is broken")
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 20:  # an iteration loop with no time limit of its own
            out_of_time(None)
            time.sleep(0.01)
        ran.append(c)

    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="channel 1 is broken"):
        channels.map_channels(fn, ["a", "b"], jobs=2)
    assert time.perf_counter() - t0 < 5.0 and ran == []


def test_channels_started_inside_a_cancelled_channel_are_cancelled_too():
    # map_channels inside a channel (or any cancel_scope): when the outer call cancels that channel, the
    # inner call's running channels and its waiting thread stop too, instead of running to their end
    import time

    from qpsolve.linalg.threads import Cancelled, out_of_time

    ended = []

    def inner(c, item):
        t0 = time.perf_counter()
        try:
            while time.perf_counter() - t0 < 20:  # an iteration loop with no time limit of its own
                out_of_time(None)
                time.sleep(0.01)
        except Cancelled:
            ended.append(("cancelled", c))
            raise
        ended.append(("ran out", c))

    def outer(c, item):
        if c == 1:
            time.sleep(0.3)
            raise ValueError("channel 1 is broken")
        return channels.map_channels(inner, ["x", "y"], jobs=2)

    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="channel 1 is broken"):
        channels.map_channels(outer, ["a", "b"], jobs=2)
    assert time.perf_counter() - t0 < 5.0
    t1 = time.perf_counter()
    while len(ended) < 2 and time.perf_counter() - t1 < 30:  # (on failure: wait, leave no threads behind)
        time.sleep(0.02)
    assert sorted(ended) == [("cancelled", 0), ("cancelled", 1)]


def test_ctrl_c_stops_the_channels_running_real_solves():
    # library use (a script or notebook that catches KeyboardInterrupt): the channel threads must not
    # keep the cores busy until their channels end (each runs for many seconds here)
    import signal
    import time

    import skimage.data

    img = np.tile(truncate_bits(skimage.data.coffee(), 3), (2, 2, 1))  # 800 x 1200 per channel

    def running():
        return [t for t in threading.enumerate() if t.name.startswith("qpsolve-channel")]

    in_flight, gate = threading.Event(), threading.Lock()

    def interrupt_once_running():
        t0 = time.perf_counter()
        while not running() and time.perf_counter() - t0 < 60:
            time.sleep(0.02)
        time.sleep(1.0)  # inside the channels' solves
        with gate:  # never after the call returned: a late SIGINT would end the whole test session
            if in_flight.is_set():
                signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    interrupter = threading.Thread(target=interrupt_once_running, daemon=True)
    in_flight.set()
    interrupter.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            qs.dequantize(img, bits=3, channel_axis=-1, channel_jobs=2, adaptive=False)
    finally:
        with gate:
            in_flight.clear()
    interrupter.join()
    t0 = time.perf_counter()
    while running() and time.perf_counter() - t0 < 60:  # (waits for them on failure: no leftovers)
        time.sleep(0.02)
    assert time.perf_counter() - t0 < 5.0  # on main (no cancellation) they ran on for 37 s


def test_labelled_lines_without_a_stdout_print_nothing_and_fail_nothing(monkeypatch):
    # pythonw, daemons: sys.stdout is None and print() is silent; a channel must not fail on it
    monkeypatch.setattr(sys, "stdout", None)
    assert channels.map_channels(lambda c, item: print("hi") or item, [1, 2], jobs=2, label_lines=True) == [1, 2]


def test_two_labelled_calls_at_once_restore_stdout_and_keep_their_lines_apart(capsys):
    # two verbose side-by-side calls from two threads: the first ends while the second still prints
    import time

    real = sys.stdout
    both = threading.Barrier(4)  # every channel of both calls has half a line pending
    first_done = threading.Event()

    def say(c, item):
        print(f"{item} part", end="")
        both.wait(20)
        print(" one")
        if item.startswith("1"):
            first_done.wait(20)  # the second call outlives the first ...
            print(f"{item} after")  # ... and still prints through the shared labelling
        return item

    out = {}

    def call(k):
        out[k] = channels.map_channels(say, [f"{k}a", f"{k}b"], jobs=2, label_lines=True)
        if k == 0:
            first_done.set()

    first = threading.Thread(target=call, args=(0,))
    first.start()
    t0 = time.perf_counter()
    while sys.stdout is real and time.perf_counter() - t0 < 20:  # the first call is labelling
        time.sleep(0.005)
    second = threading.Thread(target=call, args=(1,))
    second.start()
    first.join(30)
    second.join(30)
    assert out == {0: ["0a", "0b"], 1: ["1a", "1b"]}
    assert sys.stdout is real
    said = sorted(capsys.readouterr().out.splitlines())
    assert said == sorted([f"[channel {c}] {k}{x} part one" for k in (0, 1) for c, x in enumerate("ab")]
                          + [f"[channel {c}] 1{x} after" for c, x in enumerate("ab")])


def test_a_stdout_that_fails_fails_the_call_instead_of_dropping_channels(monkeypatch):
    # a closed or broken stdout: the error reaches the caller, no channel is silently left unsolved
    class Broken:
        def write(self, text):
            raise OSError("stdout is gone")

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", Broken())
    with pytest.raises(OSError, match="stdout is gone"):
        channels.map_channels(lambda c, item: print(item, end="") or item, [1, 2, 3, 4], jobs=2,
                              label_lines=True)


@pytest.mark.parametrize("solver", ["admm", "lbfgsb"])
def test_a_cancelled_channel_stops_admm_and_lbfgsb_inside_their_iterations(solver):
    # the backends' own solve, not qs.solve (which checks before it starts)
    import importlib

    from qpsolve.linalg.threads import Cancelled, cancel_scope

    mod = importlib.import_module(qs.solvers.SOLVERS[solver])
    prob = qs.image_problem(truncate_bits(np.tile(np.arange(0, 256, 8, dtype=np.uint8), (32, 1)), 3), bits=3, bc="even")
    stop = threading.Event()
    stop.set()
    with cancel_scope(stop), pytest.raises(Cancelled):
        mod.solve(prob, tol=1e-8, max_iter=None, x0=None, verbose=False, time_limit=None)
