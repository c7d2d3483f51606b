"""Banding measures (issue #19): reference-based step-jumps and the CAMBI-style index.

Validated on a real sky (the top of scikit-image's ``camera``, full
resolution): zero on the original, high on the midpoint of its 4-bit
quantization, low on the paper's plain plate.  The counts are cross-checked
against plain loops written from the definitions.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage import data

import qpsolve as qs
from qpsolve.metrics import banding, cambi, cambi_map, smooth_region, soft_banding, visible_step


def _sky():
    # camera's sky: a slow gradient, 4-bit bands tens of pixels wide
    return data.camera()[0:64, 300:396]


@pytest.fixture(scope="module")
def sky4():
    truth = _sky()
    q = (truth >> 4) << 4
    plate = qs.dequantize(q, bits=4, adaptive=False)
    return truth.astype(float), q + 8.0, plate


def test_banding_zero_on_original_high_on_midpoint_low_on_plate(sky4):
    truth, mid, plate = sky4
    assert banding(truth, truth, 16).jumps_per_1000 == 0.0
    assert banding(truth, truth, 16).gradient_error == 0.0
    m = banding(truth, mid, 16)
    p = banding(truth, plate, 16)
    assert m.smooth_fraction > 0.9  # the sky is smooth by the measure's own rule
    assert m.jumps_per_1000 > 10
    assert p.jumps_per_1000 <= 0.05 * m.jumps_per_1000
    assert p.gradient_error < m.gradient_error


def test_cambi_zero_on_original_high_on_midpoint_low_on_plate(sky4):
    truth, mid, plate = sky4
    high = cambi(mid)
    assert high > 1
    assert cambi(plate) <= 0.05 * high
    # the 8-bit original has flat patches one 8-bit code apart of its own; CAMBI counts
    # those few that are visible, so it is near zero, not zero (0.08 against 1.77 here)
    assert cambi(truth) <= 0.05 * high
    # an unquantized smooth original has no flat patch at all
    y, x = np.mgrid[0:64, 0:96]
    assert cambi(150 + 0.4 * x + 0.2 * y + 3 * np.sin(x / 9.0)) == 0.0


def test_soft_banding_zero_on_original_high_on_midpoint_low_on_plate(sky4):
    truth, mid, plate = sky4
    assert soft_banding(truth, truth, 16).per_1000 == 0.0
    m = soft_banding(truth, mid, 16)
    assert m.per_1000 > 10 and m.pairs > 1000
    assert soft_banding(truth, plate, 16).per_1000 <= 0.25 * m.per_1000


def test_soft_banding_sees_the_soft_band_the_step_jumps_miss():
    """A sky's midpoint steps spread over 4-6 pixels: no neighbour jumps half a step, so the
    step-jump count is 0; the shades are still one step over a few pixels, and soft_banding
    counts them -- as many as it counts for the sharp steps, give or take the blur."""
    from scipy import ndimage

    y, x = np.mgrid[0:48, 0:256]
    sky = 40 + 64 * x / 255 + 0.3 * np.sin(y / 5.0)          # 4 steps of 16 over 256 px
    mid = np.floor(sky / 16) * 16 + 8
    for width in (4, 5, 6):
        soft = ndimage.uniform_filter1d(mid, width, axis=1, mode="nearest")
        assert banding(sky, soft, 16).jumps == 0
        s, m = soft_banding(sky, soft, 16), soft_banding(sky, mid, 16)
        assert s.steps >= 0.5 * m.steps > 0
    # an offset is not a band, and neither is a reconstruction flatter than the original
    # (its sub-step ripple smoothed away): lost detail, which PSNR and SSIM see
    assert soft_banding(sky, sky + 5.0, 16).steps == 0
    flat = np.full(sky.shape, 100.0)
    ripple = flat + 3.0 * np.sin(x / 2.0)
    assert soft_banding(ripple, flat, 16).steps == 0 < soft_banding(flat, ripple, 16).steps


def _brute_soft(r, y, step, lag, sigma, fraction, window=9):
    from scipy import ndimage

    smooth, _, _ = _brute_banding(r, y, step, window)
    rs = ndimage.gaussian_filter(r, sigma, mode="nearest") if sigma else r
    ys = ndimage.gaussian_filter(y, sigma, mode="nearest") if sigma else y
    h, w = r.shape
    pairs = steps = 0
    for i in range(h):
        for j in range(w):
            for di, dj in ((0, lag), (lag, 0)):
                a, b = i + di, j + dj
                if a < h and b < w and smooth[i, j] and smooth[a, b]:
                    pairs += 1
                    dy, dr = ys[a, b] - ys[i, j], rs[a, b] - rs[i, j]
                    steps += abs(dy - dr) >= fraction * step and abs(dy) > abs(dr)
    return pairs, steps


@pytest.mark.parametrize("lag,sigma,fraction", [(8, 1.5, 0.25), (3, 0.0, 0.5), (2, 1.0, 0.05)])
def test_soft_banding_matches_a_loop_from_the_definition(lag, sigma, fraction):
    rng = np.random.default_rng(4)
    r = np.cumsum(rng.normal(0.3, 0.4, (22, 25)), axis=1) + rng.normal(0, 0.5, (22, 25))
    y = np.floor(r / 8) * 8 + 4 + rng.normal(0, 1, r.shape)
    s = soft_banding(r, y, 8.0, lag=lag, sigma=sigma, fraction=fraction)
    pairs, steps = _brute_soft(r, y, 8.0, lag, sigma, fraction)
    assert (s.pairs, s.steps) == (pairs, steps) and pairs > 50 and steps > 0


def _brute_banding(r, y, step, window=9):
    h, w = r.shape
    k = window // 2
    smooth = np.zeros((h, w), bool)
    for i in range(h):
        for j in range(w):
            ii = np.clip(np.arange(i - k, i + k + 1), 0, h - 1)
            jj = np.clip(np.arange(j - k, j + k + 1), 0, w - 1)
            win = r[np.ix_(ii, jj)]
            smooth[i, j] = win.max() - win.min() < step
    pairs = jumps = 0
    for i in range(h):
        for j in range(w):
            for di, dj in ((0, 1), (1, 0)):
                a, b = i + di, j + dj
                if a < h and b < w and smooth[i, j] and smooth[a, b]:
                    pairs += 1
                    jumps += abs(y[a, b] - y[i, j]) >= step / 2 and abs(r[a, b] - r[i, j]) < step / 4
    return smooth, pairs, jumps


def test_banding_matches_a_loop_from_the_definition():
    rng = np.random.default_rng(3)
    r = np.cumsum(rng.normal(0.3, 0.4, (20, 23)), axis=1) + rng.normal(0, 0.5, (20, 23))
    y = np.floor(r / 8) * 8 + 4 + rng.normal(0, 1, r.shape)
    smooth, pairs, jumps = _brute_banding(r, y, 8.0)
    assert np.array_equal(smooth_region(r, 8.0), smooth)
    s = banding(r, y, 8.0)
    assert (s.pairs, s.jumps) == (pairs, jumps) and pairs > 50 and jumps > 0


def _brute_cambi_scale0(v, window, mask_window, contrasts, visible):
    h, w = v.shape
    zero = np.zeros((h, w), bool)
    for i in range(h):
        for j in range(w):
            zero[i, j] = (j + 1 >= w or v[i, j] == v[i, j + 1]) and (i + 1 >= h or v[i, j] == v[i + 1, j])
    km = mask_window // 2
    flat = np.zeros((h, w), bool)
    for i in range(h):
        for j in range(w):
            ii = np.clip(np.arange(i - km, i + km + 1), 0, h - 1)
            jj = np.clip(np.arange(j - km, j + km + 1), 0, w - 1)
            flat[i, j] = zero[np.ix_(ii, jj)].mean() > 0.5
    k = window // 2
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            if not flat[i, j]:
                continue
            vals = [v[a, b] for a in range(i - k, i + k + 1) for b in range(j - k, j + k + 1)
                    if 0 <= a < h and 0 <= b < w and flat[a, b]]
            frac = lambda x: sum(1 for u in vals if u == x) / window ** 2  # noqa: E731
            p0 = frac(v[i, j])
            best = 0.0
            for c in contrasts:
                q = max(frac(v[i, j] + c), frac(v[i, j] - c))
                if q + p0 > 0 and visible(v[i, j], c):
                    best = max(best, (1 + np.log2(c)) * p0 * q / (q + p0))
            out[i, j] = best
    return out


def test_cambi_map_matches_a_loop_from_the_definition():
    rng = np.random.default_rng(5)
    levels = np.repeat(np.repeat(rng.integers(0, 4, (4, 5)), 5, 0), 5, 1) * 16 + 60   # flat 5x5 patches
    levels[::7, ::3] += 4                                                         # and some specks
    img = levels.astype(float)
    got = cambi_map(img, scales=1, window=7, mask_window=3, max_log_contrast=7)[0]
    want = _brute_cambi_scale0((img * 4).astype(int), 7, 3, [2 ** i for i in range(8)],
                               lambda v, c: bool(visible_step(np.array(v), c)))
    assert got.max() > 0
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_cambi_contrast_awareness_and_colour():
    bands = np.repeat(np.arange(6) * 16.0 + 100, 24)[None, :].repeat(64, 0)
    assert cambi(bands) > 0
    # the same bands 1/4 code apart (invisible at 10 bits, rounded away) are not banding
    assert cambi(100 + (bands - 100) / 64.0) == 0.0
    rgb = np.stack([bands] * 3, axis=-1)
    assert cambi(rgb, channel_axis=-1) == pytest.approx(cambi(bands))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([8.0, 16.0, 32.0]), st.floats(-50, 50))
def test_banding_invariants(seed, step, shift):
    rng = np.random.default_rng(seed)
    r = np.cumsum(rng.normal(0, step / 6, (12, 14)), axis=0)
    y = np.floor(r / step) * step + rng.uniform(0, step, r.shape)
    s = banding(r, y, step)
    assert 0 <= s.jumps <= s.pairs
    t = banding(r.T, y.T, step)  # transposing swaps the two directions only
    assert (t.jumps, t.pairs) == (s.jumps, s.pairs)
    u = banding(r + shift, y + shift, step)  # a common offset changes nothing
    assert (u.jumps, u.pairs) == (s.jumps, s.pairs)
    f = soft_banding(r, y, step)
    assert 0 <= f.steps <= f.pairs
    g = soft_banding(r.T, y.T, step)
    assert (g.steps, g.pairs) == (f.steps, f.pairs)
    v = soft_banding(r, y + shift, step)  # an offset of the reconstruction alone changes no difference
    assert (v.steps, v.pairs) == (f.steps, f.pairs)


def test_bad_input_is_named():
    a = np.zeros((8, 8))
    with pytest.raises(ValueError, match="step"):
        banding(a, a, 0)
    with pytest.raises(ValueError, match="shape"):
        banding(a, np.zeros((8, 9)), 16)
    with pytest.raises(ValueError, match="channel_axis"):
        banding(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), 16)
    with pytest.raises(ValueError, match="lag"):
        soft_banding(a, a, 16, lag=0)
    with pytest.raises(ValueError, match="sigma"):
        soft_banding(a, a, 16, sigma=-1)
    with pytest.raises(ValueError, match="fraction"):
        soft_banding(a, a, 16, fraction=0)
    with pytest.raises(ValueError, match="NaN"):
        cambi(np.full((8, 8), np.nan))
    with pytest.raises(ValueError, match="window"):
        cambi(a, window=4)
    with pytest.raises(ValueError, match="topk"):
        cambi(a, topk=1.5)
    with pytest.raises(TypeError, match="image"):
        cambi("sky.png")
