"""Reading real image files: formats, bit depths, alpha, palette/1-bit policy, bombs, corrupt files."""

import zlib

import numpy as np
import pytest
from PIL import Image

from qpsolve.imaging.io import (
    PaletteConversionWarning,
    _png_chunk,
    merge_alpha,
    read_image,
    split_alpha,
    write_image,
)

rng = np.random.default_rng(1)


def _png16_filtered(path, a):
    """16-bit colour PNG whose rows cycle through all five filter types."""
    a = np.asarray(a, np.uint16)
    h, w, c = a.shape
    bpp = 2 * c
    rows = a.astype(">u2").reshape(h, w * c).view(np.uint8).reshape(h, -1).astype(np.int64)
    out = []
    prev = np.zeros(rows.shape[1], np.int64)
    for i in range(h):
        f = i % 5
        x = rows[i]
        left = np.concatenate([np.zeros(bpp, np.int64), x[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int64), prev[:-bpp]])
        if f == 0:
            pred = 0
        elif f == 1:
            pred = left
        elif f == 2:
            pred = prev
        elif f == 3:
            pred = (left + prev) // 2
        else:
            p = left + prev - upleft
            pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        out.append(np.concatenate([[f], (x - pred) & 0xFF]).astype(np.uint8))
        prev = x
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([16, {2: 4, 3: 2, 4: 6}[c], 0, 0, 0])
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                 + _png_chunk(b"IDAT", zlib.compress(np.concatenate(out).tobytes())) + _png_chunk(b"IEND", b""))


def test_png8_gray_rgb_rgba_roundtrip(tmp_path):
    for shape in [(9, 7), (9, 7, 3), (9, 7, 4)]:
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        Image.fromarray(a).save(tmp_path / "a.png")
        b = read_image(tmp_path / "a.png")
        assert b.dtype == np.uint8 and np.array_equal(a, b)


def test_png16_gray(tmp_path):
    a = rng.integers(0, 65536, (6, 5), dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "g.png")
    b = read_image(tmp_path / "g.png")
    assert b.dtype == np.uint16 and np.array_equal(a, b)


@pytest.mark.parametrize("c", [2, 3, 4])
def test_png16_colour_all_filters(tmp_path, c):
    a = rng.integers(0, 65536, (11, 6, c), dtype=np.uint16)
    _png16_filtered(tmp_path / "c.png", a)
    b = read_image(tmp_path / "c.png")
    assert b.dtype == np.uint16 and np.array_equal(a, b)  # not reduced to 8 bits


def test_write_png16_colour_roundtrip(tmp_path):
    a = rng.integers(0, 256, (5, 4, 4)).astype(np.float64)
    write_image(tmp_path / "o.png", a, data_range=(0, 255))
    b = read_image(tmp_path / "o.png")
    assert b.dtype == np.uint16 and np.array_equal(b, (a * 257).astype(np.uint16))


def test_tiff_and_jpeg(tmp_path):
    import tifffile

    a = rng.integers(0, 4096, (8, 8, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", a)
    assert np.array_equal(read_image(tmp_path / "a.tif"), a)
    g = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(g).save(tmp_path / "a.jpg")
    j = read_image(tmp_path / "a.jpg")
    assert j.shape == (16, 16, 3) and j.dtype == np.uint8


def test_alpha_split_and_merge_untouched():
    rgba = rng.integers(0, 256, (4, 4, 4), dtype=np.uint8)
    c, a = split_alpha(rgba)
    assert c.shape == (4, 4, 3) and np.array_equal(a, rgba[..., 3])
    assert np.array_equal(merge_alpha(c, a)[..., 3], rgba[..., 3])
    la = rng.integers(0, 256, (4, 4, 2), dtype=np.uint8)
    c, a = split_alpha(la)
    assert c.shape == (4, 4) and np.array_equal(a, la[..., 1])


def test_palette_refused_or_converted(tmp_path):
    im = Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).convert("P")
    im.save(tmp_path / "p.png")
    with pytest.raises(ValueError, match="palette"):
        read_image(tmp_path / "p.png")
    with pytest.warns(PaletteConversionWarning, match="converted"):
        a = read_image(tmp_path / "p.png", palette="convert")
    assert a.dtype == np.uint8 and a.ndim in (2, 3)
    with pytest.raises(ValueError, match="palette"):
        read_image(tmp_path / "p.png", palette="maybe")


def test_one_bit_refused(tmp_path):
    Image.fromarray(rng.integers(0, 2, (8, 8)).astype(bool)).save(tmp_path / "b.png")
    with pytest.raises(ValueError, match="1-bit"):
        read_image(tmp_path / "b.png")


def test_decompression_bomb_from_header(tmp_path):
    # A PNG header claiming 100000 x 100000 pixels and no data: refused before decoding.
    ihdr = (100000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                                        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + _png_chunk(b"IEND", b""))
    with pytest.raises(ValueError, match="max_pixels"):
        read_image(tmp_path / "bomb.png")
    a = np.zeros((10, 10), np.uint8)
    Image.fromarray(a).save(tmp_path / "s.png")
    with pytest.raises(ValueError, match="100 pixels"):
        read_image(tmp_path / "s.png", max_pixels=50)
    np.save(tmp_path / "s.npy", a)
    with pytest.raises(ValueError, match="max_pixels"):
        read_image(tmp_path / "s.npy", max_pixels=50)
    assert read_image(tmp_path / "s.png", max_pixels=None).shape == (10, 10)
    with pytest.raises(ValueError, match="max_pixels"):
        read_image(tmp_path / "s.png", max_pixels=0)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif"])
def test_truncated_and_corrupt_name_the_file(tmp_path, ext):
    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    p = tmp_path / f"t{ext}"
    Image.fromarray(a).save(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match=f"t{ext}"):
        read_image(p)
    q = tmp_path / f"junk{ext}"
    q.write_bytes(b"not an image at all" * 10)
    with pytest.raises(OSError, match=f"junk{ext}"):
        read_image(q)


def test_truncated_png16_colour(tmp_path):
    a = rng.integers(0, 65536, (20, 10, 3), dtype=np.uint16)
    _png16_filtered(tmp_path / "c.png", a)
    data = (tmp_path / "c.png").read_bytes()
    (tmp_path / "c.png").write_bytes(data[:60])
    with pytest.raises(OSError, match="c.png"):
        read_image(tmp_path / "c.png")


def test_missing_file():
    with pytest.raises(OSError, match="no such file"):
        read_image("/nonexistent/x.png")


def test_write_is_atomic_on_error(tmp_path):
    with pytest.raises(ValueError):
        write_image(tmp_path / "o.png", np.array([[0.0, 300.0]]), data_range=(0, 255))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shape", [(5, 6), (5, 6, 2), (5, 6, 3), (5, 6, 4)])
def test_float_tiff_round_trip_says_its_layout(tmp_path, shape):
    # Gray, gray + alpha, RGB and RGBA float TIFFs come back as written, with
    # the photometric interpretation stated (tifffile warns when it must guess).
    import warnings

    import tifffile

    a = rng.normal(size=shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_image(tmp_path / "f.tif", a)
    assert np.array_equal(read_image(tmp_path / "f.tif"), a)
    with tifffile.TiffFile(tmp_path / "f.tif") as tif:
        page = tif.pages[0]
        expected = "RGB" if len(shape) == 3 and shape[-1] in (3, 4) else "MINISBLACK"
        assert page.photometric.name == expected
        if expected == "RGB":  # alpha is an extra sample of an RGB page
            assert len(page.extrasamples) == shape[-1] - 3
