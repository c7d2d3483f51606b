"""The (t, y, x) energy of a video chunk against its formula written out by hand."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import qpsolve as qs
from qpsolve.model.temporal import temporal_continuity, temporal_energy


def _energy_by_hand(f, weight, keep, P2):
    """sum_t f_t^T P2 f_t + weight * sum over kept interior frames of (f[t-1] - 2 f[t] + f[t+1])^2."""
    total = sum(float(ft.ravel() @ P2 @ ft.ravel()) for ft in f)
    for t in range(1, f.shape[0] - 1):
        d = f[t - 1] - 2 * f[t] + f[t + 1]
        total += weight * float(np.sum(np.where(keep[t], d * d, 0.0)))
    return total


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 5), h=st.integers(2, 5), w=st.integers(2, 5), weight=st.floats(0, 10),
       seed=st.integers(0, 2**31 - 1))
def test_energy_is_the_frames_plates_plus_the_kept_temporal_bending(T, h, w, weight, seed):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(T, h, w))
    keep = rng.random((T, h, w)) < 0.6
    P2 = qs.image_problem(np.zeros((h, w)), step=1.0, bc="even").P  # one frame's plate, by the public API
    P = temporal_energy((T, h, w), bc="even", weight=weight, keep=keep)
    expected = _energy_by_hand(f, weight, keep, P2)
    assert float(f.ravel() @ P @ f.ravel()) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert abs(P - P.T).max() == 0


def test_a_two_frame_chunk_is_two_independent_plates():
    P = temporal_energy((2, 3, 4), weight=7.0).toarray()
    assert np.all(P[:12, 12:] == 0)  # no temporal row: the odd rule has none at a chunk's ends


def test_continuity_keeps_one_level_changes_and_drops_cuts():
    step = 32.0
    lo = np.zeros((5, 2, 3))
    lo[2:, 0, 0] = 32.0            # a contour crossed the pixel: one level
    lo[3:, 1, 1] = 96.0            # a cut: three levels
    keep = temporal_continuity(lo, lo + step)
    assert keep[0].sum() == 0 and keep[-1].sum() == 0          # no temporal row at the ends
    assert keep[1:4, 0, 0].all()
    assert keep[1, 1, 1] and not keep[2, 1, 1] and not keep[3, 1, 1]
    with pytest.raises(ValueError, match="jump"):
        temporal_continuity(lo, lo + step, jump=-1)
    with pytest.raises(ValueError, match="keep must have the chunk's shape"):
        temporal_energy((5, 2, 3), keep=keep[:4])
