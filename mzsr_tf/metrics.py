"""PSNR and SSIM as the SR literature reports them (MATLAB / BasicSR conventions).

Defaults follow the paper's protocol: the Y channel of MATLAB ``rgb2ycbcr``
(BT.601, studio range, rounded to the 8-bit grid), ``crop_border`` pixels shaved
on each side (the scale s), peak 255, SSIM with an 11×11 Gaussian window
(σ = 1.5), K1 = 0.01, K2 = 0.03, 'valid' filtering, mean of the SSIM map.
Every convention is an argument, so other papers' numbers can be reproduced too.
"""
import math

import numpy as np
from scipy import ndimage

# MATLAB rgb2ycbcr, Y row, for RGB in [0, 1] giving Y in [16, 235].
Y_WEIGHTS = (65.481, 128.553, 24.966)


def to_float255(img):
    """An image as float64 on the 0-255 scale.

    Args:
      img: uint8 array (0-255) or float array in [0, 1].
    """
    img = np.asarray(img)
    if img.dtype == np.uint8:
        return img.astype(np.float64)
    if np.issubdtype(img.dtype, np.integer) or img.dtype == bool:
        raise TypeError(f"integer images must be uint8, got {img.dtype}")
    return img.astype(np.float64) * 255.0


def rgb_to_y(img, round_y=True):
    """Luma of MATLAB ``rgb2ycbcr``: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255.

    Args:
      img: HxWx3 RGB, uint8 or float in [0, 1].
      round_y: round Y to the uint8 grid, as MATLAB does for uint8 input.

    Returns:
      float64 HxW, Y on the 0-255 scale.
    """
    rgb = to_float255(img)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"rgb_to_y expects an HxWx3 image, got shape {rgb.shape}")
    y = 16.0 + (rgb @ np.asarray(Y_WEIGHTS)) / 255.0
    return np.round(y) if round_y else y


def _prepare(a, b, crop_border, y_channel, round_y):
    """Both images as float64 0-255 planes (HxW or HxWxC) with the border shaved."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    if y_channel and a.ndim == 3 and a.shape[-1] == 3:
        a, b = rgb_to_y(a, round_y), rgb_to_y(b, round_y)
    else:
        a, b = to_float255(a), to_float255(b)
    c = int(crop_border)
    if c < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if c:
        if min(a.shape[:2]) <= 2 * c:
            raise ValueError(f"crop_border {c} leaves nothing of a {a.shape[:2]} image")
        a, b = a[c:-c, c:-c], b[c:-c, c:-c]
    return a, b


def psnr(a, b, crop_border=0, y_channel=True, peak=255.0, round_y=True):
    """Peak signal-to-noise ratio in dB (inf for identical images).

    Args:
      a, b: HxWx3 (or HxW) images, uint8 or float in [0, 1], same shape.
      crop_border: pixels shaved on each side before measuring (the scale s).
      y_channel: measure on MATLAB's Y of RGB images; else on all channels.
      peak: maximum signal value on the 0-255 scale.
      round_y: round Y to the uint8 grid (MATLAB).
    """
    a, b = _prepare(a, b, crop_border, y_channel, round_y)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)


def gaussian_window(size=11, sigma=1.5):
    """The 1-D normalised Gaussian whose outer product is the SSIM window."""
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(r * r) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(x, g):
    """Separable correlation of a 2-D plane with outer(g, g), 'valid' region only."""
    h = len(g) // 2
    y = ndimage.correlate1d(x, g, axis=0, mode="constant")
    y = ndimage.correlate1d(y, g, axis=1, mode="constant")
    return y[h:-h, h:-h] if h else y


def ssim_map(a, b, peak=255.0, k1=0.01, k2=0.03, window=11, sigma=1.5):
    """SSIM map of two float 2-D planes (Wang et al. 2004), 'valid' filtering.

    Args:
      a, b: float HxW planes on the 0-``peak`` scale.
      peak: dynamic range L.
      k1, k2: stabilising constants.
      window, sigma: Gaussian window side and standard deviation.
    """
    if min(a.shape) < window:
        raise ValueError(f"SSIM needs planes of at least {window}x{window}, got {a.shape}")
    c1, c2 = (k1 * peak) ** 2, (k2 * peak) ** 2
    g = gaussian_window(window, sigma)
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    saa = _filter_valid(a * a, g) - mu_a**2
    sbb = _filter_valid(b * b, g) - mu_b**2
    sab = _filter_valid(a * b, g) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * sab + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2)
    return num / den


def ssim(a, b, crop_border=0, y_channel=True, peak=255.0, round_y=True, k1=0.01, k2=0.03, window=11, sigma=1.5):
    """Mean structural similarity (MATLAB ``ssim_index`` / BasicSR ``calculate_ssim``).

    Args:
      a, b: HxWx3 (or HxW) images, uint8 or float in [0, 1], same shape.
      crop_border: pixels shaved on each side before measuring (the scale s).
      y_channel: measure on MATLAB's Y of RGB images; else mean over channels.
      peak, k1, k2, window, sigma: the SSIM constants (L, K1, K2, Gaussian window).
      round_y: round Y to the uint8 grid (MATLAB).
    """
    a, b = _prepare(a, b, crop_border, y_channel, round_y)
    if a.ndim == 2:
        return float(np.mean(ssim_map(a, b, peak, k1, k2, window, sigma)))
    return float(np.mean([np.mean(ssim_map(a[..., i], b[..., i], peak, k1, k2, window, sigma)) for i in range(a.shape[-1])]))


def data_peak(reference):
    """The PSNR peak of data like ``reference``: 255 for uint8, 65535 for uint16, else its value range (max − min)."""
    r = np.asarray(reference)
    if np.issubdtype(r.dtype, np.integer):
        return float(np.iinfo(r.dtype).max)
    return float(np.max(r) - np.min(r))


def psnr_channels(a, b, crop_border=0, peak=None):
    """PSNR in dB of each channel on the data's own scale (16-bit, float or N-channel data).

    Args:
      a: result, H×W or H×W×C of any numeric dtype.
      b: reference of the same shape.
      crop_border: pixels shaved on each side.
      peak: one peak for all channels, or None: per channel :func:`data_peak` of
        the reference channel (65535 for uint16, the channel's range for floats).

    Returns:
      list of floats, one per channel (inf where a channel is identical, NaN
      where the reference channel is constant and no ``peak`` is given).
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    c = int(crop_border)
    if c:
        a, b = a[c:-c, c:-c], b[c:-c, c:-c]
    out = []
    for i in range(a.shape[-1]):
        ref = b[..., i]
        top = float(peak) if peak is not None else data_peak(ref.astype(b.dtype))
        mse = float(np.mean((a[..., i].astype(np.float64) - ref.astype(np.float64)) ** 2))
        if mse == 0.0:
            out.append(math.inf)
        else:  # a constant reference channel has no range to measure against: NaN, not a number of dB
            out.append(10.0 * math.log10(top * top / mse) if top > 0 else math.nan)
    return out
