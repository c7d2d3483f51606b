"""What the photo pipeline keeps alive while a channel is solved (the peak memory of a large photograph).

The checks count arrays, not bytes: during the solve, the image-sized float64 arrays reachable from
the pipeline's frames that are not the problem's own bounds.  A regression (a second copy of the
envelopes, the input values kept without a mask) adds image-sized arrays there.
"""

import sys

import numpy as np
import pytest
import skimage.data

import qpsolve as qs
from qpsolve.imaging.tiles import GridBounds
from qpsolve.model.operators import GridSpec


def _arrays(obj, depth=0):
    """The ndarrays in ``obj``: itself, or inside tuples, lists, dicts and qpsolve objects (a few levels)."""
    if isinstance(obj, np.ndarray):
        yield obj
    elif depth < 3:
        if isinstance(obj, (tuple, list)):
            items = obj
        elif isinstance(obj, dict):
            items = obj.values()
        elif type(obj).__module__.startswith("qpsolve") and hasattr(obj, "__dict__"):
            items = vars(obj).values()
        else:
            return
        for item in items:
            yield from _arrays(item, depth + 1)


def _held_besides(prob):
    """Distinct image-sized float64 buffers the qpsolve frames on the stack hold, other than ``prob``'s."""
    own = [prob.lower, prob.upper, prob.q]
    held = []
    frame = sys._getframe(1)
    while frame is not None:
        if "qpsolve" in frame.f_code.co_filename:
            for a in _arrays(list(frame.f_locals.values())):
                if (a.dtype == np.float64 and a.size == prob.n and not any(np.shares_memory(a, o) for o in own)
                        and not any(np.shares_memory(a, h) for h in held)):
                    held.append(a)
        frame = frame.f_back
    return held


@pytest.mark.parametrize("where, adaptive, expected", [
    ("qpsolve.imaging.photo", True, 0),    # the default pipeline: the blend weights are made after the solve
    ("qpsolve.imaging.image", False, 0),   # the plain plate
])
def test_pipeline_holds_no_image_sized_copies_during_the_solve(monkeypatch, where, adaptive, expected):
    img = (skimage.data.camera()[100:164, 200:264] >> 4) << 4
    real = qs.solve
    seen = []

    def spying(prob, **kw):
        seen.append(len(_held_besides(prob)))
        return real(prob, **kw)

    monkeypatch.setattr(f"{where}.solve", spying)
    out = qs.dequantize(img, bits=4, adaptive=adaptive)
    assert seen == [expected]
    assert np.all(out >= img) and np.all(out <= img + 16.0)


def test_grid_bounds_problem_shares_private_bounds():
    """GridBounds copies the caller's bounds once; its problems use that copy, which the caller cannot reach."""
    lo, hi = np.zeros((4, 5)), np.ones((4, 5))
    gb = GridBounds(lo, hi, GridSpec(shape=(4, 5)))
    prob = gb.problem()
    assert prob.lower is gb.lower and prob.upper is gb.upper
    assert not np.shares_memory(gb.lower, lo) and not np.shares_memory(gb.upper, hi)
    lo[:] = -5.0
    hi[:] = 7.0
    assert prob.lower.tolist() == [0.0] * 20 and prob.upper.tolist() == [1.0] * 20


def test_grid_bounds_copies_in_c_order():
    """A transposed (Fortran-ordered) input is read in C order, as before, and still copied."""
    a = np.arange(20.0).reshape(5, 4).T
    gb = GridBounds(a, a + 1, GridSpec(shape=(4, 5)))
    assert gb.lower.tolist() == a.ravel().tolist() and gb.lower.flags.c_contiguous
    assert gb.problem().lower is gb.lower


def test_boxqp_still_copies_the_callers_bounds():
    """Only the private path shares: the constructor protects a problem from its caller's later writes."""
    import scipy.sparse as sp

    lo, hi = np.zeros(3), np.ones(3)
    prob = qs.BoxQP(sp.identity(3), lo, hi)
    assert not np.shares_memory(prob.lower, lo) and not np.shares_memory(prob.upper, hi)
    lo[:] = -1.0
    assert prob.lower.tolist() == [0.0, 0.0, 0.0]


def test_shrunk_envelopes_get_their_weights_before_the_solve():
    """With ``shrink`` the weights come from the envelopes before the shrink: made at once, noted at once."""
    from qpsolve.imaging import photo

    img = (skimage.data.camera()[100:164, 200:264] >> 4) << 4
    kw = dict(rounding="floor", step=None, levels=None, lower=None, upper=None, confidence=None,
              data_range=None, alpha=1.0, beta=1.0, gain=None)
    for shrink, made in ((1.0, False), (2.0, True)):
        _, _, rep, _, weights = photo._channel_problem(img, 4, "biharmonic", "odd", None, kw,
                                                       {"shrink": shrink}, None)
        assert isinstance(weights, np.ndarray) == made
        assert any("mean weight" in n for n in rep.notes) == made


def test_weights_made_after_the_solve_are_the_weights_before_it():
    """The pending weights read the problem's own envelopes after the solve: no solver may have written to them."""
    from qpsolve.imaging import photo

    rng = np.random.default_rng(5)
    img = skimage.data.camera()[100:164, 200:264].astype(np.int64)
    img[rng.random(img.shape) < 0.02] = 255  # outliers, so that some pixels are relaxed (weight 1)
    img = ((np.clip(img, 0, 255) >> 4) << 4).astype(np.uint8)
    kw = dict(rounding="floor", step=None, levels=None, lower=None, upper=None, confidence=None,
              data_range=None, alpha=1.0, beta=1.0, gain=None)
    bounds, _, _, _, weights = photo._channel_problem(img, 4, "biharmonic", "odd", None, kw, True, "replace")
    assert isinstance(weights, photo._PendingWeights) and weights.relaxed.any()
    lo, hi = bounds.lower.copy(), bounds.upper.copy()
    before = weights.make(lo.reshape(img.shape), hi.reshape(img.shape))
    res = qs.solve(bounds.problem())
    assert res.success
    assert np.array_equal(bounds.lower, lo) and np.array_equal(bounds.upper, hi)
    # blended with the pending weights (made now, from the problem's envelopes) as with the weights made before
    assert np.array_equal(photo._blend(res.x, bounds, weights)[0], photo._blend(res.x, bounds, before)[0])
