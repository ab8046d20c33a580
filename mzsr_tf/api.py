"""The Python API: ``mzsr_tf.upscale(array, scale=2, kernel=k, steps=10)``.

Each image is adapted on its own (Algorithm 2 of the paper): its "son" (the
image degraded once more with the given kernel) is upscaled, ``steps`` gradient
steps fit the network to map it back to the image, then the adapted network
upscales the image. No kernel means no blur (plain subsampling). The methods
themselves are in :mod:`mzsr_tf.methods`; the command is :mod:`mzsr_tf.commands.upscale`.
"""
import os
import warnings

import numpy as np

from . import methods
from .constants import DEFAULT_STEPS, MAX_STEPS, SCALES, SUBSAMPLINGS
from .errors import InputError
from .io import as_image_array, check_size


def check_options(scale, steps, subsampling):
    """Validates the numeric options; returns (scale, steps) as ints.

    Raises:
      InputError: scale not 2 or 4, steps negative, above ``MAX_STEPS`` or not
        an integer, unknown subsampling.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer, float)) or scale not in SCALES:
        raise InputError(f"scale must be 2 or 4, got {scale!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise InputError(f"steps must be an integer, got {steps!r}")
    if not 0 <= steps <= MAX_STEPS:
        raise InputError(f"steps must be between 0 and {MAX_STEPS}, got {steps}")
    if subsampling not in SUBSAMPLINGS:
        raise InputError(f"subsampling must be 'direct' or 'bicubic', got {subsampling!r}")
    return int(scale), int(steps)


def resolve_kernel(kernel, warn=None):
    """The blur kernel as a validated float32 array, or None for no blur.

    Args:
      kernel: None; a 2-D array; a file path (.npy, .mat with key ``kernel`` or
        ``Kernel``, grayscale image); or a paper scenario name ('g0.2', 'g2.0',
        'g1.3', 'gani') when no file of that name exists.
      warn: called with a message when the kernel is renormalised.

    Raises:
      InputError: unreadable file or invalid kernel (see ``kernels.validate_kernel``).
    """
    if kernel is None:
        return None
    from . import kernels

    if isinstance(kernel, (str, os.PathLike)):
        name = os.fspath(kernel)
        if not os.path.exists(name) and name in kernels.NAMED:
            return kernels.named_kernel(name)
        return kernels.load_kernel(name, warn=warn)
    return kernels.validate_kernel(kernel, source="kernel", warn=warn)


def _as_kind(sr, kind):
    if kind == "uint8":
        return np.round(np.clip(sr, 0.0, 1.0) * 255.0).astype(np.uint8)
    if kind == "uint16":
        return np.round(np.clip(sr, 0.0, 1.0) * 65535.0).astype(np.uint16)
    return sr.astype(np.float32)


def upscale(array, scale=2, kernel=None, steps=DEFAULT_STEPS, subsampling="direct", weights=None,
            method="mzsr", ensemble=None, zssr_iters=3000, seed=0, compute_dtype=None):
    """Super-resolves one image by zero-shot adaptation (MZSR, Algorithm 2).

    Args:
      array: H×W×3 image (H×W, H×W×1 and H×W×4 are converted, with a warning):
        uint8 (0..255), uint16 (0..65535) or float in [0, 1].
      scale: 2 or 4.
      kernel: blur kernel of the LR image: None (no blur), a 2-D array, a kernel
        file path, or a scenario name ('g0.2', 'g2.0', 'g1.3', 'gani').
      steps: gradient steps of adaptation (0 = the meta-learned network as is).
      subsampling: 'direct' (keep every s-th pixel) or 'bicubic'.
      weights: shipped weights name, a ``.weights.h5`` path, or None for the
        default for (scale, subsampling).
      method: 'mzsr' or 'zssr' (the baseline: trained from scratch on the image;
        ``steps`` and ``weights`` are not used).
      ensemble: 8-way self-ensemble; None = the method's default (off for mzsr,
        on for zssr, with median and back-projection).
      zssr_iters: ZSSR's iteration cap (it may stop earlier at its rate floor).
      seed: ZSSR's random seed.
      compute_dtype: None (float32) or 'bfloat16': convolutions in bfloat16,
        weights float32 (~2x faster on CPUs with bf16 units).

    Returns:
      sH×sW×3 array of the input's dtype family: uint8 → uint8, uint16 → uint16,
      float → float32 in [0, 1].

    Raises:
      InputError: bad image, kernel, option or weights (one clear message).
    """
    scale, steps = check_options(scale, steps, subsampling)
    check_method(method, zssr_iters)
    image, kind, notes = as_image_array(array, source="array")
    for note in notes:
        warnings.warn(f"array: {note}", stacklevel=2)
    k = resolve_kernel(kernel, warn=lambda m: warnings.warn(m.removeprefix("warning: "), stacklevel=3))
    check_size(image.shape[0], image.shape[1], scale, None if k is None else k.shape, source="array")
    name = method_for(method, ensemble)
    opts = methods.Options(scale=scale, kernel=k, subsampling=subsampling, steps=steps, weights=weights,
                           compute_dtype=compute_dtype, zssr_iters=zssr_iters, zssr_ensemble=ensemble is not False,
                           seed=seed)
    if methods.get(name).uses_weights:
        mismatch = weights_mismatch(opts)
        if mismatch:
            warnings.warn(mismatch, stacklevel=2)
    return _as_kind(methods.get(name).run(image, opts), kind)


def method_for(method, ensemble):
    """The registry name for a method and an ``ensemble`` choice (mzsr + ensemble = mzsr+ensemble)."""
    return "mzsr+ensemble" if method == "mzsr" and ensemble else method


def weights_mismatch(opts):
    """A warning text when the weights an mzsr run loads were trained for another scale or subsampling."""
    from .weights import info

    _, name = methods.load_params(opts.weights, opts.scale, opts.subsampling, opts.kernel is not None)
    meta = info(name)
    if meta.get("scale") not in (None, opts.scale):
        return f"weights {name!r} were trained for ×{meta['scale']}, used here for ×{opts.scale}"
    if meta.get("kind") == "meta" and meta.get("subsampling") not in (None, opts.subsampling):
        return f"weights {name!r} were meta-trained for {meta['subsampling']} subsampling, used here with {opts.subsampling}"
    return None


def check_method(method, zssr_iters=3000):
    """Raises InputError for an unknown method or a ZSSR iteration cap below 1."""
    methods.get(method)
    if isinstance(zssr_iters, bool) or not isinstance(zssr_iters, (int, np.integer)) or zssr_iters < 1:
        raise InputError(f"zssr_iters must be a positive integer, got {zssr_iters!r}")


