"""Golden values for the MATLAB-convention Y / PSNR / SSIM (no shared data needed)."""
import math

import numpy as np
import pytest
from scipy import signal

from mzsr_tf.metrics import gaussian_window, psnr, rgb_to_y, ssim

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def rng_image(h, w, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c) if c else (h, w), dtype=np.uint8)


def test_rgb_to_y_hand_values():
    img = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 0], [255, 255, 255], [128, 128, 128]]], np.uint8)
    # 16 + 65.481 = 81.481; 16 + 128.553 = 144.553; 16 + 24.966 = 40.966; 16; 235; 16 + 219·128/255 = 125.93
    np.testing.assert_array_equal(rgb_to_y(img), [[81, 145, 41, 16, 235, 126]])
    np.testing.assert_allclose(rgb_to_y(img, round_y=False), [[81.481, 144.553, 40.966, 16, 235, 16 + 219 * 128 / 255]])


def test_rgb_to_y_float_matches_uint8():
    img = rng_image(7, 5)
    np.testing.assert_array_equal(rgb_to_y(img), rgb_to_y(img / 255.0))


def test_psnr_black_vs_white_y_is_exact():
    a = np.zeros((8, 8, 3), np.uint8)
    b = np.full((8, 8, 3), 255, np.uint8)
    # Y = 16 vs 235: MSE = 219²
    assert psnr(a, b) == pytest.approx(20 * math.log10(255 / 219), abs=1e-12)


@pytest.mark.parametrize("d", [1, 3, 10])
def test_psnr_constant_offset_all_channels(d):
    a = rng_image(16, 12, seed=d) // 2
    b = a + np.uint8(d)
    assert psnr(a, b, y_channel=False) == pytest.approx(10 * math.log10(255**2 / d**2), abs=1e-12)


def test_psnr_identical_is_inf_and_float_input():
    a = rng_image(9, 9)
    assert math.isinf(psnr(a, a.copy()))
    b = a.copy()
    b[4, 4] = 0
    assert psnr(a, b) == pytest.approx(psnr(a / 255.0, b / 255.0), abs=1e-9)


def test_psnr_crop_border():
    a = np.zeros((10, 10), np.uint8)
    b = a.copy()
    b[0, :] = 200  # border only
    assert math.isinf(psnr(a, b, crop_border=2))
    assert math.isfinite(psnr(a, b, crop_border=0))
    b[5, 5] = 10  # one interior pixel of the 6×6 kept area
    assert psnr(a, b, crop_border=2) == pytest.approx(10 * math.log10(255**2 / (100 / 36)), abs=1e-12)
    with pytest.raises(ValueError):
        psnr(a, b, crop_border=5)


def test_ssim_identical_is_one():
    a = rng_image(32, 24)
    assert ssim(a, a.copy(), crop_border=2) == pytest.approx(1.0, abs=1e-12)


def test_ssim_constant_images_formula():
    a = np.full((20, 20), 100, np.uint8)
    b = np.full((20, 20), 110, np.uint8)
    expected = (2 * 100 * 110 + C1) / (100**2 + 110**2 + C1)  # σ terms are (0 + C2)/(0 + C2)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-12)


def test_ssim_constant_shift_of_textured_image():
    # Same variances and covariance: SSIM map = (2 μ (μ+c) + C1) / (μ² + (μ+c)² + C1) with μ the local mean.
    a = (rng_image(30, 26, c=0) // 2).astype(np.float64)
    c = 20.0
    w = np.outer(gaussian_window(), gaussian_window())
    mu = signal.correlate2d(a, w, mode="valid")
    expected = np.mean((2 * mu * (mu + c) + C1) / (mu**2 + (mu + c) ** 2 + C1))
    got = ssim(a.astype(np.uint8), (a + c).astype(np.uint8))
    assert got == pytest.approx(expected, abs=1e-12)


def test_ssim_single_window_by_hand():
    # An 11×11 plane has exactly one 'valid' window: SSIM from weighted sums written out.
    a = rng_image(11, 11, c=0, seed=1).astype(np.float64)
    b = rng_image(11, 11, c=0, seed=2).astype(np.float64)
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    ma, mb = (w * a).sum(), (w * b).sum()
    va, vb = (w * a * a).sum() - ma**2, (w * b * b).sum() - mb**2
    cov = (w * a * b).sum() - ma * mb
    expected = (2 * ma * mb + C1) * (2 * cov + C2) / ((ma**2 + mb**2 + C1) * (va + vb + C2))
    assert ssim(a.astype(np.uint8), b.astype(np.uint8)) == pytest.approx(expected, abs=1e-12)


def test_ssim_y_channel_and_crop():
    a = rng_image(40, 36, seed=3)
    b = np.clip(a.astype(int) + np.random.default_rng(4).integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    ya, yb = rgb_to_y(a), rgb_to_y(b)
    full = ssim(a, b)
    assert full == pytest.approx(ssim(ya / 255.0, yb / 255.0, y_channel=False), abs=1e-12)
    cropped = ssim(a, b, crop_border=4)
    assert cropped == pytest.approx(ssim(ya[4:-4, 4:-4] / 255.0, yb[4:-4, 4:-4] / 255.0), abs=1e-12)
    assert cropped != pytest.approx(full, abs=1e-6)
    # RGB without Y: mean over the three channels
    per = [ssim(a[..., i], b[..., i]) for i in range(3)]
    assert ssim(a, b, y_channel=False) == pytest.approx(np.mean(per), abs=1e-12)


def test_shape_mismatch_and_too_small():
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError):
        ssim(np.zeros((10, 10, 3)), np.zeros((10, 10, 3)))


def test_psnr_channels_peaks_golden():
    from mzsr_tf.metrics import data_peak, psnr_channels

    a = np.zeros((4, 4), np.uint16)
    b = a.copy()
    b[0, 0] = 65535  # MSE = 65535²/16, so PSNR = 10·log10(16) with peak 65535
    assert data_peak(b) == 65535.0
    assert psnr_channels(a, b) == pytest.approx([12.041199826559248])
    f = np.zeros((4, 4, 2))
    f[..., 0] = np.linspace(0, 2, 16).reshape(4, 4)  # range 2
    f[..., 1] = 7.0
    g = f + 0.2  # error 0.2 everywhere
    p = psnr_channels(g, f)
    assert p[0] == pytest.approx(20.0) and math.isnan(p[1])  # constant reference: no range
    assert psnr_channels(g, f, peak=2.0)[1] == pytest.approx(20.0)
