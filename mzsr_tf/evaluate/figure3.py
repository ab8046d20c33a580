"""The paper's Figure 3: PSNR after each adaptation step, 0..N.

MZSR adapts by plain gradient descent: each step continues from the previous
fast weights with Algorithm 2's own compiled adaptation
(:func:`mzsr_tf.adapt.adapted_params`, one step at a time), so N steps cost N,
not N²/2, and one graph serves every step. The paper adapts its baselines
(Pre-train (All), Pre-train (Bicubic)) with Adam instead; ``optimizer="adam"``
takes ZSSR's Adam step (:func:`mzsr_tf.zssr.adam_step_fn`) on the whole image.
"""
import numpy as np
from keras import ops

from ..adapt import adapted_params, step_size_schedule, upscale_sr
from ..kernel_code import code_for
from ..metrics import psnr
from ..scenarios import get_scenario, make_lr, to_uint8

OPTIMIZERS = ("gd", "adam")


def psnr_curve(params, hr_images, scenario, max_steps, step_sizes=None, optimizer="gd", adam_rate=1e-4,
               kernel_pca=None, compute_dtype=None):
    """PSNR (Y, border s) after 0..max_steps adaptation steps for each image.

    Args:
      params: list of weight tensors.
      hr_images: list of HxWx3 uint8 ground-truth images.
      scenario: name or Scenario (defines kernel, subsampling and scale).
      max_steps: largest number of steps.
      step_sizes: per-step sizes for ``gd`` (default: the reference schedule of the scenario's model).
      optimizer: 'gd' (Algorithm 2) or 'adam' (the paper's baselines).
      adam_rate: Adam's learning rate (``adam`` only).
      kernel_pca: (mean, basis) of a kernel-aware network, else None.
      compute_dtype: None (float32) or 'bfloat16' for the ``gd`` steps and every upscale, as
        ``upscale``'s ``compute_dtype`` (Adam steps stay float32).

    Returns:
      float array [len(hr_images), max_steps + 1].
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    s = sc.scale
    sizes = step_sizes or step_size_schedule(max_steps, sc.subsampling, s)
    kernel = None if sc.kernel_name is None else sc.kernel()
    out = np.zeros((len(hr_images), max_steps + 1))
    for i, hr in enumerate(hr_images):
        hr_c, lr_u8 = make_lr(hr, sc)
        lr = lr_u8[None].astype(np.float32) / 255.0
        code = code_for(kernel_pca, kernel)
        step = _gd_steps(params, lr, s, kernel, sc.subsampling, sizes, kernel_pca, compute_dtype) if optimizer == "gd" else \
            _adam_steps(params, lr, s, kernel, sc.subsampling, adam_rate, code)
        for n in range(max_steps + 1):
            fast = next(step)
            sr = to_uint8(np.asarray(ops.convert_to_numpy(upscale_sr(fast, lr, s, compute_dtype, code=code)))[0])
            out[i, n] = psnr(sr, hr_c, crop_border=s, y_channel=True)
    return out


def _gd_steps(params, lr, scale, kernel, subsampling, sizes, kernel_pca=None, compute_dtype=None):
    """Yields the weights after 0, 1, 2, ... Algorithm-2 steps."""
    fast = list(params)
    yield fast
    for size in sizes:
        fast = adapted_params(fast, lr, scale, kernel, subsampling, [size], compute_dtype, kernel_pca)
        yield fast


def _adam_steps(params, lr, scale, kernel, subsampling, rate, code=None):
    """Yields the weights after 0, 1, 2, ... Adam steps on the same son → LR pair (a kernel-aware net told ``code``)."""
    from ..train.optim import adam_init
    from ..zssr import adam_step_fn, kernel_arg

    step = adam_step_fn(scale, subsampling, coded=code is not None)
    extra = () if code is None else (ops.convert_to_tensor(code, "float32"),)
    fast, opt = list(params), adam_init(params)
    lr_t, k, rate_t = ops.convert_to_tensor(lr), kernel_arg(kernel), ops.convert_to_tensor(rate, "float32")
    yield fast
    while True:
        _, fast, opt = step(fast, opt, rate_t, lr_t, k, *extra)
        yield fast
