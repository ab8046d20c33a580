"""Evaluation of HR data beyond 8-bit RGB: 16-bit images, float and N-channel arrays.

The 8-bit protocol (:mod:`.protocol`) rounds everything to uint8 and measures
the Y channel with peak 255. Data stored at a higher precision is evaluated at
that precision instead:

- the LR input keeps the HR's dtype (:func:`mzsr_tf.scenarios.make_lr_array`:
  same kernels, same degradation, integers rounded as saving them would);
- the method runs as ``mzsr_tf.upscale`` runs it on such data
  (:func:`mzsr_tf.arrays.to_unit`, :func:`mzsr_tf.api.run_channels`,
  :func:`mzsr_tf.arrays.from_unit`): 16-bit RGB as RGB, gray replicated, data
  channels one at a time, each mapped by its own range;
- PSNR and SSIM with the data's peak, border s shaved:

  ============  ==========================================  =====================
  HR            measured on                                 peak
  ============  ==========================================  =====================
  16-bit RGB    Y of MATLAB ``rgb2ycbcr``, not rounded to    65535 (255 on Y's
                the 8-bit grid (RGBA: alpha dropped)         0–255 scale)
  16-bit gray   the gray level                              65535
  other data    each channel, and their mean                 per channel: 65535
                (float, N channels, other integer types)     for uint16, the
                                                             dtype's maximum for
                                                             integers, the HR
                                                             channel's range for
                                                             floats
  ============  ==========================================  =====================
"""
import math

import numpy as np

EIGHT_BIT, SIXTEEN_BIT, DATA = "8-bit", "16-bit", "data"


def kind_of(image):
    """'8-bit' (uint8 H×W×3, the paper's protocol), '16-bit' (uint16 H×W×3 or H×W×1) or 'data'."""
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3:
        return EIGHT_BIT
    if image.dtype == np.uint16 and image.ndim == 3 and image.shape[-1] in (1, 3):
        return SIXTEEN_BIT
    return DATA


def as_stored(a, source="array"):
    """An HR array read from a file as this module evaluates it, and notes on what was changed.

    16-bit RGBA loses its alpha (as 8-bit RGBA does in the 8-bit protocol); H×W
    becomes H×W×1. Everything else is kept as it is.

    Raises:
      InputError: not an H×W(×C) array of finite integers or floats (the file is skipped).
    """
    from ..errors import InputError

    if a.ndim not in (2, 3) or not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise InputError(f"{source}: array of shape {a.shape} and dtype {a.dtype}; expected H×W(×C) integers or floats")
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
        raise InputError(f"{source}: array has NaN or Inf values")
    notes = []
    if a.ndim == 2:
        a = a[:, :, None]
    if a.dtype == np.uint16 and a.ndim == 3 and a.shape[-1] == 4:
        a = np.ascontiguousarray(a[..., :3])
        notes.append("alpha channel dropped")
    return a, notes


def describe(image, gray_as_rgb=False):
    """What an HR array of this module is measured on, for the table and the JSON report."""
    c = image.shape[-1]
    if kind_of(image) == SIXTEEN_BIT:
        if c == 3 or gray_as_rgb:
            what = "16-bit RGB" if c == 3 else "16-bit gray, as RGB (--gray-as-rgb)"
            return f"{what}: Y not rounded to 8 bits, peak 65535"
        return "16-bit gray: gray level, peak 65535"
    peak = "the channel's range" if np.issubdtype(image.dtype, np.floating) else f"{_peak(image.dtype):.0f}"
    return f"{c} channel(s) {image.dtype}: PSNR per channel (mean shown), peak {peak}"


def _peak(dtype):
    return float(np.iinfo(dtype).max)


def run(method, lr, opts, channels="gray"):
    """A registry method on an LR array, as ``mzsr_tf.upscale`` runs it; returns SR of the LR's dtype and layout."""
    from .. import arrays
    from ..api import run_channels

    x, spec, _ = arrays.to_unit(lr)
    return arrays.from_unit(run_channels(method, x, spec, opts, channels), spec)


def measure(sr, hr, scale, gray_as_rgb=False):
    """(PSNR, SSIM, per-channel PSNRs or None) of an SR array against its HR with the data's peak.

    Args:
      sr, hr: arrays of the same shape and dtype (HR mod-cropped), H×W×C.
      scale: s, the border shaved on each side.
      gray_as_rgb: measure 16-bit gray on the Y of its RGB replica.
    """
    from ..metrics import data_peak, psnr, psnr_channels, ssim, ssim_map

    if kind_of(hr) == SIXTEEN_BIT and (hr.shape[-1] == 3 or gray_as_rgb):
        a, b = (np.repeat(v, 3 // v.shape[-1], axis=-1).astype(np.float64) / 65535.0 for v in (sr, hr))
        return psnr(a, b, scale, round_y=False), ssim(a, b, scale, round_y=False), None
    per = psnr_channels(sr, hr, scale)
    c = scale
    a, b = sr[c:-c, c:-c].astype(np.float64), hr[c:-c, c:-c]
    scores = []
    for i in range(hr.shape[-1]):
        peak = data_peak(b[..., i])
        if peak > 0:  # a constant channel has no range to measure SSIM against either
            scores.append(float(np.mean(ssim_map(a[..., i], b[..., i].astype(np.float64), peak=peak))))
    finite = [p for p in per if not math.isnan(p)]
    mean_psnr = float(np.mean(finite)) if finite else math.nan
    return mean_psnr, float(np.mean(scores)) if scores else math.nan, per
