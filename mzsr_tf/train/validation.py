"""Held-out validation shared by the stages, the levers and tuning: PSNR after 0, 1 and 10 zero-shot steps."""
import numpy as np
from keras import ops

from ..adapt import step_size_schedule, zero_shot_sr
from ..degrade import degrade
from ..kernels import random_kernel_np


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def psnr_y(sr, hr, border):
    """PSNR on Y of ``sr`` (a [1, h, w, 3] tensor in [0, 1]) against uint8 ``hr``, ``border`` pixels shaved."""
    from ..metrics import psnr

    return psnr(np.clip(to_numpy(sr)[0], 0, 1), hr, crop_border=border, y_channel=True)


def psnr_unadapted(params, lr, hr, scale):
    """PSNR (Y) against uint8 ``hr`` of the network's output for ``lr`` (float [1, h, w, 3]), no adaptation steps."""
    return psnr_y(zero_shot_sr(params, lr, scale, None, "bicubic", ()), hr, scale)


def val_crops(images, size, scale):
    """Centre crops of side ``size`` (at most each image's own, all multiples of ``scale``)."""
    size -= size % scale
    out = []
    for img in images:
        h, w = img.shape[:2]
        c = min(size, h - h % scale, w - w % scale)
        y, x = (h - c) // 2, (w - c) // 2
        out.append(img[y : y + c, x : x + c])
    return out


def validation_kernels(cfg, count):
    """One fixed p(k) kernel per validation image (the same for every stage and lever)."""
    return [random_kernel_np(cfg.scale, np.random.default_rng([cfg.seed, 99, i]), cfg.meta.kernel_size) for i in range(count)]


VAL_STEPS = (0, 1, 10)


def validate_blind(stage, state, step, logger, prefix="val"):
    """PSNR (Y) after 0, 1 and 10 zero-shot steps on held-out crops.

    Each crop is degraded twice: with its fixed p(k) kernel (``val/psnr_step{n}``)
    and unblurred (``val/psnr_noblur_step{n}``), so every stage and recipe is
    compared on the same held-out validation. A kernel-aware network is also
    run, as ``--kernel estimate`` runs it, on the p(k) crops with the kernel
    estimated from the LR (``val/psnr_estimated_step{n}``), where an estimator
    is shipped for the run's scale and subsampling.

    Args:
      stage: holds ``cfg``, ``val`` (images), ``_val_kernels`` and ``kernel_pca`` (None: the paper's network).
      state: holds ``params``.
      step: the step logged with the example image.
      logger: a :class:`Logger` for that image, or None.
      prefix: the metrics' prefix ('val', or 'val_avg' for the running average of the weights).
    """
    if not stage.val:
        return {}
    c = stage.cfg
    res = {}
    shown = None
    kernel_pca = getattr(stage, "kernel_pca", None)
    estimated = kernel_pca is not None and _has_estimator(c.scale, c.subsampling)
    for hr, k in zip(val_crops(stage.val, c.data.val_crop, c.scale), stage._val_kernels):
        hr_t = ops.convert_to_tensor(hr[None].astype(np.float32) / 255.0)
        lr_of = lambda kernel: degrade(hr_t, c.scale, kernel=kernel, subsampling=c.subsampling, round_uint8=True)  # noqa: E731
        blurred = lr_of(k)
        runs = [("", blurred, k), ("noblur_", lr_of(None), None)]
        if estimated:  # the same LR, told the kernel estimated from it
            from ..estimate import estimate_kernel

            runs.append(("estimated_", blurred,
                         estimate_kernel(to_numpy(blurred)[0], c.scale, c.subsampling, c.meta.kernel_size)))
        for tag, lr, kernel in runs:
            for n in VAL_STEPS:
                sizes = tuple(step_size_schedule(n, c.subsampling, c.scale))
                sr = zero_shot_sr(state["params"], lr, c.scale, kernel, c.subsampling, sizes, kernel_pca=kernel_pca)
                res.setdefault(f"{prefix}/psnr_{tag}step{n}", []).append(psnr_y(sr, hr, c.scale))
                if n == VAL_STEPS[-1] and not tag and shown is None:
                    shown = np.concatenate([to_numpy(sr)[0], hr / 255.0], 1)[None]
    if shown is not None and logger is not None:
        logger.images(step, f"{prefix}/sr_vs_hr", shown.astype(np.float32))
    return {name: float(np.mean(v)) for name, v in res.items()}


def _has_estimator(scale, subsampling):
    from ..estimate import core

    return core.load_model(scale, subsampling) is not None
