"""The default ``dequantize`` is content-adaptive (issue #6, item 3; issue #19).

It must beat the bin midpoint on real photographs, and it must do something
sensible on every other input: 1-D signals, volumes, masks, gain, other
models, tiles, explicit envelopes.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

import qpsolve as qs


def _quantize(truth, bits):
    return (truth >> (8 - bits)) << (8 - bits)


def _inside(out, q, bits):
    return bool(np.all(out >= q) and np.all(out <= np.minimum(q.astype(float) + 2 ** (8 - bits), 255)))


#: real scikit-image crops, 8-bit originals, no resampling: camera's coat and
#: tripod against the sky; the one-level texture of moon's craters.
CROPS = {
    "camera": lambda: data.camera()[180:244, 200:264],
    "moon": lambda: data.moon()[300:364, 300:364],
}


@pytest.mark.parametrize("name", sorted(CROPS))
@pytest.mark.parametrize("bits", [3, 4])
def test_default_beats_midpoint_on_real_photo_crop(name, bits):
    """Also at 3 bits, where these 64-px crops are one-level texture: pinning the textured
    pixels lost to the midpoint there (camera 28.51 dB against 30.16, moon 26.68 against
    34.95: the plate crossed the islands from bin edge to bin edge); the blend keeps the
    plate only near the level transitions."""
    truth = CROPS[name]()
    q = _quantize(truth, bits)
    mid = q + 2 ** (8 - bits) / 2.0
    out, res = qs.dequantize(q, bits=bits, return_result=True)
    assert res.success and _inside(out, q, bits)
    t = truth.astype(float)
    psnr = lambda o: peak_signal_noise_ratio(t, o, data_range=255)  # noqa: E731
    ssim = lambda o: structural_similarity(t, o, data_range=255)  # noqa: E731
    assert psnr(out) > psnr(mid), (psnr(out), psnr(mid))
    if (name, bits) == ("moon", 3):
        # 4076 of its 4096 pixels are one level: the plate is any plane inside that bin and
        # the blend keeps 0.2 of it; SSIM 0.9305 against the midpoint's 0.9349 (not above;
        # PSNR 35.73 against 34.95)
        assert ssim(out) > ssim(mid) - 0.005, (ssim(out), ssim(mid))
    else:
        assert ssim(out) > ssim(mid), (ssim(out), ssim(mid))


def test_default_is_a_named_blend_of_the_papers_qp_and_false_is_the_paper():
    from qpsolve.imaging.photo import blend_weights

    q = _quantize(CROPS["camera"](), 3)
    out, res = qs.dequantize(q, bits=3, return_result=True)
    # result.x is the certified solution of the paper's QP on the quantizer's envelopes ...
    ref = qs.solve(qs.image_problem(q, bits=3))
    assert res.success and abs(res.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))
    assert "adaptive" not in res.info and "blend" in res.info
    # ... and the image returned is c + w (x - c), as res.info['blend'] says
    lo = q.astype(float)
    hi = np.minimum(lo + 32, 255)
    c = (lo + hi) / 2
    w = blend_weights(lo, hi)
    np.testing.assert_allclose(out, c + w * (res.x.reshape(q.shape) - c), rtol=0, atol=1e-9)
    assert abs(res.info["blend"]["mean_weight"] - w.mean()) < 1e-12
    assert _inside(out, q, 3) and not np.allclose(out, res.x.reshape(q.shape))
    explicit = qs.dequantize(q, bits=3, adaptive=True)
    assert np.array_equal(out, explicit)
    plate, pres = qs.dequantize(q, bits=3, adaptive=False, return_result=True)
    assert "adaptive" not in pres.info and "photo" not in pres.info and "blend" not in pres.info
    assert abs(pres.objective - ref.objective) <= 1e-6 * max(1.0, abs(ref.objective))
    assert qs.dequantize(q, bits=3, adaptive=None).tolist() == plate.tolist()


def test_pin_mode_returns_the_certified_pinned_qp():
    from qpsolve.imaging.photo import textured

    q = _quantize(CROPS["camera"](), 3)
    out, res = qs.dequantize(q, bits=3, adaptive={"mode": "pin"}, return_result=True)
    assert "blend" not in res.info and np.array_equal(out, res.x.reshape(q.shape))
    lo = q.astype(float)
    hi = np.minimum(lo + 32, 255)
    tex = textured(lo, hi, 9)
    assert res.info["photo"].textured == int(tex.sum()) > 0
    mid = (lo + hi) / 2
    stated = qs.solve(qs.image_problem(q, lower=np.where(tex, mid, lo), upper=np.where(tex, mid, hi)))
    assert abs(res.objective - stated.objective) <= 1e-6 * max(1.0, abs(stated.objective))


@pytest.mark.parametrize("tile", [None, 40])
def test_benchmark_applies_the_blend_the_default_call_returns(tile):
    """benchmarks.photo_quality scores the default as the blend of its cached plate: the same image."""
    from benchmarks.photo_quality import default_from_plate

    rgb = data.astronaut()[200:264, 180:244]
    for img, colour in ((_quantize(CROPS["moon"](), 4), False), (_quantize(rgb, 4), True)):
        axis = -1 if colour else None
        plate = qs.dequantize(img, bits=4, adaptive=False, tile=tile, channel_axis=axis)
        default = qs.dequantize(img, bits=4, tile=tile, channel_axis=axis)
        derived, means = default_from_plate(img, plate, 4, colour)
        assert len(means) == (3 if colour else 1)
        np.testing.assert_allclose(derived, default, rtol=0, atol=1e-3)  # two solves of one QP, tol 1e-8


def test_default_on_a_1d_signal():
    x = np.linspace(0, 1, 200)
    truth = np.clip(np.rint(255 * (0.5 + 0.4 * np.sin(6 * x)) + 60 * (x > 0.7)), 0, 255).astype(np.uint8)
    q = _quantize(truth, 3)
    out, res = qs.dequantize(q, bits=3, return_result=True)
    assert res.success and _inside(out, q, 3) and "photo" in res.info
    assert res.info["photo"].textured > 0  # the step at x = 0.7 is more than one level


def test_default_on_a_volume_and_other_models():
    z, y, x = np.mgrid[0:6, 0:10, 0:10]
    truth = np.clip(20 * x + 10 * y + 5 * z, 0, 255).astype(np.uint8)
    q = _quantize(truth, 4)
    out, res = qs.dequantize(q, bits=4, return_result=True)
    assert res.success and _inside(out, q, 4) and out.shape == q.shape
    for model, kw in (("mixed", {"alpha": 0.1}), ("thin-plate", {}), ("laplace", {})):
        o, r = qs.dequantize(q[0], bits=4, model=model, bc="even", return_result=True, **kw)
        assert r.success and _inside(o, q[0], 4), model


def test_default_with_mask_gain_levels_and_explicit_envelopes():
    q = _quantize(CROPS["camera"]()[:32, :32], 3)
    mask = np.ones(q.shape, bool)
    mask[:5, :5] = False
    out = qs.dequantize(q, bits=3, mask=mask)
    assert np.array_equal(out[~mask], q[~mask].astype(float))
    assert _inside(out[mask], q[mask], 3)
    dark = (q // 4).astype(np.uint8)
    bright, res = qs.dequantize(dark, bits=8, gain=0.25, return_result=True)
    assert res.success and np.all(bright >= dark / 0.25) and np.all(bright <= (dark + 1.0) / 0.25)
    levels = np.arange(0, 256, 32)
    lv = qs.dequantize(q, levels=levels)
    assert np.allclose(lv, qs.dequantize(q, bits=3))
    lo = q.astype(float)
    hi = np.minimum(lo + 32, 255)
    ex = qs.dequantize(q, lower=lo, upper=hi)
    assert np.allclose(ex, qs.dequantize(q, bits=3))


def test_default_with_tiles_matches_untiled_within_tolerance():
    q = _quantize(CROPS["camera"](), 4)
    full, fres = qs.dequantize(q, bits=4, return_result=True)
    tiled, tres = qs.dequantize(q, bits=4, tile=40, return_result=True)
    assert tres.success and tres.info["polished"] and tres.info["tiles"] == 4
    rel = abs(tres.objective - fres.objective) / max(1.0, abs(fres.objective))
    assert rel <= 10 * tres.kkt.tol
    assert _inside(tiled, q, 4)


def _brute_textured(lo, hi, window, residual, ties=None):
    """``qpsolve.imaging.photo.textured`` from its definition: loops and a least-squares plane per window.

    ``ties``, a boolean array, is set where the mean squared residual equals ``residual**2``
    to 1e-9 (either answer is right there: a fast filter and lstsq round differently)."""
    h, w = lo.shape
    k = window // 2
    unit = np.median((hi - lo)[hi > lo])
    out = np.zeros((h, w), bool)
    for i in range(h):
        for j in range(w):
            ii = np.clip(np.arange(i - k, i + k + 1), 0, h - 1)  # edge pixels repeated ("nearest")
            jj = np.clip(np.arange(j - k, j + k + 1), 0, w - 1)
            wl, wh = lo[np.ix_(ii, jj)], hi[np.ix_(ii, jj)]
            if not wl.max() > wh.min():
                continue
            c = ((wl + wh) / 2 / unit).ravel()
            dy, dx = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1), indexing="ij")
            A = np.column_stack([np.ones(c.size), dy.ravel(), dx.ravel()])
            coef = np.linalg.lstsq(A, c, rcond=None)[0]
            var = np.mean((c - A @ coef) ** 2)
            out[i, j] = var > residual ** 2
            if ties is not None:
                ties[i, j] = abs(var - residual ** 2) < 1e-9
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_textured_matches_its_definition(seed):
    from qpsolve.imaging.photo import PLANE_RESIDUAL, textured

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:18, 0:21]
    truth = 60 + 9 * x + 40 * (y > 9) + rng.normal(0, 6 * seed, x.shape)  # steep ramp, an edge, noise
    q = _quantize(np.clip(np.rint(truth), 0, 255).astype(np.uint8), 4)
    lo = q.astype(float)
    hi = np.minimum(lo + 16, 255)
    for window in (3, 5, 9):
        got = textured(lo, hi, window)
        assert np.array_equal(got, _brute_textured(lo, hi, window, PLANE_RESIDUAL))
    got = textured(lo, hi, 5)
    assert got.any() and not got.all()
    if seed == 0:
        assert not got[:7].any()  # the steep ramp alone (no noise, away from the edge) is smooth


def test_default_removes_the_bands_of_a_sky_and_keeps_the_texture():
    """camera's sky above the city line, 4 bits: bands gone (banding measure), texture at its bin centres."""
    from qpsolve.metrics import banding
    from qpsolve.imaging.photo import textured

    truth = data.camera()[110:190, 400:512]  # sky, a tower, domes
    q = _quantize(truth, 4)
    mid = q + 8.0
    out, res = qs.dequantize(q, bits=4, return_result=True)
    assert res.success and _inside(out, q, 4)
    t = truth.astype(float)
    assert banding(t, out, 16).jumps_per_1000 <= 0.05 * banding(t, mid, 16).jumps_per_1000
    assert peak_signal_noise_ratio(t, out, data_range=255) > peak_signal_noise_ratio(t, mid, data_range=255)
    assert structural_similarity(t, out, data_range=255) > structural_similarity(t, mid, data_range=255)
    lo = q.astype(float)
    hi = np.minimum(lo + 16, 255)  # the top bin ends at 255
    tex = textured(lo, hi)
    c = (lo + hi) / 2
    plate = res.x.reshape(q.shape)
    # texture stays near its bin centres: at most a third of the plate's departure from them
    assert tex.any() and np.abs(out - c)[tex].mean() <= np.abs(plate - c)[tex].mean() / 3


def _brute_nearest(mask):
    """Euclidean distance (loops over pixels) to the nearest ``True`` pixel of ``mask``; infinite without any."""
    pts = np.argwhere(mask)
    h, w = mask.shape
    out = np.full((h, w), np.inf)
    for i in range(h):
        for j in range(w):
            if len(pts):
                out[i, j] = np.sqrt(((pts - [i, j]) ** 2).sum(axis=1)).min()
    return out


def _brute_distance(lo, hi):
    """Distance of every pixel to the nearest pixel with a 4-neighbour of other envelopes (loops)."""
    h, w = lo.shape
    edge = np.zeros((h, w), bool)
    for i in range(h):
        for j in range(w):
            for ii, jj in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
                if 0 <= ii < h and 0 <= jj < w and (lo[ii, jj] != lo[i, j] or hi[ii, jj] != hi[i, j]):
                    edge[i, j] = True
    return _brute_nearest(edge)


def _brute_clean(c, window, excess):
    """``clean_transitions`` from its definition: per line of the window, total minus net change."""
    h, w = c.shape
    k = window // 2
    pad = np.pad(c, k, mode="edge")
    extra = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            win = pad[i:i + window, j:j + window]  # centred on (i, j), edges repeated
            rows = [np.abs(np.diff(r)).sum() - abs(r[-1] - r[0]) for r in win]
            cols = [np.abs(np.diff(col)).sum() - abs(col[-1] - col[0]) for col in win.T]
            extra[i, j] = (np.mean(rows) + np.mean(cols)) / (window - 1)
    clean = np.clip(1 - extra / excess, 0, 1)
    out = np.empty((h, w))
    cp = np.pad(clean, k, mode="edge")
    for i in range(h):
        for j in range(w):
            out[i, j] = cp[i:i + window, j:j + window].min()
    return out


def _levels(seed, noise):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:14, 0:17]
    return np.floor(x * rng.uniform(0, 0.4) + y * rng.uniform(0, 0.4) + noise * rng.normal(0, rng.uniform(0, 0.8), x.shape))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), window=st.sampled_from([3, 5, 9]), excess=st.floats(0.02, 0.5))
def test_clean_transitions_match_their_definition(seed, window, excess):
    from qpsolve.imaging.photo import clean_transitions

    lo = 16.0 * _levels(seed, 1.0)
    got = clean_transitions(lo, lo + 16, window, excess=excess)
    np.testing.assert_allclose(got, _brute_clean(lo / 16, window, excess), rtol=0, atol=1e-9)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), reach=st.floats(0.5, 10), floor=st.floats(0, 1), texture=st.floats(0, 1),
       window=st.sampled_from([3, 5, 9]), noise=st.sampled_from([0.0, 1.0]))
def test_blend_weights_match_their_definition(seed, reach, floor, texture, window, noise):
    """The near term exactly (far and open terms switched off); with clean contours (a noise-free
    ramp, cleanness 1 everywhere) the near and far terms exactly; always in [min(floor, texture), 1]."""
    from qpsolve.imaging.photo import blend_weights

    lo = 16.0 * _levels(seed, noise)
    hi = lo + 16
    d = _brute_distance(lo, hi)
    ties = np.zeros(lo.shape, bool)
    tex = _brute_textured(lo, hi, window, 0.4, ties)
    sure = ~ties
    off = dict(far_reach=1e-9, open_reach=1e-9)
    got = blend_weights(lo, hi, reach=reach, floor=floor, texture=texture, window=window, sigma=0, **off)
    want = np.where(tex, texture, floor + (1 - floor) * np.exp(-d / reach))
    np.testing.assert_allclose(got[sure], want[sure], rtol=0, atol=1e-12)
    if noise == 0 and np.isfinite(d).all():
        assert _brute_clean(lo / 16, window, 0.1).min() == 1  # a monotone ramp's contours are clean
        far = 8 * reach
        got = blend_weights(lo, hi, reach=reach, far_reach=far, open_reach=1e-9, floor=floor, texture=texture,
                            window=window, sigma=0)
        near = np.maximum(np.exp(-d / reach), np.exp(-d / far))  # k = 1 up to the 1e-6 of its denominator
        close = (d <= far / 2) & sure
        want = np.where(tex, texture, floor + (1 - floor) * near)
        np.testing.assert_allclose(got[close], want[close], rtol=0, atol=1e-3)
    smooth = blend_weights(lo, hi, reach=reach, floor=floor, texture=texture, window=window)
    assert np.all((smooth >= min(floor, texture) - 1e-12) & (smooth <= 1 + 1e-12))


def _brute_contour_distance(d, min_size):
    """Distance (loops) to the nearest transition pixel (``d == 0``) of an 8-connected group of at least
    ``min_size`` transition pixels, the groups found by a flood fill."""
    h, w = d.shape
    edge = d == 0
    group = -np.ones((h, w), int)
    sizes = []
    for i in range(h):
        for j in range(w):
            if edge[i, j] and group[i, j] < 0:
                group[i, j] = len(sizes)
                stack, n = [(i, j)], 0
                while stack:
                    a, b = stack.pop()
                    n += 1
                    for da in (-1, 0, 1):
                        for db in (-1, 0, 1):
                            aa, bb = a + da, b + db
                            if 0 <= aa < h and 0 <= bb < w and edge[aa, bb] and group[aa, bb] < 0:
                                group[aa, bb] = group[i, j]
                                stack.append((aa, bb))
                sizes.append(n)
    return _brute_nearest(edge & (group >= 0) & (np.array(sizes + [0])[group] >= min_size))


def _brute_open(tex, near, far):
    """The open-area factor from its definition: distance (loops) to the nearest textured pixel, ramped."""
    t = _brute_nearest(tex)  # infinite without texture: the factor is 1 there
    return np.clip((t - near) / (far - near), 0.0, 1.0)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), open_reach=st.floats(0.5, 20), open_near=st.floats(0, 6),
       span=st.floats(0.5, 20), floor=st.floats(0, 1), texture=st.floats(0, 1), noise=st.sampled_from([0.0, 1.0]),
       blobs=st.integers(0, 3), open_contour=st.integers(1, 40))
def test_blend_weights_open_term_matches_its_definition(seed, open_reach, open_near, span, floor, texture, noise,
                                                         blobs, open_contour):
    """The open-area term (near and far terms switched off, a given textured mask) against loops:
    ``floor + (1 - floor) * max(exp(-d / 1e-9), o * exp(-d_c / open_reach))``, ``o`` ramped by the
    distance to texture, ``d_c`` the distance to contours (groups of transitions); then the invariants of the full default weights on the same input: in
    [floor, 1] off texture, ``texture`` on it, 1 on every transition pixel that is not textured."""
    from qpsolve.imaging.photo import blend_weights

    rng = np.random.default_rng(seed)
    lo = 16.0 * _levels(seed, noise)
    hi = lo + 16
    tex = np.zeros(lo.shape, bool)
    for _ in range(blobs):
        i, j = rng.integers(0, lo.shape[0]), rng.integers(0, lo.shape[1])
        tex[max(0, i - 1):i + 2, max(0, j - 1):j + 2] = True
    d = _brute_distance(lo, hi)
    o = _brute_open(tex, open_near, open_near + span)
    dc = _brute_contour_distance(d, open_contour)
    got = blend_weights(lo, hi, reach=1e-9, far_reach=1e-9, open_reach=open_reach, open_near=open_near,
                        open_far=open_near + span, floor=floor, texture=texture, sigma=0, textured_mask=tex,
                        open_contour=open_contour)
    near = np.maximum(np.where(d == 0, 1.0, 0.0), o * np.exp(-dc / open_reach))
    want = np.where(tex, texture, floor + (1 - floor) * near)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    w = blend_weights(lo, hi, floor=floor, texture=texture, sigma=0, textured_mask=tex)
    assert np.all(w[tex] == texture)
    assert np.all((w[~tex] >= floor - 1e-12) & (w[~tex] <= 1 + 1e-12))
    assert np.all(np.abs(w[(d == 0) & ~tex] - 1.0) <= 1e-12)
    smooth = blend_weights(lo, hi, floor=floor, texture=texture, textured_mask=tex)
    assert np.all((smooth >= min(floor, texture) - 1e-12) & (smooth <= 1 + 1e-12))


def test_open_term_lifts_the_soft_band_of_a_frayed_sky_contour():
    """rocket's sky at 4 bits (a crop with contours frayed by noise, no texture nearby): the open-area
    term keeps the plate further from the frayed contours; the soft steps the v1 blend (``exp(-d / 2)``
    there) left are fewer, PSNR higher, and no step-jump comes back."""
    from qpsolve.imaging.photo import blend_weights
    from qpsolve.metrics import banding, soft_banding

    truth = data.rocket()[0:96, 352:480]
    gray = np.rint(truth.astype(float) @ [0.2125, 0.7154, 0.0721]).astype(np.uint8)
    q = _quantize(gray, 4)
    out, res = qs.dequantize(q, bits=4, return_result=True)
    assert res.success and _inside(out, q, 4)
    lo = q.astype(float)
    hi = lo + 16
    c = (lo + hi) / 2
    x = res.x.reshape(q.shape)
    v1 = c + blend_weights(lo, hi, open_reach=1e-9) * (x - c)
    t = gray.astype(float)
    mid = q + 8.0
    assert soft_banding(t, out, 16).per_1000 < 0.7 * soft_banding(t, v1, 16).per_1000
    assert soft_banding(t, out, 16).per_1000 < 0.2 * soft_banding(t, mid, 16).per_1000
    assert peak_signal_noise_ratio(t, out, data_range=255) > peak_signal_noise_ratio(t, v1, data_range=255)
    assert banding(t, out, 16).jumps_per_1000 <= 0.05 * banding(t, mid, 16).jumps_per_1000


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), bits=st.integers(2, 5))
def test_default_stays_inside_the_envelopes(seed, bits):
    """Any picture: the blend of two points of the box stays in the box, the QP is certified."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:20, 0:24]
    truth = np.clip(128 + 60 * np.sin(x / rng.uniform(2, 12)) + 40 * (y > rng.integers(0, 20))
                    + rng.normal(0, rng.uniform(0, 20), x.shape), 0, 255).astype(np.uint8)
    q = _quantize(truth, bits)
    out, res = qs.dequantize(q, bits=bits, return_result=True)
    assert res.success and _inside(out, q, bits)


def test_blend_options_are_checked():
    q = _quantize(CROPS["camera"]()[:16, :16], 3)
    with pytest.raises(ValueError, match=r"adaptive\['floor'\]"):
        qs.dequantize(q, bits=3, adaptive={"floor": 1.5})
    with pytest.raises(ValueError, match=r"adaptive\['reach'\]"):
        qs.dequantize(q, bits=3, adaptive={"reach": 0})
    with pytest.raises(ValueError, match=r"adaptive\['mode'\]"):
        qs.dequantize(q, bits=3, adaptive={"mode": "soft"})
    with pytest.raises(ValueError, match=r"adaptive\['open_far'\] must be larger"):
        qs.dequantize(q, bits=3, adaptive={"open_near": 10, "open_far": 5})
    with pytest.raises(ValueError, match=r"adaptive\['open_reach'\]"):
        qs.dequantize(q, bits=3, adaptive={"open_reach": -1})
    from qpsolve.imaging.photo import blend_weights

    with pytest.raises(ValueError, match="textured_mask"):
        blend_weights(np.zeros((4, 4)), np.ones((4, 4)), textured_mask=np.zeros((3, 3), bool))
