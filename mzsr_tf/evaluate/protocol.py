"""The evaluation protocol: benchmark HR images → the paper's LR inputs → a method → PSNR/SSIM.

For every scenario the HR images are mod-cropped, degraded to uint8 LR inputs
(:mod:`mzsr_tf.scenarios`), super-resolved by a method of :mod:`mzsr_tf.methods`,
rounded to uint8 and measured on the Y channel with a border of s pixels
shaved (:mod:`mzsr_tf.metrics`). Grayscale HR files (Set14 bridge) are measured
on their gray level, as the MATLAB scripts behind published tables do.
16-bit images and float or N-channel arrays keep their precision throughout
and are measured with their own peak (:mod:`.full_precision`).
"""
import dataclasses
import math
import os
import time
from typing import Optional

import numpy as np

from .. import methods
from ..errors import InputError
from ..scenarios import DEFAULT_KERNEL_SIZE, make_lr, make_lr_array, to_uint8
from . import full_precision

SSIM_WINDOW = 11


@dataclasses.dataclass
class EvalContext:
    """What methods may read: user options and a cache shared across images.

    Args:
      weights: ``--weights`` (shipped name, path, or None for the default).
      kernel_size: side of the scenario kernels.
      cache: per-run storage (loaded weights, compiled functions).
      info: per-(method, scenario) notes recorded in the JSON (e.g. weights file).
      ensemble: ``--ensemble``: 8-way self-ensemble (None: each method's default,
        on for ZSSR, off for MZSR).
      zssr_iters: ZSSR's iteration cap.
      seed: ZSSR's seed.
      compute_dtype: None (float32) or 'bfloat16' for the convolutions of mzsr and zssr.
    """

    weights: Optional[str] = None
    kernel_size: int = DEFAULT_KERNEL_SIZE
    ensemble: Optional[bool] = None
    zssr_iters: int = 3000
    seed: int = 0
    compute_dtype: Optional[str] = None
    cache: dict = dataclasses.field(default_factory=dict)
    info: dict = dataclasses.field(default_factory=dict)


def method_name(name, ctx):
    """The registry entry a column runs: ``--ensemble`` turns mzsr into mzsr+ensemble."""
    return "mzsr+ensemble" if name == "mzsr" and ctx.ensemble else name


def run_column(name, lr, scenario, n_steps, ctx):
    """One method on one LR input of a scenario; returns the SR image of the LR's dtype.

    Args:
      name: a :mod:`mzsr_tf.methods` name.
      lr: uint8 [h, w, 3] (the paper's protocol: SR rounded to uint8), or any
        other array of :mod:`.full_precision` (run as ``mzsr_tf.upscale`` runs it).
      scenario: the :class:`~mzsr_tf.scenarios.Scenario` (kernel, subsampling, scale).
      n_steps: adaptation steps (None for methods without steps).
      ctx: :class:`EvalContext`.
    """
    opts = methods.Options(
        scale=scenario.scale, kernel=scenario.kernel(ctx.kernel_size), subsampling=scenario.subsampling,
        steps=n_steps or 0, weights=ctx.weights, compute_dtype=ctx.compute_dtype, zssr_iters=ctx.zssr_iters,
        zssr_ensemble=ctx.ensemble is not False, seed=ctx.seed,
    )
    if full_precision.kind_of(lr) != full_precision.EIGHT_BIT:
        sr = full_precision.run(method_name(name, ctx), lr, opts)
    else:
        sr = to_uint8(methods.get(method_name(name, ctx)).run(lr.astype(np.float32) / 255.0, opts))
    record(ctx, name, scenario, opts)
    return sr


def record(ctx, name, scenario, opts):
    """Keeps what a method reported (weights file, ZSSR runs) for the JSON report."""
    notes = ctx.info.setdefault((name, scenario.name), {})
    if "weights" in opts.notes:
        notes["weights"] = opts.notes["weights"]
    if "zssr_runs" in opts.notes:
        notes.update(max_iters=opts.zssr_iters, ensemble=opts.zssr_ensemble)
        notes.setdefault("runs", []).extend(opts.notes["zssr_runs"])


def prepare(name, scenario, ctx):
    """Loads a method's weights once per scenario, so a bad ``--weights`` fails before any image."""
    if methods.get(method_name(name, ctx)).uses_weights:
        _, w = methods.load_params(ctx.weights, scenario.scale, scenario.subsampling, scenario.kernel_name is not None)
        ctx.info.setdefault((name, scenario.name), {})["weights"] = os.path.basename(str(w))


def read_hr(path, warn=None):
    """Reads an HR file through :func:`mzsr_tf.io.read_array` (the one reader).

    8-bit images become HxWx3 uint8 RGB (grayscale replicated, alpha dropped),
    the paper's protocol; 16-bit images and float or N-channel arrays are kept
    as stored, H×W×C (:func:`.full_precision.as_stored`). What was converted is
    said through ``warn``.

    Returns:
      (image, gray): gray is True for a single-channel 8- or 16-bit image.

    Raises:
      InputError: not a readable image.
    """
    from ..io import read_array, to_rgb_uint8

    a, notes = read_array(path)
    gray = a.ndim == 2 or a.shape[-1] == 1
    if a.dtype == np.uint8 and (a.ndim == 2 or a.shape[-1] in (1, 3, 4)):
        image, more = to_rgb_uint8(a, source=os.fspath(path))
    else:
        image, more = full_precision.as_stored(a, source=os.fspath(path))
        gray = gray and full_precision.kind_of(image) == full_precision.SIXTEEN_BIT
    for note in notes + [n for n in more if not n.startswith("grayscale")]:
        if warn:
            warn(f"{path}: {note}")
    return image, gray


def list_images(hr_dir, warn):
    """Readable images of a folder, sorted by name, and the names of skipped files.

    Args:
      hr_dir: folder path (subfolders and hidden files are ignored).
      warn: called with a message for each skipped file.

    Returns:
      ([(name, image, gray)], [skipped names]): image as :func:`read_hr` returns it.

    Raises:
      InputError: the folder is missing or holds no files.
    """
    if not os.path.isdir(hr_dir):
        raise InputError(f"{hr_dir}: no such folder")
    names = sorted(n for n in os.listdir(hr_dir) if not n.startswith(".") and os.path.isfile(os.path.join(hr_dir, n)))
    if not names:
        raise InputError(f"{hr_dir}: folder has no image files")
    images, skipped = [], []
    for n in names:
        try:
            images.append((n, *read_hr(os.path.join(hr_dir, n), warn)))
        except InputError as e:
            warn(f"skipping {e}")
            skipped.append(n)
    return images, skipped


def columns(method_names, steps, ctx):
    """Result columns: (label, method name, n_steps or None)."""
    cols = []
    for m in method_names:
        if methods.get(method_name(m, ctx)).uses_steps:
            cols += [(f"{m}({n})", m, n) for n in steps]
        else:
            cols.append((m, m, None))
    return cols


def _fit(scenario, shape):
    """Why an HR image cannot be measured under a scenario, or None."""
    s = scenario.scale
    h, w = shape[0] - shape[0] % s - 2 * s, shape[1] - shape[1] % s - 2 * s
    if min(h, w) < SSIM_WINDOW:
        return f"too small for x{s} (needs at least {SSIM_WINDOW + 2 * s} px per side after the border crop)"
    return None


def measure(sr, hr, scale, gray=False):
    """(PSNR, SSIM) of uint8 SR against HR with the paper's protocol.

    Args:
      sr, hr: HxWx3 uint8 (HR mod-cropped).
      scale: s, the border shaved on each side.
      gray: the HR file was grayscale: measure on the gray level itself (HR's
        channel vs the rounded channel mean of SR), as MATLAB scripts do, instead
        of on the Y of the replicated RGB (which scales errors by 219/255).
    """
    from ..metrics import psnr, ssim

    if gray:
        sr = np.round(sr.astype(np.float64).mean(axis=-1)).astype(np.uint8)
        hr = hr[..., 0]
    return psnr(sr, hr, scale), ssim(sr, hr, scale)


def evaluate_scenario(scenario, images, cols, ctx, warn=print, progress=None, gray_as_rgb=False):
    """Runs every column on every image of one scenario.

    Args:
      scenario: a :class:`~mzsr_tf.scenarios.Scenario`.
      images: [(name, HR, gray)] from :func:`list_images`.
      cols: from :func:`columns`.
      ctx: :class:`EvalContext`.
      warn: called with a message for each image that is skipped.
      progress: ``progress(iterable, desc)`` wrapper (tqdm) or None.
      gray_as_rgb: measure grayscale HR files on the Y of their RGB replica.

    Returns:
      ({label: {"images": {name: {psnr, ssim, seconds}}, "mean": {...}}}, [skipped names]);
      images measured per channel (:mod:`.full_precision`) also hold ``psnr_channels``
      and their ``psnr`` is the mean over channels.
    """
    for m in dict.fromkeys(m for _, m, _ in cols):
        prepare(m, scenario, ctx)
    results = {label: {"images": {}} for label, _, _ in cols}
    skipped = []
    it = images if progress is None else progress(images, scenario.name)
    for name, hr, gray in it:
        why = _fit(scenario, hr.shape)
        if why:
            warn(f"skipping {name} under {scenario.name}: {why}")
            skipped.append(name)
            continue
        eight_bit = full_precision.kind_of(hr) == full_precision.EIGHT_BIT
        hr, lr = (make_lr if eight_bit else make_lr_array)(hr, scenario, ctx.kernel_size)
        for label, m, n in cols:
            t0 = time.perf_counter()
            sr = run_column(m, lr, scenario, n, ctx)
            dt = time.perf_counter() - t0
            if sr.shape != hr.shape or sr.dtype != hr.dtype:
                raise RuntimeError(f"method {m} returned {sr.shape} {sr.dtype}, expected {hr.shape} {hr.dtype}")
            if eight_bit:
                p, q = measure(sr, hr, scenario.scale, gray and not gray_as_rgb)
                results[label]["images"][name] = {"psnr": p, "ssim": q, "seconds": dt}
            else:
                p, q, per = full_precision.measure(sr, hr, scenario.scale, gray_as_rgb)
                results[label]["images"][name] = {"psnr": p, "ssim": q, "seconds": dt}
                if per is not None:
                    results[label]["images"][name]["psnr_channels"] = per
    for r in results.values():
        vals = list(r["images"].values())
        r["mean"] = {k: float(np.mean([v[k] for v in vals])) if vals else None for k in ("psnr", "ssim", "seconds")}
    return results, skipped


def describe(scenario, kernel_size):
    k = f"kernel {scenario.kernel_name} {kernel_size}x{kernel_size}" if scenario.kernel_name else "no blur"
    return f"{scenario.name}: x{scenario.scale}, {k}, {scenario.subsampling} subsampling"


def _cell(v):
    if v is None or v["psnr"] is None:
        return "-"
    p = "inf" if math.isinf(v["psnr"]) else f"{v['psnr']:.2f}"
    return f"{p} / {v['ssim']:.4f} {v['seconds']:6.2f}s"


def format_table(results, names):
    """Text table: one row per image and the average, one 'PSNR / SSIM time' cell per column."""
    labels = list(results)
    width = max([len(n) for n in names] + [7])
    cw = max([len(lab) for lab in labels] + [len("00.00 / 0.0000 000.00s")])
    lines = [f"{'image':<{width}}  " + "  ".join(f"{lab:>{cw}}" for lab in labels)]
    for n in names:
        lines.append(f"{n:<{width}}  " + "  ".join(f"{_cell(results[lab]['images'].get(n)):>{cw}}" for lab in labels))
    lines.append(f"{'average':<{width}}  " + "  ".join(f"{_cell(results[lab]['mean']):>{cw}}" for lab in labels))
    return "\n".join(lines)


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None  # identical images: PSNR is infinite; JSON has no inf
    return x


