"""Tiles and crops within a memory budget, depth/range/channels kept, failing destinations."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mzsr_tf import arrays, io, tiling
from mzsr_tf.commands.upscale import main
from mzsr_tf.errors import InputError


def run(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


# ------------------------------------------------------------------ tiles and memory


def test_tiled_equals_untiled(weights_file, rgb_uint8):
    from mzsr_tf import methods
    from mzsr_tf.adapt import adapted_params, step_size_schedule, upscale_sr

    lr = np.tile(rgb_uint8, (1, 2, 1))[:, :44].astype(np.float32) / 255.0  # 32×44, tiles of 12
    params, _ = methods.load_params(weights_file, 2, "direct", True)
    fast = adapted_params(params, lr[None], 2, None, "direct", step_size_schedule(2))
    whole = np.asarray(upscale_sr(fast, lr[None], 2))[0]
    tiled = tiling.run_tiled(lambda t: upscale_sr(fast, t, 2), lr, 2, 12, tiling.margin(2))
    assert len(tiling.tiles(32, 44, 12, tiling.margin(2))) == 12
    assert np.abs(whole - tiled).max() * 255 <= 1.0
    bare = tiling.run_tiled(lambda t: upscale_sr(fast, t, 2), lr, 2, 12, 0)
    assert np.abs(whole - bare).max() * 255 > 1.0  # the margin is what makes tiles exact


def test_memory_budget_arithmetic():
    assert tiling.parse_memory("1G") == 1 << 30 and tiling.parse_memory("800M") == 800 << 20
    assert tiling.parse_memory("1.5GiB") == 3 << 29
    for bad in ("lots", "10M", "-1G"):
        with pytest.raises(InputError, match="max-memory"):
            tiling.parse_memory(bad)
    assert tiling.margin(2) == 4 + 2 + 1 and tiling.margin(4) == 2 + 2 + 1
    p = tiling.plan(3000, 4000, 2, 1 << 30)
    padded = int(math.sqrt((1 << 30) / tiling.BYTES_PER_HR_PIXEL)) // 2
    assert p.tile == padded - 2 * tiling.margin(2)
    assert (2 * (p.tile + 2 * p.margin)) ** 2 * tiling.BYTES_PER_HR_PIXEL <= 1 << 30
    assert p.crops == (128, (1 << 30) // (128 * 128 * tiling.BYTES_PER_ADAPT_PIXEL))
    assert tiling.plan(200, 300, 2, 1 << 30).whole
    small = tiling.plan(100, 90, 4, 64 << 20)
    assert small.crops == (88, 1) and small.tile is not None  # crops on the scale grid, at most the image
    assert tiling.plan(5000, 5000, 2, 64 << 30).crops[1] == tiling.MAX_CROPS


def test_random_crops_seeded_on_grid():
    lr = np.random.default_rng(0).random((50, 70, 3)).astype(np.float32)
    a, b = tiling.random_crops(lr, 16, 5, 4, seed=3), tiling.random_crops(lr, 16, 5, 4, seed=3)
    assert a.shape == (5, 16, 16, 3) and np.array_equal(a, b)


def test_large_image_in_tiles_and_crops(weights_file, rgb_uint8):
    import mzsr_tf

    img = np.tile(rgb_uint8, (3, 3, 1))  # 96×96 with a budget that forces crops and tiles
    assert not tiling.plan(96, 96, 2, 64 << 20).whole
    out = mzsr_tf.upscale(img, steps=2, weights=weights_file, max_memory="64M")
    assert out.shape == (192, 192, 3) and out.dtype == np.uint8
    with pytest.raises(InputError, match="max_memory"):
        mzsr_tf.upscale(img, weights=weights_file, max_memory=1000)


# ------------------------------------------------------------------ depth, range, channels


def _roundtrip(capsys, tmp_path, name, a, weights_file, *extra):
    src, out = tmp_path / name, tmp_path / ("out" + os.path.splitext(name)[1])
    io.write_array(src, a)
    rc, _, err = run(capsys, src, out, "--weights", weights_file, "--steps", 1, *extra)
    assert rc == 0, err
    b, _ = io.read_array(out)
    return b, err


@pytest.mark.parametrize("name, a", [
    ("rgb16.png", (np.random.default_rng(1).random((32, 32, 3)) * 65535).astype(np.uint16)),
    ("gray16.png", (np.random.default_rng(2).random((32, 32)) * 65535).astype(np.uint16)),
    ("gray.png", (np.random.default_rng(3).random((32, 32)) * 255).astype(np.uint8)),
    ("rgba.png", (np.random.default_rng(4).random((32, 32, 4)) * 255).astype(np.uint8)),
    ("f32.npy", np.random.default_rng(5).random((32, 32, 3)).astype(np.float32)),
    ("f32.tif", np.random.default_rng(6).random((32, 32)).astype(np.float32) * 40 - 7),
], ids=["16-bit RGB PNG", "16-bit gray PNG", "gray", "RGBA", "float32 npy", "float TIFF"])
def test_roundtrip_keeps_shape_dtype_range(capsys, tmp_path, weights_file, name, a):
    b, err = _roundtrip(capsys, tmp_path, name, a, weights_file)
    assert b.shape == (64, 64) + a.shape[2:] and b.dtype == a.dtype
    if a.dtype == np.uint16:
        assert b.max() > 255  # not squeezed into 8 bits
    if a.dtype == np.float32:  # [0, 1] data stays in [0, 1]; other data in its own min–max
        lo, hi = (0.0, 1.0) if a.min() >= 0 and a.max() <= 1 else (a.min(), a.max())
        assert lo - 1e-5 <= b.min() and b.max() <= hi + 1e-5
    assert b.max() - b.min() > 0.5 * (a.max() - a.min())
    if name == "rgba.png":
        assert "alpha channel upscaled with bicubic" in err


def test_seven_channel_array(capsys, tmp_path, weights_file):
    rng = np.random.default_rng(7)
    scales = np.array([1, 10, 1e3, 1e-3, 5, 100, 2], np.float32)
    a = (rng.random((32, 32, 7)) * scales - scales / 3).astype(np.float32)
    b, err = _roundtrip(capsys, tmp_path, "x.npy", a, weights_file)
    assert b.shape == (64, 64, 7) and b.dtype == np.float32
    for c in range(7):
        assert a[..., c].min() - 1e-4 * scales[c] <= b[..., c].min() <= b[..., c].max() <= a[..., c].max() + 1e-4 * scales[c]
    assert "each channel mapped from its own min–max" in err
    stack, _ = _roundtrip(capsys, tmp_path, "s.tif", a, weights_file, "--channels", "groups", "--overwrite")
    assert stack.shape == (64, 64, 7) and stack.dtype == np.float32


def test_api_array_ranges_and_percentiles(weights_file):
    import mzsr_tf

    a = np.random.default_rng(8).normal(100.0, 30.0, (32, 32, 2))
    out = mzsr_tf.upscale(a, steps=0, weights=weights_file, value_range="p1,99")
    assert out.shape == (64, 64, 2) and out.dtype == np.float64
    with pytest.raises(InputError, match="--range"):
        mzsr_tf.upscale(a, weights=weights_file, value_range="9,1")


def test_constant_and_nan_channels(weights_file):
    import mzsr_tf

    a = np.random.default_rng(9).random((32, 32, 3)).astype(np.float32) * 5
    a[..., 1] = 3.25
    out = mzsr_tf.upscale(a, steps=0, weights=weights_file)
    assert np.all(out[..., 1] == np.float32(3.25))  # a constant channel stays that constant
    a[4, 5, 2] = np.nan
    with pytest.raises(InputError, match=r"channel\(s\) 2 have NaN"):
        mzsr_tf.upscale(a, weights=weights_file)


def test_png_cannot_hold_floats(capsys, tmp_path):
    src = tmp_path / "f.npy"
    np.save(src, np.random.default_rng(0).random((32, 32, 5)).astype(np.float32))
    rc, _, err = run(capsys, src, tmp_path / "o.png")
    assert rc == 2 and "write .tif or .npy" in err and not (tmp_path / "o.png").exists()


# ------------------------------------------------------------------ destinations that fail


def test_unwritable_output_folder_before_compute(capsys, png_file):
    rc, _, err = run(capsys, png_file, "/proc/out.png")
    assert rc == 2 and "cannot write in this folder" in err
    with pytest.raises(InputError, match="cannot write"):
        io.write_array("/proc/x.npy", np.zeros((2, 2)))


def test_folder_run_unwritable_output(capsys, tmp_path, png_file):
    d = tmp_path / "in"
    d.mkdir()
    Image.open(png_file).save(d / "a.png")
    rc, _, err = run(capsys, d, "/proc/sr")
    assert rc == 2 and "error:" in err and "Traceback" not in err


def test_same_file_in_and_out_refused(capsys, png_file):
    before = open(png_file, "rb").read()
    rc, _, err = run(capsys, png_file, png_file, "--overwrite")
    assert rc == 2 and "is the input file" in err and open(png_file, "rb").read() == before


def test_export_onnx_existing_and_missing_folder(capsys, tmp_path):
    from mzsr_tf.serve.command import main as export

    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"keep")
    assert export(["--out", str(tmp_path / "sm"), "--onnx", str(onnx)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err and onnx.read_bytes() == b"keep"
    assert export(["--out", str(tmp_path / "sm"), "--onnx", str(tmp_path / "no" / "m.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "sm").exists()


def _fresh(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_argument_and_kernel_errors_before_tensorflow(tmp_path, png_file):
    code = ("import sys\nfrom mzsr_tf.commands.upscale import main\n"
            f"rc = main([{png_file!r}, {str(tmp_path / 'o.png')!r}, '--kernel', 'g3.0'])\n"
            "print(rc, 'tensorflow' in sys.modules)")
    r = _fresh(code)
    assert r.stdout.split() == ["2", "False"], r.stderr
    assert "g0.2, g2.0, g1.3, gani" in r.stderr and "Traceback" not in r.stderr


def test_version_on_every_command(capsys):
    import importlib

    from mzsr_tf import __version__, cli

    assert cli.main(["--version"]) == 0
    for name in cli.COMMANDS:
        module = importlib.import_module(cli.MODULES.get(name, f"mzsr_tf.{name}"))
        assert module.main(["--version"]) == 0, name
    out = capsys.readouterr().out
    assert out.count(f"mzsr-tf {__version__}") == len(cli.COMMANDS) + 1


def test_kernel_names_match_kernels():
    from mzsr_tf import kernels
    from mzsr_tf.constants import KERNEL_NAMES

    assert set(KERNEL_NAMES) == set(kernels.NAMED)


def test_arrays_spec_roundtrip_exact():
    a = (np.random.default_rng(0).random((8, 8, 2)) * 65535).astype(np.uint16)
    x, spec, notes = arrays.to_unit(a)
    assert spec.kind == "data" and np.array_equal(arrays.from_unit(x, spec), a)


def test_unit_mapping_in_row_blocks(monkeypatch):
    """to_unit/from_unit work block by block: the same values as whole-array arithmetic, and no
    float64 copy of the whole array (on a 12 MP image's output that copy was gigabytes)."""
    import tracemalloc

    monkeypatch.setattr(arrays, "BLOCK_VALUES", 12_000)  # 10 rows of 400×3 a block: 30 blocks
    a = np.random.default_rng(1).normal(50.0, 20.0, (300, 400, 3))
    x, spec, _ = arrays.to_unit(a)
    lo, hi = a.min(axis=(0, 1)), a.max(axis=(0, 1))
    assert np.array_equal(x, np.clip((a - lo) / (hi - lo), 0, 1).astype(np.float32))
    tracemalloc.start()
    try:
        back = arrays.from_unit(x, spec)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(back, x.astype(np.float64) * (hi - lo) + lo)
    assert peak < 1.25 * back.nbytes  # the result and one block's temporaries
    u = (np.random.default_rng(2).random((300, 400, 3)) * 65535).astype(np.uint16)
    y, spec16, _ = arrays.to_unit(u)
    assert np.array_equal(arrays.from_unit(y, spec16), u)
