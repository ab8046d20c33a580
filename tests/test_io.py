"""mzsr_tf.io: every kind of bad image gives one InputError naming the file; conversions are reported."""
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mzsr_tf import io
from mzsr_tf.errors import InputError


def png16(path, arr):
    """Writes a 16-bit RGB(A) PNG by hand (Pillow cannot write one)."""
    h, w, c = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, {3: 2, 4: 6}[c], 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_reads_rgb_png(png_file, rgb_uint8):
    x, notes = io.read_image(png_file)
    assert x.dtype == np.float32 and x.shape == (32, 32, 3)
    np.testing.assert_allclose(x, rgb_uint8 / 255.0, atol=1e-6)
    assert notes == []


@pytest.mark.parametrize(
    "content, expect",
    [
        (b"", "empty"),
        (b"hello, this is text\n", "not an image"),
        (bytes(range(7, 207)), "not an image"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(100)), "corrupt PNG"),
        (b"\xff\xd8\xff\xe0" + bytes(100), "corrupt JPEG|corrupt or truncated"),
    ],
    ids=["empty", "text", "random-bytes", "corrupt-png", "corrupt-jpeg"],
)
def test_bad_files(tmp_path, content, expect):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match=expect) as e:
        io.read_image(path)
    assert str(path) in str(e.value)


def test_truncated_png(tmp_path, png_file):
    data = open(png_file, "rb").read()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated") as e:
        io.read_image(path)
    assert "cut.png" in str(e.value)


def test_text_file_with_txt_name(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image")
    with pytest.raises(InputError, match="notes.txt: not an image"):
        io.read_image(path)


def test_missing_and_folder(tmp_path):
    with pytest.raises(InputError, match="not found"):
        io.read_image(tmp_path / "nope.png")
    with pytest.raises(InputError, match="folder"):
        io.read_image(tmp_path)


def test_palette_converted(tmp_path, rgb_uint8):
    path = tmp_path / "p.png"
    Image.fromarray(rgb_uint8).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(path)
    x, notes = io.read_image(path)
    assert x.shape == (32, 32, 3)
    assert any("palette" in n for n in notes)


def test_palette_with_transparency(tmp_path, rgb_uint8):
    path = tmp_path / "pt.png"
    im = Image.fromarray(rgb_uint8).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    im.info["transparency"] = 0
    im.save(path, transparency=0)
    x, notes = io.read_image(path)
    assert x.shape == (32, 32, 3)
    assert any("palette" in n for n in notes) and any("alpha channel dropped" in n for n in notes)


def test_rgba_alpha_dropped(tmp_path, rgb_uint8):
    alpha = np.full(rgb_uint8.shape[:2] + (1,), 128, np.uint8)
    path = tmp_path / "a.png"
    Image.fromarray(np.concatenate([rgb_uint8, alpha], -1), "RGBA").save(path)
    x, notes = io.read_image(path)
    np.testing.assert_allclose(x, rgb_uint8 / 255.0, atol=1e-6)  # colours kept, not composited
    assert notes == ["alpha channel dropped (colours kept as stored, not composited)"]


def test_opaque_rgba_says_so(tmp_path, rgb_uint8):
    path = tmp_path / "a.png"
    Image.fromarray(rgb_uint8).convert("RGBA").save(path)
    _, notes = io.read_image(path)
    assert notes == ["alpha channel dropped (fully opaque)"]


def test_grayscale_replicated(tmp_path, rgb_uint8):
    path = tmp_path / "g.png"
    Image.fromarray(rgb_uint8[..., 0]).save(path)
    x, notes = io.read_image(path)
    assert x.shape == (32, 32, 3)
    assert np.array_equal(x[..., 0], x[..., 2])
    assert notes == ["grayscale replicated to 3 channels"]


def test_grayscale_alpha(tmp_path, rgb_uint8):
    path = tmp_path / "la.png"
    Image.fromarray(rgb_uint8[..., 0]).convert("LA").save(path)
    x, notes = io.read_image(path)
    assert x.shape == (32, 32, 3)
    assert any("alpha" in n for n in notes) and any("grayscale" in n for n in notes)


def test_16bit_grayscale_scaled(tmp_path):
    a = (np.arange(32 * 32).reshape(32, 32) * 60).astype(np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(a).save(path)
    x, notes = io.read_image(path)
    np.testing.assert_allclose(x[..., 1], a / 65535.0, atol=1e-6)
    assert any("16-bit" in n and "65535" in n for n in notes)
    assert any("grayscale" in n for n in notes)


def test_16bit_rgb_png_full_depth(tmp_path):
    a = (np.random.default_rng(0).random((16, 16, 3)) * 65535).astype(np.uint16)
    path = tmp_path / "rgb16.png"
    png16(path, a)
    raw, notes = io.read_array(path)
    assert raw.dtype == np.uint16 and np.array_equal(raw, a) and not notes
    x, notes = io.read_image(path)
    np.testing.assert_allclose(x, a / 65535.0, atol=1e-6)
    assert any("16-bit" in n for n in notes)


def test_cmyk_converted(tmp_path, rgb_uint8):
    path = tmp_path / "c.jpg"
    Image.fromarray(rgb_uint8).convert("CMYK").save(path)
    x, notes = io.read_image(path)
    assert x.shape == (32, 32, 3)
    assert notes == ["CMYK image converted to RGB"]


def test_bilevel_converted(tmp_path, rgb_uint8):
    path = tmp_path / "b.png"
    Image.fromarray(rgb_uint8[..., 0]).convert("1").save(path)
    x, notes = io.read_image(path)
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert notes == ["1-bit black-and-white image converted to RGB"]


def test_large_image_read(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (2049, 2049)).save(path)
    assert io.read_array(path)[0].shape == (2049, 2049)


# ------------------------------------------------------------------ arrays


def test_npy_image(tmp_path, rgb_uint8):
    path = tmp_path / "x.npy"
    np.save(path, rgb_uint8.astype(np.float32) / 255.0)
    x, notes = io.read_image(path)
    assert x.shape == (32, 32, 3) and notes == []


@pytest.mark.parametrize(
    "array, expect",
    [
        (np.full((16, 16, 3), np.nan, np.float32), "NaN"),
        (np.full((16, 16, 3), np.inf, np.float32), "Inf"),
        (np.zeros((3, 16, 16), np.float32), "channels-first"),
        (np.zeros((16, 16, 2), np.float32), "shape"),
        (np.zeros((1, 16, 16, 3), np.float32), "shape"),
        (np.zeros((16, 16, 3), np.int64), "uint8"),
        (np.full((16, 16, 3), 200.0), "divide 0..255 data by 255"),
        (np.zeros((16, 16, 3), bool), "dtype"),
    ],
    ids=["nan", "inf", "chw", "2-channels", "batch", "int64", "0-255-float", "bool"],
)
def test_bad_arrays(tmp_path, array, expect):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(InputError, match=expect) as e:
        io.read_image(path)
    assert "bad.npy" in str(e.value)


def test_pickled_npy_refused(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="obj.npy: cannot read"):
        io.read_image(path)


def test_float_overshoot_clipped():
    a = np.full((16, 16, 3), 0.5, np.float32)
    a[0, 0] = [1.05, -0.02, 0.5]
    x, kind, notes = io.as_image_array(a)
    assert kind == "float" and x.max() == 1.0 and x.min() == 0.0
    assert notes and "clipped" in notes[0]


def test_array_kinds():
    assert io.as_image_array(np.zeros((8, 8, 3), np.uint8))[1] == "uint8"
    x, kind, notes = io.as_image_array(np.full((8, 8), 65535, np.uint16))
    assert kind == "uint16" and x.shape == (8, 8, 3) and x.max() == 1.0 and len(notes) == 2


# ------------------------------------------------------------------ sizes


def test_check_size_limits():
    io.check_size(16, 16, 2)
    io.check_size(32, 40, 4, kernel_size=15)
    with pytest.raises(InputError, match="x.png: .*too small for ×2: each side must be at least 16"):
        io.check_size(15, 64, 2, source="x.png")
    with pytest.raises(InputError, match="too small for ×4"):
        io.check_size(31, 64, 4)
    with pytest.raises(InputError, match="smaller than the 21×21 blur kernel"):
        io.check_size(20, 64, 2, kernel_size=(21, 21))
    with pytest.raises(InputError, match="more than the 4.2 MP this method takes"):
        io.check_size(2048, 2049, 2)
    io.check_size(4000, 3000, 2, max_pixels=None)  # methods that tile take any size


# ------------------------------------------------------------------ writing


def test_write_and_refuse_existing(tmp_path, rgb_uint8):
    path = tmp_path / "out.png"
    io.write_image(path, rgb_uint8 / 255.0)
    assert np.array_equal(np.asarray(Image.open(path)), rgb_uint8)
    before = path.read_bytes()
    with pytest.raises(InputError, match="exists"):
        io.write_image(path, np.zeros_like(rgb_uint8))
    assert path.read_bytes() == before
    io.write_image(path, np.zeros_like(rgb_uint8), overwrite=True)
    assert np.asarray(Image.open(path)).max() == 0
    assert sorted(os.listdir(tmp_path)) == ["out.png"]  # no temporary files left
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_write_failure_leaves_file_untouched(tmp_path, rgb_uint8, monkeypatch):
    path = tmp_path / "out.png"
    io.write_image(path, rgb_uint8)
    before = path.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(InputError, match="out.png: cannot write .*No space"):
        io.write_image(path, np.zeros_like(rgb_uint8), overwrite=True)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


def test_write_bad_destinations(tmp_path, rgb_uint8):
    with pytest.raises(InputError, match="must be a .png"):
        io.write_image(tmp_path / "out.jpg", rgb_uint8)
    with pytest.raises(InputError, match="does not exist"):
        io.write_image(tmp_path / "missing" / "out.png", rgb_uint8)
    (tmp_path / "d.png").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        io.write_image(tmp_path / "d.png", rgb_uint8, overwrite=True)
