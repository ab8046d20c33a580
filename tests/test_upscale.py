"""The upscale command and Python API: results, and one clear error per bad input."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mzsr_tf.errors import InputError
from mzsr_tf.commands.upscale import main


def run(capsys, *args):
    """Runs the command in-process; returns (exit status, stdout, stderr)."""
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


@pytest.fixture
def kernel_dir(tmp_path):
    d = tmp_path / "kernels"
    d.mkdir()
    return d


def good_kernel(size=5):
    from mzsr_tf.kernels import gaussian_kernel

    return np.asarray(gaussian_kernel(1.5, 1.5, 0.0, size), np.float64)


# ------------------------------------------------------------------ Python API


def test_api_shapes_and_dtypes(weights_file, rgb_uint8):
    import mzsr_tf

    out = mzsr_tf.upscale(rgb_uint8, scale=2, steps=1, weights=weights_file)  # the module is callable
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    f = mzsr_tf.upscale(rgb_uint8 / 255.0, scale=2, steps=1, weights=weights_file)
    assert f.shape == (64, 64, 3) and f.dtype == np.float64 and 0.0 <= f.min() and f.max() <= 1.0  # input's dtype
    np.testing.assert_array_equal(out, np.round(f * 255).astype(np.uint8))


def test_api_scale4_with_kernel_and_odd_size(weights_file, rgb_uint8):
    from mzsr_tf.api import upscale

    odd = np.pad(rgb_uint8, ((0, 0), (0, 3), (0, 0)), mode="edge")  # 32×35
    out = upscale(odd, scale=4, kernel="g2.0", steps=0, weights=weights_file)
    assert out.shape == (128, 140, 3)


def test_steps_zero_is_forward_only(weights_file, rgb_uint8):
    from keras import ops

    from mzsr_tf.model import forward
    from mzsr_tf.resize import imresize
    from mzsr_tf.api import upscale
    from mzsr_tf.methods import load_params

    x = rgb_uint8.astype(np.float32) / 255.0
    params, _ = load_params(weights_file)
    expected = np.clip(ops.convert_to_numpy(forward(params, imresize(x[None], 2.0)))[0], 0, 1)
    got = upscale(x, steps=0, weights=weights_file)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    adapted = upscale(x, steps=1, weights=weights_file)
    assert np.abs(adapted - got).max() > 1e-4  # one step changes the weights


def test_params_cached(weights_file):
    from mzsr_tf.methods import load_params

    assert load_params(weights_file)[0] is load_params(weights_file)[0]


def test_api_warns_on_conversions(weights_file, rgb_uint8):
    from mzsr_tf.api import upscale

    assert upscale(rgb_uint8[..., 0], steps=0, weights=weights_file).shape == (64, 64)  # gray stays gray
    with pytest.warns(UserWarning, match="alpha channel upscaled with bicubic"):
        out = upscale(np.dstack([rgb_uint8, rgb_uint8[..., :1]]), steps=0, weights=weights_file)
    assert out.shape == (64, 64, 4)


@pytest.mark.parametrize(
    "kwargs, expect",
    [
        ({"scale": 3}, "scale must be 2 or 4"),
        ({"steps": -1}, "steps must be between 0"),
        ({"steps": 1.5}, "steps must be an integer"),
        ({"subsampling": "area"}, "subsampling"),
        ({"kernel": np.ones((3, 3, 3)) / 27}, "2-D"),
    ],
)
def test_api_bad_options(weights_file, rgb_uint8, kwargs, expect):
    from mzsr_tf.api import upscale

    with pytest.raises(InputError, match=expect):
        upscale(rgb_uint8, weights=weights_file, **kwargs)


def test_api_nan_and_too_small(weights_file):
    from mzsr_tf.api import upscale

    with pytest.raises(InputError, match="NaN"):
        upscale(np.full((32, 32, 3), np.nan, np.float32), weights=weights_file)
    with pytest.raises(InputError, match="too small"):
        upscale(np.zeros((12, 40, 3), np.uint8), weights=weights_file)


def test_no_shipped_weights_is_clear(monkeypatch, tmp_path, rgb_uint8):
    import mzsr_tf.weights
    from mzsr_tf.api import upscale

    monkeypatch.setattr(mzsr_tf.weights, "HERE", str(tmp_path))
    with pytest.raises(InputError, match="no shipped weights"):
        upscale(rgb_uint8)


# ------------------------------------------------------------------ command: good runs


def test_cli_single_image(capsys, tmp_path, png_file, weights_file):
    out = tmp_path / "sr.png"
    rc, stdout, err = run(capsys, png_file, out, "--weights", weights_file, "--steps", 1)
    assert rc == 0, err
    assert np.asarray(Image.open(out)).shape == (64, 64, 3)
    assert "s/image" in stdout


def test_cli_output_folder_for_single_image(capsys, tmp_path, png_file, weights_file):
    d = tmp_path / "outdir"
    d.mkdir()
    rc, _, err = run(capsys, png_file, d, "--weights", weights_file, "--steps", 0)
    assert rc == 0, err
    assert (d / "img.png").exists()


def test_dispatcher(capsys, tmp_path, png_file, weights_file):
    from mzsr_tf import cli

    out = tmp_path / "sr.png"
    assert cli.main(["upscale", png_file, str(out), "--weights", weights_file, "--steps", "0"]) == 0
    assert out.exists()


@pytest.mark.parametrize("mode, expect, shape, dtype", [
    ("P", "palette", (64, 64, 3), np.uint8), ("RGBA", "alpha", (64, 64, 4), np.uint8),
    ("L", "uint8 0..255", (64, 64), np.uint8), ("I;16", "uint16 0..65535", (64, 64), np.uint16)])
def test_cli_converted_images_are_reported(capsys, tmp_path, rgb_uint8, weights_file, mode, expect, shape, dtype):
    src = tmp_path / "in.png"
    im = Image.fromarray(rgb_uint8)
    if mode == "P":
        im = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    elif mode == "RGBA":
        im = Image.fromarray(np.dstack([rgb_uint8, np.full((32, 32), 100, np.uint8)]), "RGBA")
    elif mode == "L":
        im = im.convert("L")
    else:
        im = Image.fromarray(rgb_uint8[..., 0].astype(np.uint16) * 257)
    im.save(src)
    rc, _, err = run(capsys, src, tmp_path / "out.png", "--weights", weights_file, "--steps", 0)
    assert rc == 0, err
    assert f"note: {src}:" in err and expect in err
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == shape and (out.dtype == dtype or mode == "I;16" and out.max() > 255)


# ------------------------------------------------------------------ command: kernels


def _save_kernel(kernel_dir, name, k):
    path = kernel_dir / name
    if name.endswith(".npy"):
        np.save(path, k)
    elif name.endswith(".mat"):
        import scipy.io

        scipy.io.savemat(path, k)
    else:
        Image.fromarray(k).save(path)
    return path


@pytest.mark.parametrize(
    "name, make",
    [
        ("k.npy", lambda: good_kernel()),
        ("k.mat", lambda: {"kernel": good_kernel()}),
        ("K.mat", lambda: {"Kernel": good_kernel()}),
        ("k.png", lambda: np.round(good_kernel() / good_kernel().max() * 255).astype(np.uint8)),
    ],
    ids=["npy", "mat-kernel", "mat-Kernel", "grayscale-png"],
)
def test_cli_kernel_formats(capsys, tmp_path, kernel_dir, png_file, weights_file, name, make):
    path = _save_kernel(kernel_dir, name, make())
    rc, _, err = run(capsys, png_file, tmp_path / "sr.png", "--kernel", path, "--weights", weights_file, "--steps", 0)
    assert rc == 0, err
    assert (tmp_path / "sr.png").exists()


def test_cli_kernel_near_one_normalised_with_warning(capsys, tmp_path, kernel_dir, png_file, weights_file):
    path = _save_kernel(kernel_dir, "k.npy", good_kernel() * 1.05)
    rc, _, err = run(capsys, png_file, tmp_path / "sr.png", "--kernel", path, "--weights", weights_file, "--steps", 0)
    assert rc == 0, err
    assert "warning:" in err and "normalised" in err


def _bad(values):
    k = good_kernel()
    k.flat[: len(values)] = values
    return k


@pytest.mark.parametrize(
    "make, expect",
    [
        (lambda: np.ones((3, 3, 3)) / 27, "must be 2-D"),
        (lambda: _bad([np.nan]), "NaN or Inf"),
        (lambda: _bad([np.inf]), "NaN or Inf"),
        (lambda: _bad([-0.01]), "negative"),
        (lambda: good_kernel() * 2, "sums to 2"),
    ],
    ids=["3-D", "nan", "inf", "negative", "sum-2"],
)
def test_cli_bad_kernels(capsys, tmp_path, kernel_dir, png_file, weights_file, make, expect):
    path = _save_kernel(kernel_dir, "k.npy", make())
    out = tmp_path / "sr.png"
    rc, _, err = run(capsys, png_file, out, "--kernel", path, "--weights", weights_file)
    assert rc == 2
    assert err.startswith(f"error: {path}:") and expect in err
    assert not out.exists()


def test_cli_mat_without_kernel_key(capsys, tmp_path, kernel_dir, png_file, weights_file):
    path = _save_kernel(kernel_dir, "k.mat", {"blur": good_kernel()})
    rc, _, err = run(capsys, png_file, tmp_path / "sr.png", "--kernel", path, "--weights", weights_file)
    assert rc == 2 and "no 'kernel' or 'Kernel'" in err


# ------------------------------------------------------------------ command: bad inputs


@pytest.mark.parametrize(
    "content, expect",
    [(b"", "file is empty"), (b"just text\n", "not an image"), (b"\x89PNG\r\n\x1a\n" + bytes(64), "corrupt PNG")],
    ids=["empty", "text", "corrupt"],
)
def test_cli_bad_image_files(capsys, tmp_path, weights_file, content, expect):
    src = tmp_path / "bad.png"
    src.write_bytes(content)
    rc, _, err = run(capsys, src, tmp_path / "sr.png", "--weights", weights_file)
    assert rc == 2
    assert err == f"error: {src}: {err.split(': ', 2)[2]}" and expect in err
    assert err.count("\n") == 1


def test_cli_truncated_png(capsys, tmp_path, png_file, weights_file):
    data = open(png_file, "rb").read()
    src = tmp_path / "cut.png"
    src.write_bytes(data[: len(data) // 2])
    rc, _, err = run(capsys, src, tmp_path / "sr.png", "--weights", weights_file)
    assert rc == 2 and "cut.png" in err and "truncated" in err


def test_cli_too_small_for_scale_and_kernel(capsys, tmp_path, weights_file, kernel_dir):
    src = tmp_path / "small.png"
    Image.fromarray(np.zeros((24, 40, 3), np.uint8)).save(src)
    rc, _, err = run(capsys, src, tmp_path / "sr.png", "--scale", 4, "--weights", weights_file)
    assert rc == 2 and "too small for ×4" in err and "small.png" in err
    k = _save_kernel(kernel_dir, "big.npy", np.full((31, 31), 1 / 961))
    rc, _, err = run(capsys, src, tmp_path / "sr.png", "--kernel", k, "--weights", weights_file)
    assert rc == 2 and "smaller than the 31×31 blur kernel" in err


@pytest.mark.parametrize(
    "args, expect",
    [(["--scale", "3"], "invalid choice: 3"), (["--steps", "-1"], "must be between 0"), (["--steps", "x"], "not an integer")],
    ids=["scale-3", "negative-steps", "steps-not-int"],
)
def test_cli_bad_options(capsys, tmp_path, png_file, args, expect):
    rc, _, err = run(capsys, png_file, tmp_path / "sr.png", *args)
    assert rc == 2
    assert err.startswith("usage:") and err.strip().splitlines()[-1].startswith("error: ") and expect in err
    assert not (tmp_path / "sr.png").exists()


def test_cli_missing_input_and_weights(capsys, tmp_path, png_file):
    rc, _, err = run(capsys, tmp_path / "nope.png", tmp_path / "sr.png")
    assert rc == 2 and "nope.png: input not found" in err
    rc, _, err = run(capsys, png_file, tmp_path / "sr.png", "--weights", tmp_path / "none.weights.h5")
    assert rc == 2 and "weights file not found" in err


def test_cli_existing_output_untouched(capsys, tmp_path, png_file, weights_file):
    out = tmp_path / "sr.png"
    out.write_bytes(b"precious")
    rc, _, err = run(capsys, png_file, out, "--weights", weights_file)
    assert rc == 2 and "exists" in err and "--overwrite" in err
    assert out.read_bytes() == b"precious"
    rc, _, err = run(capsys, png_file, out, "--weights", weights_file, "--steps", 0, "--overwrite")
    assert rc == 0, err
    assert np.asarray(Image.open(out)).shape == (64, 64, 3)


def test_cli_non_png_output(capsys, tmp_path, png_file):
    rc, _, err = run(capsys, png_file, tmp_path / "sr.jpg")
    assert rc == 2 and "must be a .png" in err


# ------------------------------------------------------------------ command: folders


@pytest.fixture
def folder(tmp_path, rgb_uint8):
    d = tmp_path / "in"
    d.mkdir()
    Image.fromarray(rgb_uint8).save(d / "a.png")
    Image.fromarray(rgb_uint8[::-1]).save(d / "c.jpg", quality=95)
    (d / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (d / "readme.txt").write_text("not an image")
    return d


def test_cli_folder_with_one_bad_file(capsys, tmp_path, folder, weights_file):
    out = tmp_path / "out" / "sr"
    rc, stdout, err = run(capsys, folder, out, "--weights", weights_file, "--steps", 0)
    assert rc == 1
    assert sorted(os.listdir(out)) == ["a.png", "c.png"]
    assert f"error: {folder / 'b.png'}: corrupt PNG" in err
    assert "skipped 1 file" in err and "1 of 3 image(s) failed" in err
    assert "wrote 2 image(s)" in stdout


def test_cli_folder_existing_output_refused_before_work(capsys, tmp_path, folder, weights_file):
    out = tmp_path / "out"
    out.mkdir()
    (out / "c.png").write_bytes(b"keep")
    rc, _, err = run(capsys, folder, out, "--weights", weights_file)
    assert rc == 2 and "1 output file(s) exist" in err
    assert sorted(os.listdir(out)) == ["c.png"] and (out / "c.png").read_bytes() == b"keep"


def test_cli_folder_stem_collision_and_file_output(capsys, tmp_path, folder, rgb_uint8):
    Image.fromarray(rgb_uint8).save(folder / "a.bmp")
    rc, _, err = run(capsys, folder, tmp_path / "out")
    assert rc == 2 and "would both be written to" in err
    (tmp_path / "f.png").write_bytes(b"x")
    rc, _, err = run(capsys, folder, tmp_path / "f.png")
    assert rc == 2 and "OUTPUT must be a folder" in err


def test_cli_empty_folder(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    rc, _, err = run(capsys, tmp_path / "empty", tmp_path / "out")
    assert rc == 2 and "no image files" in err


# ------------------------------------------------------------------ real processes


def _python_m(*args, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "mzsr_tf.upscale", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_subprocess_help(tmp_path):
    p = _python_m("--help", cwd=tmp_path)
    assert p.returncode == 0 and "usage: python -m mzsr_tf.upscale" in p.stdout and "--kernel" in p.stdout


def test_subprocess_errors_have_no_traceback(tmp_path, png_file):
    bad = tmp_path / "bad.png"
    bad.write_text("text")
    p = _python_m(bad, tmp_path / "sr.png", cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines()[-1] == f"error: {bad}: not an image (or a format Pillow cannot read)"
    p = _python_m(png_file, tmp_path / "sr.png", "--scale", "3", cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "invalid choice: 3" in p.stderr


# ------------------------------------------------------------------ the shipped example


def test_example_files():
    from mzsr_tf.io import read_image
    from mzsr_tf.kernels import load_kernel

    here = os.path.join(os.path.dirname(__file__), "..", "mzsr_tf", "examples")
    png, npy = os.path.join(here, "astronaut_lr_g20_x2.png"), os.path.join(here, "g20.npy")
    assert os.path.getsize(png) < 100_000 and os.path.getsize(npy) < 100_000
    x, notes = read_image(png)
    assert x.shape == (160, 160, 3) and notes == []
    k = load_kernel(npy, warn=None)
    assert k.shape == (15, 15) and abs(k.sum() - 1) < 1e-6


def test_example_reproducible(tmp_path):
    pytest.importorskip("skimage")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
    try:
        import make_example
    finally:
        sys.path.pop(0)
    _, lr, _ = make_example.make(dest=str(tmp_path))
    shipped = np.asarray(Image.open(os.path.join(make_example.DEST, "astronaut_lr_g20_x2.png")))
    assert np.abs(lr.astype(int) - shipped.astype(int)).max() <= 1  # float round-off may flip a rounding
