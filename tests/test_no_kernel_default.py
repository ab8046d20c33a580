"""What "no --kernel" means (issue #13): bicubic subsampling with the pretrained weights, one rule for command and API.

Measured in bench/real_photos.py (docs/results/real_photos.md); these tests pin the rule
and check, on the shipped example shrunk by Pillow as a user would, that it beats plain
bicubic interpolation where the old direct default fell below it. No shared data, no
scikit-image.
"""
import os

import numpy as np
import pytest
from PIL import Image

from mzsr_tf.api import ESTIMATE, subsampling_for
from mzsr_tf.commands.upscale import build_parser, main
from mzsr_tf.data import photo

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "mzsr_tf", "examples", "astronaut_lr_g20_x2.png")


@pytest.mark.parametrize("kernel, asked, expect", [
    (None, None, "bicubic"),          # nothing given: how common resizers shrink photos
    ("g2.0", None, "direct"),         # a kernel keeps the paper's g^d model
    (ESTIMATE, None, "direct"),       # the shipped estimator is x2 direct
    (np.ones((3, 3)) / 9, None, "direct"),
    (None, "direct", "direct"),       # asked for: always as asked
    ("g2.0", "bicubic", "bicubic"),
])
def test_rule(kernel, asked, expect):
    assert subsampling_for(kernel, asked) == expect


def test_api_default_is_bicubic_subsampling_with_pretrained_weights(rgb_uint8):
    import mzsr_tf

    got = mzsr_tf.upscale(rgb_uint8, steps=1)  # one step: the son (bicubic vs direct) changes the result
    np.testing.assert_array_equal(got, mzsr_tf.upscale(rgb_uint8, steps=1, subsampling="bicubic", weights="pretrain_x2"))
    old = mzsr_tf.upscale(rgb_uint8, steps=1, subsampling="direct")
    assert np.abs(got.astype(int) - old.astype(int)).max() > 10  # not the meta weights' direct run
    with_kernel = mzsr_tf.upscale(rgb_uint8, steps=1, kernel="g2.0")
    np.testing.assert_array_equal(with_kernel, mzsr_tf.upscale(rgb_uint8, steps=1, kernel="g2.0", subsampling="direct",
                                                               weights="kernel_aware_direct_x2"))


@pytest.mark.parametrize("args, expect", [
    ((), "weights pretrain_x2, bicubic subsampling, 1 step(s)"),
    (("--kernel", "g2.0"), "weights kernel_aware_direct_x2, direct subsampling, 1 step(s)"),
    (("--subsampling", "direct"), "weights kernel_aware_direct_x2, direct subsampling, 1 step(s)"),
])
def test_command_says_what_it_ran(capsys, tmp_path, png_file, args, expect):
    out = tmp_path / "sr.png"
    assert main([png_file, str(out), "--steps", "1", *args]) == 0
    assert expect in capsys.readouterr().out
    if not args:  # the command and the API are the same rule
        import mzsr_tf

        lr = np.asarray(Image.open(png_file).convert("RGB"))
        np.testing.assert_array_equal(np.asarray(Image.open(out)), mzsr_tf.upscale(lr, steps=1))


def test_help_states_the_default():
    text = " ".join(build_parser().format_help().split())
    assert "default: bicubic when no --kernel is given" in text
    assert "direct with a --kernel" in text


def test_default_beats_bicubic_on_a_pillow_shrunk_jpeg():
    """The shipped example shrunk x2 by Pillow's default resize, saved as JPEG 95, upscaled back."""
    import mzsr_tf
    from mzsr_tf.evaluate.protocol import measure

    hr, lr = _jpeg_photo(95)
    psnr = {name: measure(mzsr_tf.upscale(lr, **kw), hr, 2)[0] for name, kw in
            {"bicubic": dict(method="bicubic"), "default": {}, "old direct": dict(subsampling="direct")}.items()}
    assert psnr["default"] >= psnr["bicubic"] + 0.5, psnr  # measured: 38.37 against 35.82 dB
    assert psnr["old direct"] < psnr["bicubic"], psnr     # measured: 32.25: why the default changed


def _jpeg_photo(quality):
    """The shipped example shrunk ×2 by Pillow's default resize and saved as JPEG at this quality, read back (uint8)."""
    hr = np.asarray(Image.open(EXAMPLE).convert("RGB"))
    return hr, photo.jpeg_roundtrip(photo.shrink(hr, 2), quality)


def test_jpeg_input_gets_the_photo_weights(tmp_path, capsys):
    """No kernel and JPEG blocks in the pixels: the weights trained on resized, JPEG-saved photos."""
    import mzsr_tf
    from mzsr_tf.weights import default_name

    assert default_name(2, "bicubic", blurred=False, jpeg=True) == "pretrain_photo_x2"
    assert default_name(2, "bicubic", blurred=False, jpeg=False) == "pretrain_x2"
    assert default_name(2, "direct", blurred=True, jpeg=True) == "kernel_aware_direct_x2"  # a kernel: never the photo weights
    hr, lr = _jpeg_photo(75)
    got = mzsr_tf.upscale(lr, steps=0)
    np.testing.assert_array_equal(got, mzsr_tf.upscale(lr, steps=0, subsampling="bicubic", weights="pretrain_photo_x2"))
    lossless = photo.shrink(hr, 2)
    np.testing.assert_array_equal(mzsr_tf.upscale(lossless, steps=0),
                                  mzsr_tf.upscale(lossless, steps=0, subsampling="bicubic", weights="pretrain_x2"))
    Image.fromarray(lr).save(tmp_path / "q75.jpg", quality=75)
    assert main([str(tmp_path / "q75.jpg"), str(tmp_path / "sr.png"), "--steps", "0"]) == 0
    assert "weights pretrain_photo_x2" in capsys.readouterr().out


def test_default_beats_bicubic_on_a_pillow_shrunk_jpeg_75():
    """The JPEG-75 case the clean-bicubic weights lost: the photo weights put it above bicubic interpolation."""
    import mzsr_tf
    from mzsr_tf.evaluate.protocol import measure

    hr, lr = _jpeg_photo(75)
    psnr = {name: measure(mzsr_tf.upscale(lr, **kw), hr, 2)[0] for name, kw in
            {"bicubic": dict(method="bicubic"), "default": {},
             "clean weights": dict(subsampling="bicubic", weights="pretrain_x2")}.items()}
    assert psnr["default"] >= psnr["bicubic"] + 0.4, psnr        # measured: 34.05 against 33.46 dB
    assert psnr["clean weights"] < psnr["bicubic"], psnr          # measured: 33.14: why JPEG inputs are routed
