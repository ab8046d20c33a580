"""Evaluation without the kernel: the ``rk`` random-kernel set and the paper kernels, estimated vs given.

``rk``: each HR image gets its own kernel (:func:`mzsr_tf.kernels.rk_kernel`, seeded by
the image's file stem), direct ×2, LR rounded to uint8 as the paper scenarios are.
Rows: bicubic interpolation, MZSR with no kernel, with the estimated kernel, and
with the true kernel (oracle). For a paper scenario (``g0.2``, ``g2.0``, ``gani``, ...):
bicubic, MZSR with the given kernel and with the estimated one. PSNR/SSIM on Y with
s pixels shaved (:mod:`mzsr_tf.metrics`); kernel error Σ|k̂ − k|.
"""
import os
import time
import zlib

import numpy as np

from ..kernels import rk_kernel
from ..metrics import psnr, ssim
from ..scenarios import DEFAULT_KERNEL_SIZE, get_scenario, make_lr, to_uint8
from . import estimate_kernel, kernel_error

RK = "rk"


def rk_seed(name):
    """The rk kernel seed of an image: CRC-32 of its file stem (independent of folder order)."""
    return zlib.crc32(os.path.splitext(os.path.basename(name))[0].encode())


def make_rk_lr(hr, name, scale=2):
    """(HR mod-cropped, LR uint8, true kernel) of the rk scenario for one image."""
    from keras import ops

    from ..degrade import degrade
    from ..scenarios import mod_crop

    hr = mod_crop(np.asarray(hr), scale)
    k = rk_kernel(rk_seed(name), DEFAULT_KERNEL_SIZE)
    lr = degrade(hr[None].astype(np.float32) / 255.0, scale, kernel=k, subsampling="direct")
    return hr, to_uint8(ops.convert_to_numpy(lr)[0]), k


def _run(method, lr, scale, kernel, subsampling, steps, weights, estimated=False):
    """A registry method (:mod:`mzsr_tf.methods`) on a uint8 LR image; uint8 SR."""
    from .. import methods

    opts = methods.Options(scale=scale, kernel=kernel, kernel_estimated=estimated, subsampling=subsampling, steps=steps,
                           weights=weights)
    return to_uint8(methods.get(method).run(lr.astype(np.float32) / 255.0, opts))


def blind_table(hr_images, scenario=RK, steps=10, weights=None, log=None):
    """PSNR/SSIM (and kernel error) of the blind rows for one scenario.

    Args:
      hr_images: iterable of (name, HR uint8 H×W×3).
      scenario: 'rk' or a paper scenario name ('g0.2', 'g2.0', 'gani', ...).
      steps: adaptation steps of every MZSR row.
      weights: MZSR weights (None: the shipped default for the scenario).
      log: optional callable for one line per image.

    Returns:
      list of row dicts: ``method``, ``psnr``, ``ssim``, ``kernel_error`` (means; None where
      it does not apply), ``images`` (per-image dicts), ``seconds`` (mean per image).
    """
    if scenario == RK:
        scale, subsampling = 2, "direct"
        methods = ("bicubic", "mzsr, no kernel", "mzsr, estimated kernel", "mzsr, true kernel (oracle)")
    else:
        sc = get_scenario(scenario)
        scale, subsampling = sc.scale, sc.subsampling
        methods = ("bicubic", "mzsr, estimated kernel", "mzsr, given kernel")
    per = {m: [] for m in methods}
    for name, hr in hr_images:
        if scenario == RK:
            hr, lr, truth = make_rk_lr(hr, name, scale)
        else:
            hr, lr = make_lr(hr, sc)
            truth = sc.kernel()
        t0 = time.perf_counter()
        est = estimate_kernel(lr, scale, subsampling)
        t_est = time.perf_counter() - t0
        for m in methods:
            t0 = time.perf_counter()
            if m == "bicubic":
                sr, kerr = _run("bicubic", lr, scale, None, subsampling, steps, weights), None
            else:
                k = None if "no kernel" in m else est if "estimated" in m else truth
                sr = _run("mzsr", lr, scale, k, subsampling, steps, weights, estimated="estimated" in m)
                kerr = None if k is None or truth is None else kernel_error(k, truth)
            seconds = time.perf_counter() - t0 + (t_est if "estimated" in m else 0.0)
            per[m].append({"image": os.path.basename(name), "psnr": psnr(sr, hr, scale), "ssim": ssim(sr, hr, scale),
                           "kernel_error": kerr, "seconds": seconds})
        if log:
            log(f"{scenario} {os.path.basename(name)}: " + ", ".join(f"{m} {per[m][-1]['psnr']:.2f}" for m in methods)
                + f"; kernel error {per[methods[-2]][-1]['kernel_error']:.3f}")
    rows = []
    for m in methods:
        imgs = per[m]
        kerrs = [r["kernel_error"] for r in imgs if r["kernel_error"] is not None]
        rows.append({"scenario": scenario, "method": m, "steps": None if m == "bicubic" else steps,
                     "psnr": float(np.mean([r["psnr"] for r in imgs])), "ssim": float(np.mean([r["ssim"] for r in imgs])),
                     "kernel_error": float(np.mean(kerrs)) if kerrs else None,
                     "seconds": float(np.mean([r["seconds"] for r in imgs])), "images": imgs})
    return rows


def format_rows(rows, title=""):
    """A Markdown table of :func:`blind_table` rows."""
    lines = [f"| {title} | PSNR (dB) | SSIM | kernel error Σ|k̂−k| | s/image |", "|---|---|---|---|---|"]
    for r in rows:
        ke = "" if r["kernel_error"] is None else f"{r['kernel_error']:.3f}"
        lines.append(f"| {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {ke} | {r['seconds']:.1f} |")
    return "\n".join(lines)
