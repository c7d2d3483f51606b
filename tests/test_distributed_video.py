"""Video on a real Dask LocalCluster (two process workers): both modes against direct solves, formats, errors."""

import json

import av
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import qpsolve as qs
from qpsolve.cli import main
from qpsolve.distributed import dequantize_video, flicker
from qpsolve.distributed.clips import moving_scene, quantize, write_clip
from qpsolve.distributed.frames import to_uint16
from qpsolve.distributed.start import coarse_start, restrict
from qpsolve.distributed.video import chunk_starts, psnr, read_planes, solve_chunk, tent_weights
from qpsolve.imaging.tiles import tile_slices
from qpsolve.imaging.io import read_image


@pytest.fixture(scope="module")
def gray_clip(tmp_path_factory):
    """A blob drifting right by 0.3 px per frame, truncated to 3 bits, 12 frames of 24 x 40, with audio."""
    truth = moving_scene(12, 24, 40, speed=0.3)
    q = quantize(truth, 3)
    path = tmp_path_factory.mktemp("clip") / "gray.mkv"
    write_clip(path, q, audio=True)
    return path, truth[0], q[0]


def _decoded(path):
    fmt, planes, pts = read_planes(path)
    return fmt, planes, pts


def test_frame_by_frame_equals_dequantize_of_each_frame(client, gray_clip, tmp_path):
    path, truth, q = gray_clip
    rep = dequantize_video(path, tmp_path / "out.mkv", bits=3, client=client)
    assert rep.frames == 12 and rep.chunks == 12 and rep.uncertified == 0 and rep.audio and rep.exit_status == 0
    fmt, planes, pts = _decoded(tmp_path / "out.mkv")
    assert fmt.name == "gray16le" and pts == _decoded(path)[2]
    expected = np.stack([to_uint16(qs.dequantize(f, bits=3, bc="even"), 8) for f in q])
    np.testing.assert_array_equal(planes[0], expected)
    with av.open(str(tmp_path / "out.mkv")) as c, av.open(str(path)) as src:
        assert c.streams.video[0].average_rate == src.streams.video[0].average_rate == 25
        assert [s.codec_context.name for s in c.streams] == ["ffv1", "flac"]
        kept = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]
        orig = [bytes(p) for p in src.demux(src.streams.audio[0]) if p.size]
        assert kept == orig and kept


def _temporal_qp(q, weight=1.0):
    """The stated temporal QP of a (T, h, w) 3-bit block, built here from the public 2-D problems.

    Per frame: qs.image_problem's plate and envelopes; between frames: weight * (f[t-1] - 2 f[t] + f[t+1])^2
    at interior frames where the bin centres of t-1, t, t+1 step by at most one level.
    """
    import scipy.sparse as sp

    probs = [qs.image_problem(f, bits=3, bc="even") for f in q]
    lo = np.stack([p.lower.reshape(f.shape) for p, f in zip(probs, q)])
    hi = np.stack([p.upper.reshape(f.shape) for p, f in zip(probs, q)])
    T, h, w = q.shape
    idx = np.arange(T * h * w).reshape(T, h, w)
    c = 0.5 * (lo + hi)
    rows, cols, vals, r = [], [], [], 0
    for t in range(1, T - 1):
        for i in range(h):
            for j in range(w):
                if abs(c[t, i, j] - c[t - 1, i, j]) <= 32 and abs(c[t + 1, i, j] - c[t, i, j]) <= 32:
                    rows += [r, r, r]
                    cols += [idx[t - 1, i, j], idx[t, i, j], idx[t + 1, i, j]]
                    vals += [1.0, -2.0, 1.0]
                    r += 1
    D = sp.csr_matrix((vals, (rows, cols)), shape=(r, T * h * w))
    P = sp.block_diag([p.P for p in probs]) + weight * (D.T @ D)
    return qs.BoxQP(P, lo, hi), lo, hi


def test_temporal_equals_the_stated_qp_when_one_chunk_holds_the_clip(client, gray_clip, tmp_path):
    q = gray_clip[2][3:9, 4:20, 8:32]  # 6 frames of 16 x 24, where the blob's contours move
    path = write_clip(tmp_path / "s.mkv", [q])
    rep = dequantize_video(path, tmp_path / "t.mkv", bits=3, temporal=6, client=client, adaptive=False,
                           temporal_weight=1.0)
    assert rep.chunks == 1 and rep.uncertified == 0
    assert [(c["first"], c["last"], c["uncertified"]) for c in rep.chunk_reports] == [(1, 6, 0)]
    # the QP built independently, solved by another certified solver from its own start
    # (the video path runs pcg from the frames' 2-D answers): equal up to one 16-bit step
    prob, lo, _ = _temporal_qp(q)
    assert 0 < np.count_nonzero(np.diff(lo, axis=0)) < lo.size // 4  # contours moved: the mask has work
    res = qs.solve(prob, solver="cvxpy")
    assert res.success
    out = _decoded(tmp_path / "t.mkv")[1][0].astype(np.int64)
    assert np.abs(out - to_uint16(res.x.reshape(q.shape), 8)).max() <= 1


def test_temporal_with_two_frame_chunks_is_frame_by_frame(client, gray_clip, tmp_path):
    # a 2-frame chunk has no interior frame, so no temporal row: each frame is its own plate (the
    # isotropic 3-D plate this replaced froze such a chunk: its even rule in time pinned the slope to 0)
    path, truth, q = gray_clip
    rep = dequantize_video(path, tmp_path / "t.mkv", bits=3, temporal=2, overlap=0, client=client)
    assert rep.chunks == 6 and rep.uncertified == 0
    dequantize_video(path, tmp_path / "f.mkv", bits=3, client=client)
    t, f = (_decoded(tmp_path / n)[1][0].astype(np.int64) for n in ("t.mkv", "f.mkv"))
    assert np.abs(t - f).max() <= 1


def test_temporal_flickers_less_than_frames_and_both_beat_the_midpoint(client, gray_clip, tmp_path):
    path, truth, q = gray_clip
    dequantize_video(path, tmp_path / "f.mkv", bits=3, client=client)
    rep = dequantize_video(path, tmp_path / "t.mkv", bits=3, temporal=6, overlap=2, client=client)
    assert rep.chunks == 3 and rep.uncertified == 0  # starts 0, 4, 6 (the last ends at frame 12)
    scale = 65535 / 255
    frames = _decoded(tmp_path / "f.mkv")[1][0] / scale
    temporal = _decoded(tmp_path / "t.mkv")[1][0] / scale
    mid = q + 16.0
    f_fr, f_t, f_mid = flicker(frames, truth), flicker(temporal, truth), flicker(mid, truth)
    assert f_t < 0.8 * f_fr < f_mid, (f_t, f_fr, f_mid)
    assert psnr(temporal, truth, 255) >= psnr(frames, truth, 255) > psnr(mid, truth, 255) + 5
    # every blended frame stays inside its envelope [q, q + 32]
    assert np.all(temporal >= q - 1e-3) and np.all(temporal <= q + 32 + 1e-3)


def test_colour_10_bit_to_png_frames_and_mkv(client, tmp_path):
    truth = moving_scene(5, 16, 24, colour=True, container_bits=10)
    q = quantize(truth, 6, container_bits=10)
    src = write_clip(tmp_path / "c10.mkv", q, container_bits=10, audio=True)
    rep = dequantize_video(src, tmp_path / "frames", bits=6, client=client)
    assert rep.frames == 5 and rep.solves == 15 and rep.uncertified == 0
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == ["audio.mka"] + [f"frame_{i:06d}.png" for i in range(1, 6)] + ["video.json"]
    meta = json.loads((tmp_path / "frames" / "video.json").read_text())
    assert meta["frames"] == 5 and meta["frame_rate"] == "25" and len(meta["pts"]) == 5
    png = read_image(tmp_path / "frames" / "frame_000003.png")
    assert png.dtype == np.uint16 and png.shape == (16, 24, 3)
    rep = dequantize_video(src, tmp_path / "c.mkv", bits=6, temporal=3, client=client)
    fmt, planes, _ = _decoded(tmp_path / "c.mkv")
    assert fmt.name == "yuv420p16le" and [p.shape for p in planes] == [(5, 16, 24), (5, 8, 12), (5, 8, 12)]
    for p, t, qq in zip(planes, truth, q):
        x = p / (65535 / 1023)
        assert np.all(x >= qq - 0.05) and np.all(x <= qq + 16 + 0.05)  # inside [q, q + 2**(10 - 6)]
        # Format and bounds are this test's point; the quality claim is the flicker test's
        # (test_temporal_flickers_less_than_frames_and_both_beat_the_midpoint).
        # On this 16 x 24 clip the adaptive default of issue #19 ties the midpoint on luma (47.1384
        # against 47.1385 dB; the plain plate is 1 dB below it), so only "no worse" is asserted here.
        assert psnr(x, t, 1023) > psnr(qq + 8.0, t, 1023) - 0.01


def test_coarse_start_takes_pdas_to_the_answer_of_a_cold_solve():
    # 70 x 134: the halves are odd (35 x 67), where pdas's own coarse-to-fine stops at once
    q = quantize(moving_scene(1, 70, 134, speed=0.5), 3)[0][0]
    lo = q.astype(float)
    hi = np.minimum(lo + 32, 255)
    c_lo, c_hi = restrict(lo, hi)
    assert c_lo.shape == (35, 67) and np.all(c_lo <= lo[::2, ::2]) and np.all(c_hi >= hi[::2, ::2])
    x0 = coarse_start(lo, hi, bc="even")
    assert np.all(x0 >= lo) and np.all(x0 <= hi)
    prob = qs.image_problem(q, bits=3, bc="even")
    warm = qs.solve(prob, solver="pdas", x0=x0.ravel())
    cold = qs.solve(prob, solver="tnnmg")  # another method, its own start
    assert warm.success and cold.success
    assert "fine level (1 levels)" in warm.message  # pdas started from x0, no chain of its own
    np.testing.assert_allclose(warm.x, cold.x, atol=1e-6)
    assert coarse_start(lo[:40, :60], hi[:40, :60]) is None  # too small to restrict: the solver's own start


def test_frame_by_frame_with_the_coarse_start_equals_dequantize(client, tmp_path):
    truth = moving_scene(3, 70, 134, speed=0.5)
    q = quantize(truth, 3)
    src = write_clip(tmp_path / "g.mkv", q)
    rep = dequantize_video(src, tmp_path / "o.mkv", bits=3, client=client)
    assert rep.uncertified == 0 and rep.solves == 3
    assert [(c["first"], c["last"], c["solves"], c["uncertified"]) for c in rep.chunk_reports] == [
        (1, 1, 1, 0), (2, 2, 1, 0), (3, 3, 1, 0)]
    out = _decoded(tmp_path / "o.mkv")[1][0].astype(np.int64)
    expected = np.stack([to_uint16(qs.dequantize(f, bits=3, bc="even"), 8) for f in q[0]])
    assert np.abs(out - expected).max() <= 1  # certified answers from two starts: equal up to one 16-bit step


def test_a_large_temporal_block_is_solved_in_certified_tiles_inside_its_envelopes():
    truth = moving_scene(4, 24, 40, speed=0.3)
    q = quantize(truth, 3)[0]
    opts = {"bc": "even", "solver": "pcg", "adaptive": False, "temporal_weight": 1.0}
    outs, info = solve_chunk([q], 32.0, (0.0, 255.0), True, opts, tile=16, tile_overlap=4)
    tiles = tile_slices((24, 40), 16, 4)
    assert len(info["certified"]) == len(tiles) == 6 and all(info["certified"])
    assert all(s["shape"] == (4, 16, 16) for s in info["solves"])
    x = outs[0]
    assert x.shape == q.shape and np.all(x >= q - 1e-9) and np.all(x <= q + 32 + 1e-9)
    # a pixel only the first tile holds is that tile's own temporal QP (built and solved independently)
    res = qs.solve(_temporal_qp(q[:, :16, :16])[0], solver="cvxpy")
    assert res.success
    np.testing.assert_allclose(x[:, :8, :12], res.x.reshape(4, 16, 16)[:, :8, :12], atol=1e-4)


def test_a_temporal_block_with_few_contacts_is_solved_whole_by_spacetime():
    # the same block as above, with the default solver: one certified solve of the whole block (no
    # tiles, whatever the tile size), equal to the stated QP solved by cvxpy
    from qpsolve.distributed.temporal import solve_temporal_block

    truth = moving_scene(4, 24, 40, speed=0.3)
    q = quantize(truth, 3)[0]
    opts = {"bc": "even", "adaptive": False, "temporal_weight": 1.0}
    outs, info = solve_chunk([q], 32.0, (0.0, 255.0), True, opts, tile=16, tile_overlap=4)
    assert info["certified"] == [True] and info["solves"][0]["shape"] == (4, 24, 40)
    prob, lo, hi = _temporal_qp(q)
    res = qs.solve(prob, solver="cvxpy")
    assert res.success
    np.testing.assert_allclose(outs[0], res.x.reshape(q.shape), atol=1e-4)
    # a block above TEMPORAL_WHOLE_VALUES is tiled all the same (a worker's memory stays bounded)
    with pytest.MonkeyPatch.context() as mp:
        import qpsolve.distributed.video as video_mod

        mp.setattr(video_mod, "TEMPORAL_WHOLE_VALUES", 4 * 24 * 40 - 1)
        _, tiled = solve_chunk([q], 32.0, (0.0, 255.0), True, opts, tile=16, tile_overlap=4)
    assert len(tiled["certified"]) == 6 and all(tiled["certified"])
    # a rule in space the separable inverse does not know goes to pcg, and so does a start with more
    # contacts than spacetime's Schur complement takes; asked for by name, spacetime says why it cannot
    lo8, hi8 = lo[:, :8, :8], hi[:, :8, :8]
    assert solve_temporal_block(lo8, hi8, {"bc": "odd"}).solver == "pcg"
    assert solve_temporal_block(lo8, hi8, {"bc": "even"}).solver == "spacetime"
    assert solve_temporal_block(lo8, hi8, {"bc": "even"}, x0=lo8).solver == "spacetime"  # 256 contacts
    # an option only pcg takes names pcg (it was the temporal solver before spacetime)
    assert solve_temporal_block(lo8, hi8, {"bc": "even", "preconditioner": "amg"}).solver == "pcg"
    with pytest.MonkeyPatch.context() as mp:
        import qpsolve.solvers.spacetime as st_mod

        mp.setattr(st_mod, "MAX_HELD", 255)
        assert solve_temporal_block(lo8, hi8, {"bc": "even"}, x0=lo8).solver == "pcg"
        assert solve_temporal_block(lo8, hi8, {"bc": "even"}).solver == "spacetime"  # no start, no count
        # a start already optimal goes to spacetime however many contacts it has (it returns it at
        # once; pcg would build its hierarchy first): a flat plane on the edge between two bins, as
        # a chroma plane's frames give, touches its bounds everywhere
        edge_lo = np.where((np.indices(lo8.shape).sum(axis=0) % 3) == 0, 96.0, 128.0)
        flat = np.full(lo8.shape, 128.0)
        res = solve_temporal_block(edge_lo, edge_lo + 32.0, {"bc": "even"}, x0=flat)
        assert res.solver == "spacetime" and res.success
        np.testing.assert_array_equal(res.x, flat.ravel())
    with pytest.raises(ValueError, match="solver 'spacetime' needs bc='even'"):
        solve_temporal_block(lo8, hi8, {"bc": "odd", "solver": "spacetime"})


def test_a_one_frame_temporal_chunk_with_temporal_options_is_a_2d_dequantize():
    q = quantize(moving_scene(1, 20, 24, speed=0.3), 3)[0]
    opts = {"bc": "even", "temporal_weight": 0.5, "temporal_jump": 2}
    outs, info = solve_chunk([q], 32.0, (0.0, 255.0), True, opts)
    assert all(info["certified"]) and len(info["certified"]) == 1
    expected = qs.dequantize(q[0], step=32.0, data_range=(0.0, 255.0), bc="even")
    np.testing.assert_allclose(outs[0][0], expected, atol=1e-3)


def test_temporal_blend_takes_every_2d_blend_option():
    from qpsolve.distributed.temporal import frame_blend_weights
    from qpsolve.imaging.photo import blend_weights, textured

    q = quantize(moving_scene(3, 40, 48, speed=0.5), 3)[0]
    lo, hi = q.astype(float), q + 32.0
    opts = {"open_reach": 1e-9, "open_near": 4.0, "open_far": 16.0, "reach": 3.0}
    w = frame_blend_weights(lo, hi, opts)
    for t in range(3):
        ref = blend_weights(lo[t], hi[t], textured_mask=textured(lo[t], hi[t], 9), **opts)
        np.testing.assert_array_equal(w[t], ref)
    with pytest.raises(ValueError, match="only the blend options"):
        frame_blend_weights(lo, hi, {"mode": "pin"})


def test_bad_video_requests_write_nothing(client, gray_clip, tmp_path, capsys):
    path, _, _ = gray_clip
    with pytest.raises(ValueError, match="bits must be an integer in 1..8"):
        dequantize_video(path, tmp_path / "o.mkv", bits=9, client=client)
    unquantized = write_clip(tmp_path / "u.mkv", quantize(moving_scene(3, 8, 8), 8))
    with pytest.raises(ValueError, match="frames 1-1 of"):
        dequantize_video(unquantized, tmp_path / "o.mkv", bits=3, client=client)
    with pytest.raises(ValueError, match="temporal must be an integer >= 2"):
        dequantize_video(path, tmp_path / "o.mkv", bits=3, temporal=1, client=client)
    with pytest.raises(ValueError, match="temporal_weight needs temporal"):
        dequantize_video(path, tmp_path / "o.mkv", bits=3, temporal_weight=1.0, client=client)
    with pytest.raises(ValueError, match="outliers is not available with temporal"):
        dequantize_video(path, tmp_path / "o.mkv", bits=3, temporal=3, outliers="mask", client=client)
    with pytest.raises(ValueError, match="temporal_jump"):
        dequantize_video(path, tmp_path / "o.mkv", bits=3, temporal=3, temporal_jump=-1, client=client)
    with pytest.raises(ValueError, match="folder .16-bit PNG frames. or a .mkv"):
        dequantize_video(path, tmp_path / "o.mp4", bits=3, client=client)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u.mkv"]  # no partial output, no temporary file
    assert main(["video", str(tmp_path / "missing.mkv"), str(tmp_path / "o.mkv"), "--bits", "3",
                 "--scheduler", client.scheduler.address]) == 2
    assert "missing.mkv" in capsys.readouterr().err


def test_cli_video_temporal(client, gray_clip, tmp_path, capsys):
    path, _, _ = gray_clip
    code = main(["video", str(path), str(tmp_path / "v.mkv"), "--bits", "3", "--temporal", "6",
                 "--scheduler", client.scheduler.address, "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "12 frames" in out and "temporal K=6" in out and "all certified" in out
    code = main(["video", str(path), str(tmp_path / "v.mkv"), "--bits", "3", "--scheduler",
                 client.scheduler.address])
    assert code == 2 and "exists" in capsys.readouterr().err
    code = main(["video", str(path), str(tmp_path / "w.mkv"), "--bits", "3", "--temporal", "6",
                 "--temporal-weight", "-1", "--scheduler", client.scheduler.address])
    assert code == 2 and "temporal_weight" in capsys.readouterr().err and not (tmp_path / "w.mkv").exists()


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), k=st.integers(2, 12), data=st.data())
def test_chunks_cover_every_frame_with_the_overlap(n, k, data):
    ov = data.draw(st.integers(0, k - 1))
    starts = chunk_starts(n, k, ov)
    assert starts[0] == 0 and min(n, starts[-1] + k) == n
    covered = np.zeros(n, int)
    for s in starts:
        covered[s:s + k] += 1
    assert covered.min() >= 1
    for a, b in zip(starts, starts[1:]):
        assert a + k - b >= ov  # neighbours share at least the overlap
    w = tent_weights(k, ov)
    assert np.all(w > 0) and np.all(w <= 1) and np.allclose(w, w[::-1])
