"""The paper's Figure 3: PSNR after each adaptation step, 0..N.

Each step continues from the previous fast weights with Algorithm 2's own
compiled adaptation (:func:`mzsr_tf.adapt.adapted_params`, one step at a time),
so N steps cost N, not N²/2, and one graph serves every step.
"""
import numpy as np
from keras import ops

from ..adapt import adapted_params, step_size_schedule, upscale_sr
from ..metrics import psnr
from ..scenarios import get_scenario, make_lr, to_uint8


def psnr_curve(params, hr_images, scenario, max_steps, step_sizes=None):
    """PSNR (Y, border s) after 0..max_steps adaptation steps for each image.

    Args:
      params: list of weight tensors.
      hr_images: list of HxWx3 uint8 ground-truth images.
      scenario: name or Scenario (defines kernel, subsampling and scale).
      max_steps: largest number of steps.
      step_sizes: per-step sizes (default: the reference schedule of the scenario's model).

    Returns:
      float array [len(hr_images), max_steps + 1].
    """
    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    s = sc.scale
    sizes = step_sizes or step_size_schedule(max_steps, sc.subsampling, s)
    kernel = None if sc.kernel_name is None else sc.kernel()
    out = np.zeros((len(hr_images), max_steps + 1))
    for i, hr in enumerate(hr_images):
        hr_c, lr_u8 = make_lr(hr, sc)
        lr = lr_u8[None].astype(np.float32) / 255.0
        fast = list(params)
        for n in range(max_steps + 1):
            if n:
                fast = adapted_params(fast, lr, s, kernel, sc.subsampling, [sizes[n - 1]])
            sr = to_uint8(np.asarray(ops.convert_to_numpy(upscale_sr(fast, lr, s)))[0])
            out[i, n] = psnr(sr, hr_c, crop_border=s, y_channel=True)
    return out
