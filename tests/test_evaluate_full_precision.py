"""``evaluate`` on 16-bit images and float N-channel arrays: LR at full precision, PSNR with the data's peak."""
import json
import math

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from mzsr_tf import evaluate, io, scenarios
from mzsr_tf.kernels import named_kernel


def smooth_field(h, w, seed, sigma=1.3):
    """A smooth random field in [0, 1] (float64)."""
    x = ndimage.gaussian_filter(np.random.default_rng(seed).uniform(size=(h, w)), sigma)
    return (x - x.min()) / (x.max() - x.min())


def run_json(capsys, tmp_path, hr_dir, *args):
    js = tmp_path / f"r{len(list(tmp_path.glob('r*.json')))}.json"
    rc = evaluate.main([str(a) for a in ["--hr-dir", hr_dir, "--json", js, *args]])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(js.read_text()), out


def bicubic_x2_by_hand(x):
    """MATLAB imresize(x, 2, 'bicubic') along both axes of a 2-D array: at scale 2 every output pixel
    is a 4-tap filter of the input (Keys a = -0.5 at distances 1.75, 0.75, 0.25, 1.25), edges mirrored."""
    taps = np.array([-3, 29, 111, -9]) / 128.0  # output 2m reads m-2..m+1; output 2m+1 the mirror image

    def along_rows(a):
        p = np.pad(a, ((2, 2), (0, 0)), mode="symmetric")
        n = a.shape[0]
        even = sum(t * p[k:k + n] for k, t in enumerate(taps))
        odd = sum(t * p[k + 1:k + 1 + n] for k, t in enumerate(taps[::-1]))
        return np.stack([even, odd], axis=1).reshape(2 * n, -1)

    return along_rows(along_rows(x).T).T


def test_16bit_matches_its_8bit_equivalent(tmp_path, capsys):
    rgb8 = np.round(np.stack([smooth_field(44, 40, s) for s in (1, 2, 3)], -1) * 255).astype(np.uint8)
    gray8 = np.round(smooth_field(36, 38, 4) * 255).astype(np.uint8)
    eight, sixteen = tmp_path / "eight", tmp_path / "sixteen"
    eight.mkdir(), sixteen.mkdir()
    Image.fromarray(rgb8).save(eight / "rgb.png")
    Image.fromarray(gray8).save(eight / "gray.png")
    io.write_array(sixteen / "rgb.png", rgb8.astype(np.uint16) * 257)  # the same picture at 16 bits
    io.write_array(sixteen / "gray.png", gray8.astype(np.uint16) * 257)
    assert io.read_array(sixteen / "rgb.png")[0].dtype == np.uint16

    args = ("--scenario", "bicubic", "g2.0", "--method", "bicubic")
    r8, _ = run_json(capsys, tmp_path, eight, *args)
    r16, out = run_json(capsys, tmp_path, sixteen, *args)
    assert r16["measured_on"] == {"gray.png": "16-bit gray: gray level, peak 65535",
                                  "rgb.png": "16-bit RGB: Y not rounded to 8 bits, peak 65535"}
    assert "rgb.png: 16-bit RGB: Y not rounded to 8 bits, peak 65535" in out
    assert r8["measured_on"] == {} and r16["gray_images"] == ["gray.png"]
    for sc in ("bicubic", "g2.0"):
        for name in ("rgb.png", "gray.png"):
            p8 = r8["scenarios"][sc]["columns"]["bicubic"]["images"][name]
            p16 = r16["scenarios"][sc]["columns"]["bicubic"]["images"][name]
            # only the 8-bit rounding of LR, SR and Y differs: a few hundredths of a dB at these PSNRs
            assert 20 < p8["psnr"] < 40 and p16["psnr"] == pytest.approx(p8["psnr"], abs=0.1), (sc, name)
            assert p16["ssim"] == pytest.approx(p8["ssim"], abs=0.002)
            assert p16["psnr"] != p8["psnr"]  # measured on the 16-bit data, not on an 8-bit copy of it


def test_float_channels_psnr_per_channel_with_data_range_peak(tmp_path, capsys):
    c0, c2, c3 = (smooth_field(36, 40, s) for s in (5, 6, 7))
    hr = np.stack([c0, 1000 * c0 - 300, 0.01 * c2, c3, 50 * c2 + 7], -1).astype(np.float32)
    d = tmp_path / "hr"
    d.mkdir()
    np.save(d / "fields.npy", hr)
    rep, out = run_json(capsys, tmp_path, d, "--scenario", "g2.0", "--method", "bicubic")
    assert rep["measured_on"] == {"fields.npy": "5 channel(s) float32: PSNR per channel (mean shown), peak the "
                                                "channel's range"}
    got = rep["scenarios"]["g2.0"]["columns"]["bicubic"]["images"]["fields.npy"]

    # the pipeline written out by hand: blur (scipy 'reflect' = symmetric), keep [0::2, 0::2], bicubic x2,
    # border 2 shaved, PSNR = 10 log10(range² / MSE) with the HR channel's range as the peak
    k = named_kernel("g2.0", 15).astype(np.float64)
    expected = []
    for i in range(hr.shape[-1]):
        ref = hr[..., i].astype(np.float64)
        lr = ndimage.correlate(ref, k, mode="reflect")[::2, ::2].astype(np.float32).astype(np.float64)
        sr = bicubic_x2_by_hand(lr)[2:-2, 2:-2]
        ref = ref[2:-2, 2:-2]
        expected.append(10 * math.log10((ref.max() - ref.min()) ** 2 / np.mean((sr - ref) ** 2)))
    assert got["psnr_channels"] == pytest.approx(expected, abs=2e-3)
    assert got["psnr_channels"][1] == pytest.approx(got["psnr_channels"][0], abs=2e-3)  # affine copy: same dB
    assert got["psnr"] == pytest.approx(np.mean(expected), abs=2e-3)
    assert 20 < min(expected) and max(expected) < 60


def test_mzsr_runs_on_channels_as_upscale_does(tmp_path, capsys, weights_file):
    import mzsr_tf
    from mzsr_tf.metrics import psnr_channels

    hr = np.stack([smooth_field(32, 34, s) * (s + 1) for s in range(4)], -1)  # float64, 4 channels
    d = tmp_path / "hr"
    d.mkdir()
    np.save(d / "a.npy", hr)
    rep, _ = run_json(capsys, tmp_path, d, "--scenario", "gani", "--method", "mzsr", "--steps", "1",
                      "--weights", weights_file)
    got = rep["scenarios"]["gani"]["columns"]["mzsr(1)"]["images"]["a.npy"]
    hr_c, lr = scenarios.make_lr_array(hr, "gani")
    assert lr.dtype == np.float64 and lr.shape == (16, 17, 4)
    sr = mzsr_tf.upscale(lr, scale=2, kernel="gani", steps=1, weights=weights_file)
    assert got["psnr_channels"] == pytest.approx(psnr_channels(sr, hr_c, 2), abs=1e-9)


def test_make_lr_array_keeps_dtype_and_matches_8bit():
    hr8 = np.round(np.stack([smooth_field(20, 22, s) for s in (8, 9, 10)], -1) * 255).astype(np.uint8)
    for name in ("bicubic", "g2.0x4", "gani"):
        _, lr8 = scenarios.make_lr(hr8, name)
        _, lr16 = scenarios.make_lr_array(hr8.astype(np.uint16) * 257, name)
        assert lr16.dtype == np.uint16 and lr16.shape == lr8.shape
        assert np.abs(lr16 / 257.0 - lr8).max() <= 0.5 + 1e-6  # the same LR, rounded on a finer grid
        assert np.abs(lr16 / 257.0 - lr8).max() > 0.01
    const = np.full((8, 10, 2), -4.5, np.float32)
    assert np.all(scenarios.make_lr_array(const, "g2.0")[1] == -4.5)


def test_arrays_that_cannot_be_evaluated_are_skipped(tmp_path, capsys):
    d = tmp_path / "hr"
    d.mkdir()
    np.save(d / "good.npy", np.stack([smooth_field(24, 26, s) for s in (1, 2)], -1))
    bad_nan = np.stack([smooth_field(24, 26, s) for s in (3, 4)], -1)
    bad_nan[3, 4, 1] = np.nan
    np.save(d / "nan.npy", bad_nan)
    np.save(d / "cube.npy", np.zeros((4, 24, 26, 2)))
    np.save(d / "flags.npy", np.zeros((24, 26), bool))
    js = tmp_path / "r.json"
    rc = evaluate.main([str(a) for a in ["--hr-dir", d, "--scenario", "g2.0", "--method", "bicubic", "--json", js]])
    _, err = capsys.readouterr()
    assert rc == 1 and "NaN or Inf" in err and "shape (4, 24, 26, 2)" in err and "dtype bool" in err
    rep = json.loads(js.read_text())
    assert sorted(rep["skipped"]) == ["cube.npy", "flags.npy", "nan.npy"] and rep["images"] == ["good.npy"]
    assert len(rep["scenarios"]["g2.0"]["columns"]["bicubic"]["images"]["good.npy"]["psnr_channels"]) == 2
