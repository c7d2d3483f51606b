"""The temporal chunk's blend (qpsolve/distributed/temporal_blend.py): drift evidence, weights, and the video output.

Expectations are written by hand from the formula ``m = clip((D1 - ratio D2) / rate, 0, 1)`` on plates
whose drift and second differences are known in closed form, or taken from the photograph's own
functions (``blend_weights``, ``qs.dequantize``), never from the module under test.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import qpsolve as qs
from qpsolve.distributed import flicker
from qpsolve.distributed.clips import moving_scene, quantize
from qpsolve.distributed.temporal import blend, frame_blend_weights, frame_envelopes
from qpsolve.distributed.temporal_blend import DRIFT_RATE, DRIFT_RATIO, chunk_blend_weights, drift_evidence
from qpsolve.distributed.video import psnr, solve_chunk
from qpsolve.imaging.photo import blend_weights, textured

STEP = 32.0


@settings(max_examples=30, deadline=None)
@given(T=st.integers(3, 7), rate=st.floats(0.0, 0.05), seed=st.integers(0, 2**16))
def test_a_straight_line_drift_gives_its_rate_over_drift_rate(T, rate, seed):
    # x_t = s + rate * t bins: D1 = rate, D2 = 0 whatever the still picture s is (it cancels in both)
    still = np.random.default_rng(seed).uniform(0, 200, (1, 9, 11))
    plates = still + rate * STEP * np.arange(T, dtype=float)[:, None, None]
    m = drift_evidence(plates, STEP)
    np.testing.assert_allclose(m, min(1.0, rate / DRIFT_RATE), atol=1e-9)


def test_a_drift_that_wanders_is_discounted_by_its_second_difference():
    # x_t = 0.02 t + e (-1)^t bins over 5 frames: D1 = |x_4 - x_0| / 4 = 0.02 (the wobble cancels at
    # even ends); every |x_{t-1} - 2 x_t + x_{t+1}| = 4 e, so D2 = 4 e and m = (0.02 - 30 * 4 e) / 0.01
    t = np.arange(5.0)[:, None, None]
    for e, expected in ((0.0, 1.0), (0.0001, 0.8), (0.00015, 0.2), (0.001, 0.0)):
        plates = STEP * (0.02 * t + e * (-1.0) ** t) * np.ones((1, 6, 7))
        np.testing.assert_allclose(drift_evidence(plates, STEP), expected, atol=1e-9)
    assert DRIFT_RATE == 0.01 and DRIFT_RATIO == 30.0  # the constants the hand values above assume


def test_drift_evidence_refuses_short_or_flat_input():
    with pytest.raises(ValueError, match="T >= 3"):
        drift_evidence(np.zeros((2, 4, 4)), STEP)
    with pytest.raises(ValueError, match="step"):
        drift_evidence(np.zeros((3, 4, 4)), 0.0)
    with pytest.raises(ValueError, match="plates has shape"):
        chunk_blend_weights(np.zeros((3, 4, 4)), np.ones((3, 4, 4)), np.zeros((3, 4, 5)))


def _scene(T, h, w, speed):
    truth = moving_scene(T, h, w, speed=speed)[0]
    q = quantize([truth], 3)[0]
    lo, hi = frame_envelopes(q, STEP, (0.0, 255.0), {"bc": "even"})
    return truth, q, lo, hi


def test_a_still_shot_keeps_each_frames_photograph_weights():
    _, q, lo, hi = _scene(1, 40, 56, 0.0)
    lo, hi = np.repeat(lo, 4, axis=0), np.repeat(hi, 4, axis=0)
    plate = qs.dequantize(q[0], step=STEP, data_range=(0.0, 255.0), bc="even", adaptive=False)
    w = chunk_blend_weights(lo, hi, np.repeat(plate[None], 4, axis=0))
    ref = blend_weights(lo[0], hi[0], textured_mask=textured(lo[0], hi[0], 9))
    for t in range(4):
        np.testing.assert_array_equal(w[t], ref)


def test_short_chunks_and_no_blend():
    _, _, lo, hi = _scene(2, 24, 32, 1.0)
    moving = np.cumsum(np.ones(lo.shape), axis=0) * 8.0  # drifts, but two frames have no interior frame
    np.testing.assert_array_equal(chunk_blend_weights(lo, hi, moving), frame_blend_weights(lo, hi))
    assert chunk_blend_weights(lo, hi, moving, adaptive=False) is None


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), amp=st.floats(0.0, 40.0))
def test_weights_lie_between_the_frames_weights_and_one(seed, amp):
    _, _, lo, hi = _scene(4, 20, 28, 0.7)
    plates = 0.5 * (lo + hi) + amp * np.random.default_rng(seed).standard_normal(lo.shape)
    w = chunk_blend_weights(lo, hi, plates)
    w2 = frame_blend_weights(lo, hi)
    assert np.all(w >= w2 - 1e-12) and np.all(w <= 1.0)
    # and the blend with them stays inside every frame's envelopes
    out = blend(np.clip(plates, lo, hi), lo, hi, w)
    assert np.all(out >= lo) and np.all(out <= hi)


def test_a_still_clip_through_the_temporal_path_is_the_photograph_default():
    # a still shot: the frames' 2-D plate repeated has no temporal bending, so it solves the chunk's
    # QP; the plates do not drift, so the blend is the photograph's: each frame is qs.dequantize's
    _, q, _, _ = _scene(1, 32, 44, 0.0)
    block = np.repeat(q, 4, axis=0)
    outs, info = solve_chunk([block], STEP, (0.0, 255.0), True, {"bc": "even"})
    assert all(info["certified"])
    photo = qs.dequantize(q[0], step=STEP, data_range=(0.0, 255.0), bc="even")
    for f in outs[0]:
        np.testing.assert_allclose(f, photo, atol=1e-3)


@pytest.mark.parametrize("start", [True, False])
def test_an_empty_options_dict_is_the_default_blend_with_or_without_the_plates_start(start):
    # adaptive={} means the blend with its default options (as in frame_blend_weights), also when
    # the chunk's solve does not start from the frames' plates
    _, q, _, _ = _scene(4, 24, 32, 1.0)
    ref, _ = solve_chunk([q], STEP, (0.0, 255.0), True, {"bc": "even", "adaptive": True}, start=start)
    got, info = solve_chunk([q], STEP, (0.0, 255.0), True, {"bc": "even", "adaptive": {}}, start=start)
    assert all(info["certified"])
    np.testing.assert_allclose(got[0], ref[0], atol=1e-6)


def test_temporal_output_is_smoother_in_time_than_frame_by_frame_on_a_moving_clip():
    # 5 frames of 120 x 214 drifting 1 px per frame: the frames' plates drift in step over most of the
    # picture (drift evidence mean ~0.6), so the temporal mode's blend leans to its plate there
    truth, q, lo, hi = _scene(5, 120, 214, 1.0)
    frames, _ = solve_chunk([q[i:i + 1] for i in range(5)], STEP, (0.0, 255.0), False, {"bc": "even"})
    frames = np.concatenate(frames)
    temporal, info = solve_chunk([q], STEP, (0.0, 255.0), True, {"bc": "even"})
    temporal = temporal[0]
    plate, _ = solve_chunk([q], STEP, (0.0, 255.0), True, {"bc": "even", "adaptive": False})
    old = blend(plate[0], lo, hi, frame_blend_weights(lo, hi))  # the chunk blended by each frame's 2-D weights
    assert all(info["certified"])
    f_fr, f_t, f_mid = flicker(frames, truth), flicker(temporal, truth), flicker(q + STEP / 2, truth)
    assert f_t < 0.8 * f_fr < f_mid, (f_t, f_fr, f_mid)
    assert f_t < 0.8 * flicker(old, truth)
    assert psnr(temporal, truth, 255) >= max(psnr(frames, truth, 255), psnr(old, truth, 255))
    assert np.all(temporal >= lo) and np.all(temporal <= hi)
