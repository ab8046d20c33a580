"""Blind blur-kernel estimation from the LR image alone (``--kernel estimate``).

Python::

    from mzsr_tf.estimate import estimate_kernel
    k = estimate_kernel(lr, scale=2)          # float32 [15, 15], centred, sums to 1

Command: ``python -m mzsr_tf.estimate INPUT --out kernel.npy [--png kernel.png]``;
the blind evaluation (``rk`` random kernels, paper kernels estimated vs given):
``python -m mzsr_tf.estimate --evaluate --hr-dir DIR``. See :mod:`.core` for the method.
"""
import time

import numpy as np

from ..constants import SCALES, SUBSAMPLINGS
from ..errors import InputError
from ..kernels import DEFAULT_SIZE
from . import core


def check_options(scale, subsampling, size=DEFAULT_SIZE):
    """Raises InputError for a bad scale, subsampling or kernel size, or no shipped estimator for them."""
    if isinstance(scale, bool) or scale not in SCALES:
        raise InputError(f"scale must be 2 or 4, got {scale!r}")
    if subsampling not in SUBSAMPLINGS:
        raise InputError(f"subsampling must be 'direct' or 'bicubic', got {subsampling!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 3 or size % 2 == 0:
        raise InputError(f"kernel size must be an odd integer >= 3, got {size!r}")
    if core.load_model(int(scale), subsampling) is None:
        raise InputError(f"no kernel estimator is shipped for ×{scale} {subsampling} subsampling "
                         "(fit one with docs/estimate_fit.py)")


def min_side(scale, size=DEFAULT_SIZE):
    """The smallest LR side accepted: 8 son pixels a side, and the kernel's side."""
    return max(8 * scale, size)


def estimate_kernel(lr, scale=2, subsampling="direct", size=DEFAULT_SIZE, return_info=False):
    """Estimates the blur kernel that made an LR image, from the image alone.

    Args:
      lr: H×W×3 image, uint8 or float in [0, 1] (other layouts as ``io.as_image_array``).
      scale: SR scale the image is to be upscaled by (2 or 4).
      subsampling: 'direct' or 'bicubic', as for ``upscale``.
      size: kernel side (odd); 15 is the p(k) grid.
      return_info: also return a dict (λ1 ≥ λ2 the eigenvalues of Σ, the covariance, seconds).

    Returns:
      float32 [size, size] Eq. 3 Gaussian: centred, non-negative, sums to 1 (and the info dict).

    Raises:
      InputError: a bad image or option, or an image smaller than :func:`min_side`.
    """
    from ..io import as_image_array

    check_options(scale, subsampling, size)
    image, _, _ = as_image_array(lr, source="image")
    h, w = image.shape[:2]
    if min(h, w) < min_side(scale, size):
        raise InputError(f"image is {w}×{h} pixels; kernel estimation at ×{scale} needs each side "
                         f">= {min_side(scale, size)}")
    t0 = time.perf_counter()
    model = core.load_model(int(scale), subsampling)
    cov = core.predict_covariance(model, core.features(core.luma(image)))
    kernel = core.gaussian_from_covariance(cov, size)
    if not return_info:
        return kernel
    lam = np.linalg.eigvalsh(cov)
    info = {"lambda1": float(lam[1]), "lambda2": float(lam[0]), "covariance": cov.tolist(),
            "seconds": time.perf_counter() - t0}
    return kernel, info


def kernel_error(estimate, truth):
    """Σ|k̂ − k| (0 = equal, 2 = disjoint), after padding the smaller kernel to the larger one's size."""
    a, b = np.asarray(estimate, np.float64), np.asarray(truth, np.float64)
    n = max(a.shape[0], b.shape[0], a.shape[1], b.shape[1])
    pad = lambda k: np.pad(k, [((n - s) // 2, n - s - (n - s) // 2) for s in k.shape])  # noqa: E731
    return float(np.abs(pad(a) - pad(b)).sum())


def main(argv=None):
    from .command import main as run

    return run(argv)
