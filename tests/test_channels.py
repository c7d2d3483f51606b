"""Colour channels solved side by side (qpsolve.imaging.channels): the same answers, the memory rule."""

import threading

import numpy as np
import pytest

import qpsolve as qs
from qpsolve.imaging import channels, photo
from qpsolve.imaging.data import truncate_bits


def _coffee(bits=4):
    import skimage.data

    return truncate_bits(skimage.data.coffee()[100:140, 300:350], bits)


def test_policy_of_the_default():
    cores = channels._cores()
    assert channels.channel_jobs(None, channels=3, pixels=400 * 600, tile=None) == min(3, cores)
    # large channels and tiled solves go one at a time
    assert channels.channel_jobs(None, channels=3, pixels=channels.PARALLEL_PIXELS + 1, tile=None) == 1
    assert channels.channel_jobs(None, channels=3, pixels=100, tile=64) == 1
    # an explicit count is honoured, up to the number of channels
    assert channels.channel_jobs(2, channels=3, pixels=channels.PARALLEL_PIXELS + 1, tile=None) == 2
    assert channels.channel_jobs(16, channels=3, pixels=100, tile=None) == 3
    assert channels.channel_jobs(None, channels=1, pixels=100, tile=None) == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_channel_jobs_is_refused_by_name(bad):
    with pytest.raises((TypeError, ValueError), match="channel_jobs"):
        qs.dequantize(_coffee(), bits=4, channel_axis=-1, channel_jobs=bad)


@pytest.mark.parametrize("adaptive", [True, False])
def test_side_by_side_gives_the_answers_of_one_at_a_time(adaptive, monkeypatch):
    # the photo pipeline (adaptive) and the plain plate both: same bits, every channel certified,
    # and the channels really ran on several threads at once
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
    assert np.array_equal(one, three)
    assert [r.success for r in r1 + r3] == [True] * 6
    assert len(seen) == 3 and all(n.startswith("qpsolve-channel") for n in seen)
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
