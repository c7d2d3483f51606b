"""Batches on a real Dask LocalCluster (two process workers): batch = single calls, resume, corrupt input."""

import os

import numpy as np
import pytest
from PIL import Image

import qpsolve as qs
from qpsolve.cli import main
from qpsolve.imaging.data import gaussian, to_uint8, truncate_bits
from qpsolve.distributed import dequantize_batch, expand_inputs
from qpsolve.model.bitdepth import detect_bits
from qpsolve.imaging.io import merge_alpha, read_image, split_alpha, write_image


def _gray(k, n=32, bits=3):
    return truncate_bits(to_uint8(np.roll(gaussian(n), 2 * k, axis=1)), bits)


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    Image.fromarray(_gray(0)).save(d / "gray.png")
    rgb = np.stack([_gray(1), _gray(2)[::-1], _gray(3).T], -1)
    Image.fromarray(rgb).save(d / "rgb.png")
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 200, np.uint8)], -1)
    Image.fromarray(rgba).save(d / "rgba.png")
    np.save(d / "levels16.npy", (_gray(4, bits=4).astype(np.uint16) << 8))
    (d / "notes.txt").write_text("not an image")
    return d


def _single(path, **options):
    """What ``qpsolve dequantize`` computes for one file: qs.dequantize per channel, alpha put back."""
    image = read_image(path)
    colour, alpha = split_alpha(image)
    out = qs.dequantize(colour, bits=detect_bits(colour).bits,
                        channel_axis=-1 if colour.ndim == 3 else None, **options)
    return merge_alpha(out, alpha), image.dtype


def test_batch_equals_single_calls(client, folder, tmp_path):
    rep = dequantize_batch(folder, tmp_path / "out", client=client, format="npy")
    assert [f.status for f in rep.files] == ["written"] * 4, rep.table()
    assert rep.exit_status == 0 and rep.workers == 2
    assert {f.bits for f in rep.files} == {3, 4}
    assert len({f.worker for f in rep.files}) >= 1 and all(f.certified for f in rep.files)
    for f in rep.files:
        expected, _ = _single(f.input)
        got = np.load(f.output)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


def test_png_outputs_match_the_single_call_written_as_png(client, folder, tmp_path):
    rep = dequantize_batch([folder / "rgba.png", str(folder / "g*.png")], tmp_path / "out", client=client,
                           adaptive=False)
    assert [os.path.basename(f.output) for f in rep.files] == ["rgba.png", "gray.png"]
    for f in rep.files:
        expected, dtype = _single(f.input, adaptive=False)
        write_image(tmp_path / "ref.png", expected, data_range=(0, 255))
        np.testing.assert_array_equal(read_image(f.output), read_image(tmp_path / "ref.png"))


def test_resume_skips_complete_outputs_and_overwrite_redoes_them(client, folder, tmp_path):
    out = tmp_path / "out"
    first = dequantize_batch(folder, out, client=client, format="npy")
    assert first.count("written") == 4
    # an interrupted run: one output never written, a stale temporary file of the atomic writer left behind
    os.unlink(out / "rgb.npy")
    (out / ".qpsolve-abc123.npy").write_bytes(b"partial")
    marker = np.full((2, 2), 7.0)
    np.save(out / "gray.npy", marker)  # proves the complete output is not redone
    again = dequantize_batch(folder, out, client=client, format="npy")
    status = {os.path.basename(f.input): f.status for f in again.files}
    assert status == {"gray.png": "skipped", "levels16.npy": "skipped", "rgb.png": "written", "rgba.png": "skipped"}
    np.testing.assert_array_equal(np.load(out / "gray.npy"), marker)
    np.testing.assert_array_equal(np.load(out / "rgb.npy"), _single(folder / "rgb.png")[0])
    redo = dequantize_batch(folder, out, client=client, format="npy", overwrite=True)
    assert redo.count("written") == 4
    np.testing.assert_array_equal(np.load(out / "gray.npy"), _single(folder / "gray.png")[0])


def test_corrupt_input_fails_alone(client, folder, tmp_path):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (folder / "zero.png").write_bytes(b"")
    out = tmp_path / "out"
    rep = dequantize_batch(folder, out, client=client)
    by_name = {os.path.basename(f.input): f for f in rep.files}
    assert by_name["broken.png"].status == "failed" and "broken.png" in by_name["broken.png"].error
    assert by_name["zero.png"].status == "failed"
    assert rep.count("written") == 4 and rep.exit_status == 2 and not rep.ok
    assert sorted(p.name for p in out.iterdir()) == ["gray.png", "levels16.png", "rgb.png", "rgba.png"]
    assert "broken.png" in rep.table() and "2 failed" in rep.table()


def test_cli_batch_on_a_scheduler_address(client, folder, tmp_path, capsys):
    (folder / "broken.png").write_bytes(b"not a png at all")
    address = client.scheduler.address
    code = main(["batch", str(folder), "--out", str(tmp_path / "out"), "--scheduler", address, "--no-progress"])
    text = capsys.readouterr().out
    assert code == 2
    assert "failed: " in text and "broken.png" in text and "4 written, 1 failed" in text
    assert len(list((tmp_path / "out").glob("*.png"))) == 4
    code = main(["batch", str(folder / "*.png"), "--out", str(tmp_path / "out"), "--scheduler", address,
                 "--no-progress"])
    text = capsys.readouterr().out
    assert code == 2 and "3 skipped, 1 failed" in text


def test_bad_requests_fail_before_any_work(tmp_path, folder, capsys):
    with pytest.raises(ValueError, match="no such file or folder"):
        dequantize_batch([folder / "missing.png"], tmp_path / "out")
    with pytest.raises(ValueError, match="matches no file"):
        dequantize_batch([str(folder / "*.jpg")], tmp_path / "out")
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(_gray(5)).save(other / "gray.png")
    with pytest.raises(ValueError, match="would both be written"):
        dequantize_batch([folder / "gray.png", other / "gray.png"], tmp_path / "out")
    with pytest.raises(ValueError, match="overwrite the input"):
        dequantize_batch([other / "gray.png"], other)
    with pytest.raises(ValueError, match="give one of client, workers and scheduler"):
        dequantize_batch([folder], tmp_path / "out", workers=2, scheduler="tcp://127.0.0.1:1")
    assert main(["batch", str(folder / "nope.png"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_expand_inputs_keeps_order_and_drops_duplicates(folder):
    files = expand_inputs([folder / "rgb.png", folder, str(folder / "*.npy")])
    assert [p.name for p in files] == ["rgb.png", "gray.png", "levels16.npy", "rgba.png"]


def test_a_huge_image_is_solved_one_dask_task_per_tile(client, tmp_path):
    from distributed import get_task_stream

    from qpsolve.imaging.tiles import tile_slices

    d = tmp_path / "in"
    d.mkdir()
    img = truncate_bits(to_uint8(gaussian(40)[:, :36]), 3)
    np.save(d / "big.npy", img)
    np.save(d / "small.npy", img[:20, :20])
    with get_task_stream(client) as ts:  # huge here: more than 600 pixels
        rep = dequantize_batch(d, tmp_path / "out", client=client, format="npy", huge_pixels=600, huge_tile=24)
    assert rep.exit_status == 0 and [f.status for f in rep.files] == ["written", "written"]
    n_tiles = len(tile_slices(img.shape, 24, 4))
    assert n_tiles == 4 and rep.files[0].notes == [f"{n_tiles} tile(s) of 24 px as Dask tasks"]
    assert rep.files[1].notes == []  # 400 pixels: one task, no tiles
    tile_tasks = [t for t in ts.data if t["key"].startswith("_tile_task")]
    assert len(tile_tasks) == n_tiles
    # the tiles of qs.dequantize(..., tile=24) in this process give the same image (blended in another order)
    expected = qs.dequantize(img, bits=3, tile=24)
    np.testing.assert_allclose(np.load(rep.files[0].output), expected, atol=1e-9)
    with pytest.raises(ValueError, match="huge_tile must be an integer >= 8"):
        dequantize_batch(d, tmp_path / "o2", client=client, huge_tile=4)
    assert main(["batch", str(d / "big.npy"), "--out", str(tmp_path / "cli"), "--format", "npy", "--huge-pixels",
                 "600", "--huge-tile", "24", "--scheduler", client.scheduler.address, "--no-progress"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "cli" / "big.npy"), np.load(rep.files[0].output))
