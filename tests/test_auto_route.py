"""``solver="auto"``'s route on grid problems (issue #18 point 2): sparse contacts stay on ``pdas``,
dense ones reach ``tnnmg`` after measuring them on the coarsest level, by one rule."""

import numpy as np
import pytest
import skimage.data
from skimage.transform import resize

import qpsolve as qs
from qpsolve.bench.problems import build_problem
from qpsolve.imaging.data import truncate_bits
from qpsolve.solvers.pdas import constants


def _textured(shape, bits=3):
    img = resize(skimage.data.camera().astype(float), shape, order=1, anti_aliasing=False, preserve_range=True)
    return qs.image_problem(truncate_bits(np.rint(img).astype(np.uint8), bits), bits=bits)


def _active(prob, x):
    # contacts counted here from the answer's own gradient, not from the solver's bookkeeping
    g = prob.gradient(x)
    return int(np.count_nonzero(((x <= prob.lower) & (g > 0)) | ((x >= prob.upper) & (g < 0))))


def test_a_textured_photo_goes_to_tnnmg_from_the_coarsest_level():
    # 200 x 300 halves to 50 x 75 and stops (75 is odd): 3 750 pixels, where the contacts of a
    # textured photograph already cover more than DENSE_FRACTION; no PDAS level may run
    prob = _textured((200, 300))
    res = qs.solve(prob)
    assert res.success
    assert res.solver == "pdas" and res.info["fallback"]["solver"] == "tnnmg"
    levels = res.info["levels"]
    assert [(lv["n"], lv["solver"], lv["status"]) for lv in levels] == [(3750, "tnnmg", "dense")]
    assert levels[0]["active"] > constants.DENSE_FRACTION * 3750
    # the answer's own contacts are dense too: the rule measured what the fine level has
    assert _active(prob, res.x) > constants.DENSE_FRACTION * prob.n


def test_the_old_route_through_a_pdas_level_finds_the_same_optimum(monkeypatch):
    # before the rule held on the coarsest level, pcg solved it and PDAS measured the contacts one
    # level up; both routes end at the same certified optimum
    prob = _textured((200, 300))
    new = qs.solve(prob)
    monkeypatch.setattr(constants, "COARSEST_MULTIGRID", 2**15)
    monkeypatch.setattr(constants, "DENSE_MIN_PIXELS", 4000)  # the coarsest level (3 750) is not judged
    old = qs.solve(prob)
    assert [lv["solver"] for lv in old.info["levels"]] == ["pcg", "pdas"]
    assert old.info["levels"][-1]["status"] == "dense"
    assert new.success and old.success
    assert abs(new.objective - old.objective) <= 2e-8 * abs(old.objective) + new.kkt.gap + old.kkt.gap


def test_a_smooth_image_stays_on_pdas_with_a_large_coarsest_level():
    # 600 x 600 halves to 75 x 75: tnnmg solves that coarsest level (5 625 pixels), its contacts are
    # lines, and PDAS climbs to the fine level and certifies there
    prob = build_problem("gaussian2", 600)
    res = qs.solve(prob)
    assert res.success and res.solver == "pdas" and "fallback" not in res.info
    levels = res.info["levels"]
    assert levels[0]["solver"] == "tnnmg" and levels[0]["n"] == 75 * 75 and levels[0]["status"] == "optimal"
    assert [lv["solver"] for lv in levels[1:]] == ["pdas"] * 3 and levels[-1]["n"] == prob.n
    assert _active(prob, res.x) < constants.DENSE_FRACTION * prob.n


@pytest.mark.parametrize("size", [64, 256])
def test_smooth_power_of_two_problems_keep_their_route(size):
    # sides that halve down to 8 x 8: pcg solves the 64 pixels, PDAS every level above
    res = qs.solve(build_problem("gaussian2", size))
    assert res.success and res.solver == "pdas" and "fallback" not in res.info
    assert [lv["solver"] for lv in res.info["levels"]] == ["pcg"] + ["pdas"] * (len(res.info["levels"]) - 1)
    assert res.info["levels"][0]["n"] == 64


def test_the_dense_rule_counts_growth_and_size():
    # the rule's three conditions, each the one that fails
    rule = constants.is_dense
    assert rule(300, 4096, 8, 2000)
    assert not rule(300, constants.DENSE_MIN_PIXELS - 1, 8, 2000)  # too small a level to judge
    assert not rule(int(constants.DENSE_FRACTION * 4096), 4096, 8, 100)  # not more than the fraction
    assert not rule(300, 4096, 4, 2000)  # would still fit on the fine level
    assert rule(300, 4096, 4, 2000, any_size=True)  # ... but the hand-over goes to tnnmg


def test_the_dense_rule_asks_about_tnnmg_only_when_the_share_alone_decides():
    # any_size imports tnnmg (numba): a smooth solve must not pay for the question
    def boom():
        raise AssertionError("asked")

    rule = constants.is_dense
    assert not rule(int(constants.DENSE_FRACTION * 4096), 4096, 8, 100, any_size=boom)  # sparse: not asked
    assert not rule(300, constants.DENSE_MIN_PIXELS - 1, 8, 2000, any_size=boom)  # too small: not asked
    assert rule(300, 4096, 8, 2000, any_size=boom)  # outgrows the Schur complement: not asked
    assert not rule(300, 4096, 4, 2000, any_size=lambda: False)
    assert not rule(300, constants.DENSE_ANY_SIZE_PIXELS - 1, 1, 2000, any_size=boom)  # small: PDAS keeps it


def _tile(bits=3):
    # a 64 x 64 crop of the camera's grass and tripod: a tile of a tiled photograph, dense contacts
    return qs.image_problem(truncate_bits(skimage.data.camera()[448:512, 448:512], bits), bits=bits)


def test_a_dense_photo_tile_goes_to_tnnmg_though_its_schur_complement_would_fit():
    # 4 096 pixels can never hold more contacts than max_active (4 000 + pinned): under the old rule
    # PDAS kept the tile (and stalled there for seconds); now a dense share on any level hands it over
    prob = _tile()
    res = qs.solve(prob)
    assert res.success
    assert res.solver == "pdas" and res.info["fallback"]["solver"] == "tnnmg"
    assert res.info["levels"][-1]["status"] == "dense"
    assert res.info["levels"][-1]["active"] <= constants.default_max_active(prob.n)
    assert _active(prob, res.x) > constants.DENSE_FRACTION * prob.n  # the answer's own contacts: dense


def test_a_dense_tile_stays_on_pdas_with_options_of_the_callers():
    # options of the caller's send a dense set to pcg, not to tnnmg: only a set that outgrows the
    # Schur complement hands over then, as before
    prob = _tile()
    res = qs.solve(prob, solver="pdas", coarse_to_fine=True)
    assert res.success
    assert all(lv["status"] != "dense" for lv in res.info["levels"])
    ref = qs.solve(prob)
    assert abs(res.objective - ref.objective) <= 2e-8 * abs(ref.objective) + res.kkt.gap + ref.kkt.gap


def test_a_dense_strip_stays_on_pdas():
    # a 16-pixel strip: tnnmg's hierarchy barely coarsens it (16 x 400 stopped uncertified after 12 s,
    # 16 x 1024 took 14.5 s through the hand-over against 5.3 s on PDAS), so its dense contacts stay
    # with PDAS, whose Schur complement holds them (4 800 pixels: the size alone would hand over)
    prob = qs.image_problem(truncate_bits(skimage.data.camera()[100:116, 0:300], 3), bits=3)
    assert prob.n >= constants.DENSE_ANY_SIZE_PIXELS
    res = qs.solve(prob)
    assert res.success and res.solver == "pdas" and "fallback" not in res.info
    assert _active(prob, res.x) > constants.DENSE_FRACTION * prob.n


def test_dense_to_tnnmg_is_not_an_option_of_the_callers():
    with pytest.raises(TypeError, match=r"unknown option\(s\): \['dense_to_tnnmg'\]"):
        qs.solve(_tile(), solver="pdas", dense_to_tnnmg=True)


def _stalling_tile():
    return qs.image_problem(truncate_bits(skimage.data.camera()[256:320, 0:64], 2), bits=2)


def test_a_tile_whose_binding_set_turns_dense_in_projected_newton_is_handed_over():
    # camera's rows 256..319, columns 0..63 at 2 bits: PDAS stalls on the fine level with 17 contacts
    # (its unclipped steps leave the box by up to 5e4), and projected Newton, where a stalled level
    # goes, meets about 3 000 of the 4 096 pixels binding once its step is clipped; face steps on
    # them took over a second each (25-57 s for the tile, by the machine's load; tnnmg: 0.06 s).
    # The density rule now holds there too: no face step is solved on a dense set.
    prob = _stalling_tile()
    res = qs.solve(prob)
    assert res.success
    assert res.solver == "pdas" and res.info["fallback"]["solver"] == "tnnmg"
    assert "tnnmg from its own start" in res.message  # a dense hand-over does not pass pdas's point on
    newton = [lv for lv in res.info["levels"] if lv["solver"] == "projected-newton"]
    assert [(lv["status"], lv["iterations"], lv["history"]) for lv in newton] == [("dense", 1, [])]
    assert _active(prob, res.x) > constants.DENSE_FRACTION * prob.n  # the answer's own contacts: dense


def test_projected_newton_keeps_dense_sets_without_the_hand_over():
    # any_size=False (the caller gave pdas options): the rule is the old one, and a binding set that
    # fits max_active is solved on, however dense
    from qpsolve.solvers.pdas.level import Level
    from qpsolve.solvers.pdas.newton import projected_newton

    prob = _tile(3)
    x = prob.lower.copy()  # every pixel on a bound: about half of them binding
    common = dict(tol=1e-8, max_iter=1, max_active=constants.default_max_active(prob.n), deadline=None,
                  verbose=False, label="tile")
    _, status, it, hist = projected_newton(Level(prob, table=True), x, **common)
    assert status != "dense" and len(hist) == 1 and hist[0]["binding"] > constants.DENSE_FRACTION * prob.n
    level = Level(prob, table=True)
    solved_on = []
    face_step = level.face_step
    level.face_step = lambda g, binding: solved_on.append(binding.size) or face_step(g, binding)
    _, status, it, hist = projected_newton(level, x, any_size=True, **common)
    assert (status, it, hist) == ("dense", 1, [])
    assert all(size <= constants.DENSE_FRACTION * prob.n for size in solved_on)  # no face step on it


def test_projected_newton_gets_the_hand_over_rule_only_without_options(monkeypatch):
    # the driver hands projected Newton the PDAS levels' any_size: a callable under auto, False when
    # the caller gave pdas options (then only a set beyond max_active is dense, as before)
    from qpsolve.solvers.pdas import multilevel

    seen = []
    real = multilevel.projected_newton

    def spy(level, x, **kw):
        seen.append(kw.get("any_size", False))
        kw["max_iter"] = 1  # the old route's face steps on 3 000 pixels: one is enough to look at
        return real(level, x, **kw)

    monkeypatch.setattr(multilevel, "projected_newton", spy)
    prob = _stalling_tile()
    qs.solve(prob)
    assert len(seen) == 1 and callable(seen[0]) and seen[0]()
    qs.solve(prob, solver="pdas", coarse_to_fine=True, max_iter=100)
    assert len(seen) == 2 and seen[1] is False
