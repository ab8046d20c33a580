"""The Python API: ``mzsr_tf.upscale(array, scale=2, kernel=k, steps=10)``.

Each image is adapted on its own (Algorithm 2 of the paper): its "son" (the
image degraded once more with the given kernel) is upscaled, ``steps`` gradient
steps fit the network to map it back to the image, then the adapted network
upscales the image. No kernel means no blur, and then, unless a subsampling is
asked for, bicubic subsampling (:func:`subsampling_for`, the one rule for "no
kernel"). The methods themselves are in :mod:`mzsr_tf.methods`; the command is
:mod:`mzsr_tf.commands.upscale`.
"""
import os
import warnings

import numpy as np

from . import arrays, methods
from .constants import DEFAULT_STEPS, KERNEL_NAMES, MAX_LR_PIXELS, MAX_STEPS, SCALES, SUBSAMPLINGS
from .errors import InputError
from .io import check_size
from .tiling import DEFAULT_MAX_MEMORY, check_memory


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


ESTIMATE = "estimate"  # --kernel estimate: each image's kernel estimated from the image (mzsr_tf.estimate)


def subsampling_for(kernel, subsampling=None):
    """The subsampling a run assumes: the one asked for; else bicubic without a kernel, direct with one.

    The one rule for "no --kernel" (the command and :func:`upscale` both call it;
    which weights then load stays ``weights.default_name``'s choice: ``pretrain_x2``
    / ``pretrain_x4`` for an unblurred bicubic-subsampled input, ``pretrain_photo_x2``
    when it also shows JPEG compression). A photo shrunk by
    a common resizer (Pillow's ``Image.resize``, OpenCV's ``INTER_AREA``, MATLAB's
    ``imresize``) is antialiased and centre-aligned (×2: LR pixel m is centred on HR
    2m + 0.5), which is what bicubic subsampling models; direct subsampling keeps HR
    pixel 2m, half an HR pixel off and aliased. On such photos saved as JPEG
    (``bench/real_photos.py``, ``docs/results/real_photos_before_photo_weights.md``) the direct no-kernel
    run was 1.2–2.1 dB below bicubic interpolation on average and the bicubic one up to 1.9 dB above it.
    A given kernel (or 'estimate') keeps the paper's direct model: its g^d kernels
    and the shipped estimator are direct.

    Args:
      kernel: the user's kernel argument as given (None when there is none).
      subsampling: 'direct', 'bicubic', or None (not asked for).
    """
    if subsampling is not None:
        return subsampling
    return "bicubic" if kernel is None else "direct"


def resolve_kernel(kernel, warn=None, scale=2, subsampling="direct"):
    """The blur kernel as a validated float32 array, None for no blur, or ``ESTIMATE``.

    Args:
      kernel: None; a 2-D array; a file path (.npy, .mat with key ``kernel`` or
        ``Kernel``, grayscale image); a paper scenario name ('g0.2', 'g2.0',
        'g1.3', 'gani') when no file of that name exists; or 'estimate' (then
        :func:`kernel_for_image` estimates it per image).
      warn: called with a message when the kernel is renormalised.
      scale, subsampling: what 'estimate' must have an estimator for.

    Raises:
      InputError: unreadable file, invalid kernel (see ``kernels.validate_kernel``),
        or no estimator for (scale, subsampling).
    """
    if kernel is None:
        return None
    if isinstance(kernel, str) and kernel == ESTIMATE and not os.path.exists(kernel):
        from .estimate import check_options

        check_options(scale, subsampling)
        return ESTIMATE
    if isinstance(kernel, (str, os.PathLike)) and not os.path.exists(kernel) and os.fspath(kernel) not in KERNEL_NAMES:
        # said before TensorFlow loads (importing kernels does)
        names = ", ".join(KERNEL_NAMES + (ESTIMATE,))
        raise InputError(f"{os.fspath(kernel)}: no such kernel file, nor a kernel name; names: {names}")
    from . import kernels

    if isinstance(kernel, (str, os.PathLike)):
        name = os.fspath(kernel)
        if not os.path.exists(name) and name in kernels.NAMED:
            return kernels.named_kernel(name)
        return kernels.load_kernel(name, warn=warn)
    return kernels.validate_kernel(kernel, source="kernel", warn=warn)


def is_estimated(kernel):
    """True when ``kernel`` (what :func:`resolve_kernel` returned) asks for a per-image estimate."""
    return isinstance(kernel, str) and kernel == ESTIMATE


def kernel_extent(kernel):
    """The (h, w) a resolved kernel takes in size checks: None, the estimator's size, or its shape."""
    from .constants import KERNEL_SIZE

    if kernel is None:
        return None
    return (KERNEL_SIZE, KERNEL_SIZE) if is_estimated(kernel) else kernel.shape


def kernel_for_image(kernel, x, scale, subsampling, notes=None):
    """The kernel one image runs with: ``kernel`` itself, or for ``ESTIMATE`` the one estimated from ``x``.

    Args:
      kernel: what :func:`resolve_kernel` returned.
      x: the image as float H×W×C in [0, 1] (gray and N-channel data are estimated on their mean).
      notes: a list that gets a line on the estimate.
    """
    if not is_estimated(kernel):
        return kernel
    from .estimate import estimate_kernel

    x = np.asarray(x, np.float32)
    if x.ndim == 2 or x.shape[2] != 3:
        x = np.repeat(x.reshape(x.shape[0], x.shape[1], -1).mean(-1, keepdims=True), 3, -1)
    k, info = estimate_kernel(x, scale, subsampling, return_info=True)
    if notes is not None:
        notes.append(f"estimated kernel: Gaussian with variances {info['lambda1']:.2f} and {info['lambda2']:.2f}")
    return k


def upscale(array, scale=2, kernel=None, steps=DEFAULT_STEPS, subsampling=None, weights=None,
            method="mzsr", ensemble=None, zssr_iters=3000, seed=0, compute_dtype=None,
            max_memory=DEFAULT_MAX_MEMORY, value_range=None, channels="gray"):
    """Super-resolves one image or array by zero-shot adaptation (MZSR, Algorithm 2).

    Args:
      array: H×W, H×W×3 (RGB), H×W×4 (RGBA) image or H×W×N data array of any
        numeric dtype: uint8/uint16 keep their depth, float in [0, 1] its range,
        other data is mapped per channel (``value_range``; see :mod:`mzsr_tf.arrays`).
      scale: 2 or 4.
      kernel: blur kernel of the LR image: None (no blur), a 2-D array, a kernel
        file path, or a scenario name ('g0.2', 'g2.0', 'g1.3', 'gani').
      steps: gradient steps of adaptation (0 = the meta-learned network as is).
      subsampling: 'direct' (keep every s-th pixel), 'bicubic', or None: bicubic
        without a kernel (how common resizers shrink photos), direct with one
        (:func:`subsampling_for`).
      weights: shipped weights name, a ``.weights.h5`` path, or None for the
        default for (scale, subsampling, kernel or not).
      method: 'mzsr', 'bicubic' or 'zssr' (the baseline: trained from scratch on
        the image; ``steps`` and ``weights`` are not used).
      ensemble: 8-way self-ensemble; None = the method's default (off for mzsr,
        on for zssr, with median and back-projection).
      zssr_iters: ZSSR's iteration cap (it may stop earlier at its rate floor).
      seed: ZSSR's random seed, and the seed of the adaptation crops of large images.
      compute_dtype: 'float32', or 'bfloat16': convolutions in bfloat16, weights
        float32 (~2x faster on CPUs with bf16 units); None: bfloat16 where the CPU
        has native bf16, float32 elsewhere (``MZSR_TF_PRECISION`` overrides).
      max_memory: bytes (or '2G') for the network's activations: larger images
        are upscaled in tiles and adapted on random crops (:mod:`mzsr_tf.tiling`).
      value_range: None (auto), 'minmax', 'LO,HI' or 'pLO,HI' (percentiles) per channel.
      channels: data channels through the network one by one as gray ('gray') or 3 at a time ('groups').

    Returns:
      an sH×sW(×C) array of the input's dtype, channels and value range.

    Raises:
      InputError: bad image, kernel, option or weights (one clear message).
    """
    subsampling = subsampling_for(kernel, subsampling)
    scale, steps = check_options(scale, steps, subsampling)
    check_method(method, zssr_iters)
    max_memory = check_memory(max_memory)
    x, spec, notes = arrays.to_unit(array, value_range, source="array")
    for note in notes:
        if not note.startswith("values:"):
            warnings.warn(f"array: {note}", stacklevel=2)
    k = resolve_kernel(kernel, warn=lambda m: warnings.warn(m.removeprefix("warning: "), stacklevel=3),
                       scale=scale, subsampling=subsampling)
    estimated = is_estimated(k)
    name = method_for(method, ensemble)
    check_size(x.shape[0], x.shape[1], scale, kernel_extent(k), source="array",
               max_pixels=None if methods.get(name).tiles else MAX_LR_PIXELS)
    k = kernel_for_image(k, x, scale, subsampling)
    opts = methods.Options(scale=scale, kernel=k, kernel_estimated=estimated, subsampling=subsampling, steps=steps,
                           weights=weights,
                           compute_dtype=compute_dtype, zssr_iters=zssr_iters, zssr_ensemble=ensemble is not False,
                           seed=seed, max_memory=max_memory)
    if methods.get(name).uses_weights:
        mismatch = weights_mismatch(opts)
        if mismatch:
            warnings.warn(mismatch, stacklevel=2)
    return arrays.from_unit(run_channels(name, x, spec, opts, channels), spec)


def run_channels(name, x, spec, opts, channels="gray", progress=None):
    """A registry method on the channels of a :func:`mzsr_tf.arrays.to_unit` array (float [0, 1] in and out).

    Args:
      name: method name; opts: its :class:`~mzsr_tf.methods.Options`.
      channels: 'gray' or 'groups' (see :func:`mzsr_tf.arrays.apply`).
      progress: wrapper over the channel runs (tqdm), or None.
    """
    method, bicubic = methods.get(name), methods.get("bicubic")
    return arrays.apply(lambda im: method.run(im, opts), x, spec, opts.scale, channels, progress,
                        bicubic=lambda im: bicubic.run(im, opts))


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


