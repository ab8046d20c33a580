"""PSNR after each adaptation step (the paper's Figure 3), one compiled step reused.

Evaluating n = 0..N steps with ``zero_shot_sr`` would compile N graphs; here one
gradient step and one forward pass are compiled and applied in turn.
"""
import numpy as np
from keras import ops

from . import backend
from .adapt import make_son, sgd_step, step_size_schedule
from .metrics import psnr
from .model import forward
from .resize import imresize
from .scenarios import get_scenario, make_lr, to_uint8


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
    lrs = step_sizes or step_size_schedule(max_steps, sc.subsampling, s)
    kernel = None if sc.kernel_name is None else ops.convert_to_tensor(sc.kernel())
    step = backend.compile_fn(lambda p, x, y, a: sgd_step(p, x, y, a)[1])
    fwd = backend.compile_fn(lambda p, x: ops.clip(forward(p, x), 0.0, 1.0))
    out = np.zeros((len(hr_images), max_steps + 1))
    for i, hr in enumerate(hr_images):
        hr_c, lr_u8 = make_lr(hr, sc)
        lr = ops.convert_to_tensor(lr_u8[None].astype(np.float32) / 255.0)
        son = make_son(lr, s, kernel, sc.subsampling)
        son_ilr = imresize(son, float(s), out_hw=(lr_u8.shape[0], lr_u8.shape[1]))
        ilr = imresize(lr, float(s))
        p = list(params)
        for n in range(max_steps + 1):
            if n:
                p = step(p, son_ilr, lr, ops.convert_to_tensor(lrs[n - 1], "float32"))
            sr = to_uint8(np.asarray(ops.convert_to_numpy(fwd(p, ilr)))[0])
            out[i, n] = psnr(sr, hr_c, crop_border=s, y_channel=True)
    return out
