"""Blind kernel estimation: valid kernels, the right blur direction, the command and its errors."""
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

from mzsr_tf.errors import InputError
from mzsr_tf.estimate import core, estimate_kernel, kernel_error
from mzsr_tf.estimate.command import main
from mzsr_tf.kernels import gaussian_kernel_np, rk_kernel


def _texture(n=192, seed=0):
    """A synthetic photo-like texture: smoothed noise at several scales plus sharp-edged blocks."""
    rng = np.random.default_rng(seed)
    img = np.zeros((n, n, 3))
    for s in (0.5, 1.5, 4.0):
        img += ndimage.gaussian_filter(rng.random((n, n, 3)), (s, s, 0)) * s
    for _ in range(30):
        y, x, h, w = rng.integers(0, n, 4) // np.array([1, 1, 3, 3])
        img[y:y + h, x:x + w] += rng.random(3)
    img -= img.min()
    return img / img.max()


def _lr(hr, kernel):
    y = np.stack([ndimage.correlate(hr[..., c], kernel, mode="reflect") for c in range(3)], -1)[::2, ::2]
    return np.round(np.clip(y, 0, 1) * 255).astype(np.uint8)


def _centre_of_mass(k):
    ys, xs = np.mgrid[: k.shape[0], : k.shape[1]]
    return float((k * ys).sum()), float((k * xs).sum())


@pytest.mark.parametrize("kernel", [None, "wide", "rk"])
def test_valid_kernel(kernel):
    hr = _texture(96)
    k = {None: np.pad([[1.0]], 7), "wide": gaussian_kernel_np(4.0, 1.0, 0.4), "rk": rk_kernel(3)}[kernel]
    for lr in (_lr(hr, k), _lr(hr, k).astype(np.float32) / 255.0):
        est = estimate_kernel(lr, scale=2)
        assert est.shape == (15, 15) and est.dtype == np.float32
        assert abs(float(est.sum()) - 1.0) < 1e-5 and est.min() >= 0
        cy, cx = _centre_of_mass(est)
        assert abs(cy - 7) < 1e-3 and abs(cx - 7) < 1e-3
        np.testing.assert_allclose(est, est[::-1, ::-1], atol=1e-7)  # point-symmetric: centred


def test_rk_kernel_is_seeded_and_valid():
    a, b = rk_kernel(7), rk_kernel(8)
    np.testing.assert_array_equal(a, rk_kernel(7))
    assert not np.allclose(a, b)
    assert a.shape == (15, 15) and abs(a.sum() - 1) < 1e-5 and a.min() >= 0
    assert np.unravel_index(np.argmax(gaussian_kernel_np(1, 1, 0)), (15, 15)) == (7, 7)


@pytest.mark.parametrize("truth,other", [((0.2, 0.2, 0.0), (1.0, 1.0, 0.0)),
                                         ((0.4, 0.4, 0.0), (4.0, 4.0, 0.0)),
                                         ((4.0, 4.0, 0.0), (0.4, 0.4, 0.0)),
                                         ((5.0, 0.5, 0.0), (5.0, 0.5, math.pi / 2))])
def test_estimate_closer_to_truth(truth, other):
    k_true, k_other = gaussian_kernel_np(*truth), gaussian_kernel_np(*other)
    est = estimate_kernel(_lr(_texture(192, seed=1), k_true), scale=2)
    assert kernel_error(est, k_true) < kernel_error(est, k_other)


def test_edge_steps_tell_a_step_from_a_ramp():
    x = np.arange(40.0)[None, :].repeat(40, 0)
    step, ramp = (x >= 20).astype(float), np.clip((x - 16) / 8, 0, 1)
    assert core.edge_steps(step, 0, 1) == pytest.approx([1.0, 1.0], abs=1e-3)
    assert core.edge_steps(ramp, 0, 1) == pytest.approx([0.5, 0.5], abs=1e-3)
    assert core.features(step).shape == (41,)


def test_bad_arguments_raise():
    with pytest.raises(InputError):
        estimate_kernel(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(InputError):
        estimate_kernel(np.zeros((64, 64, 3), np.uint8), scale=3)
    with pytest.raises(InputError):
        estimate_kernel(np.full((64, 64, 3), 300.0))


@pytest.fixture
def images(tmp_path):
    from PIL import Image

    Image.fromarray(_lr(_texture(96), gaussian_kernel_np(2, 2, 0))).save(tmp_path / "a.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "small.png")
    return tmp_path


def test_command_end_to_end(images, capsys):
    out, png = images / "k.npy", images / "k.png"
    assert main([str(images / "a.png"), "--out", str(out), "--png", str(png)]) == 0
    k = np.load(out)
    assert k.shape == (15, 15) and abs(k.sum() - 1) < 1e-5
    from PIL import Image

    assert Image.open(png).size == (15 * 16, 15 * 16)
    assert main([str(images / "a.png"), "--out", str(out)]) == 2  # exists, no --overwrite
    assert "exists" in capsys.readouterr().err
    assert main([str(images / "a.png"), "--out", str(out), "--overwrite"]) == 0


@pytest.mark.parametrize("name,args,words", [
    ("bad.png", [], "not an image"),
    ("small.png", [], "at least"),
    ("a.png", ["--scale", "3"], "scale"),
    ("missing.png", [], "not found"),
])
def test_command_bad_input(images, capsys, name, args, words):
    assert main([str(images / name), "--out", str(images / "o.npy")] + args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and words in err[0]
    assert not (images / "o.npy").exists()


def test_command_folder(images, capsys):
    assert main([str(images), "--out", str(images / "kernels")]) == 1  # bad files reported, good one written
    assert (images / "kernels" / "a.npy").exists()
    assert capsys.readouterr().err.count("error:") == 2


def test_console_script_exit_status(images):
    r = subprocess.run([sys.executable, "-m", "mzsr_tf.estimate", str(images / "bad.png"), "--out",
                        str(images / "o.npy")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "error:" in r.stderr


def test_upscale_with_kernel_estimate_end_to_end(tmp_path, capsys):
    """`upscale --kernel estimate` on a tiny image: the kernel is estimated, reported and used."""
    from PIL import Image

    from mzsr_tf.commands.upscale import main as upscale_main

    src = tmp_path / "lr.png"
    Image.fromarray(_lr(_texture(96), gaussian_kernel_np(2.0, 2.0, 0.0))).save(src)
    out = tmp_path / "sr.png"
    assert upscale_main([str(src), str(out), "--kernel", "estimate", "--steps", "1"]) == 0
    assert "estimated kernel" in capsys.readouterr().err
    assert np.asarray(Image.open(out)).shape == (96, 96, 3)
    assert upscale_main([str(src), str(tmp_path / "x4.png"), "--kernel", "estimate", "--scale", "4"]) == 2
    assert "no kernel estimator" in capsys.readouterr().err


def test_evaluate_rk_prints_the_four_blind_rows(tmp_path, capsys):
    from PIL import Image

    from mzsr_tf.evaluate import main as evaluate_main

    d = tmp_path / "hr"
    d.mkdir()
    Image.fromarray((_texture(64) * 255).astype(np.uint8)).save(d / "a.png")
    assert evaluate_main(["--hr-dir", str(d), "--scenario", "rk", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    for row in ("bicubic", "mzsr, no kernel", "mzsr, estimated kernel", "mzsr, true kernel (oracle)"):
        assert f"| {row} |" in out
