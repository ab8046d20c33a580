"""PSNR/SSIM of SR methods on a folder of HR images under the paper's test scenarios.

    python -m mzsr_tf.evaluate --hr-dir Set5 --scenario bicubic g2.0 gani \\
        --method bicubic mzsr --steps 0 1 10 --json results.json

For every scenario the HR images are mod-cropped, degraded to uint8 LR inputs
(:mod:`mzsr_tf.scenarios`), super-resolved by each method, rounded to uint8 and
measured on the Y channel with a border of s pixels shaved (:mod:`mzsr_tf.metrics`).
Grayscale HR files (Set14 bridge) are measured on their gray level, as the
MATLAB scripts behind published tables do (``--gray-as-rgb``: Y of the replica).

Methods live in :data:`METHODS`; another method is one call away::

    register_method("zssr", run=zssr_run, uses_steps=False)

where ``run(lr_uint8, scenario, n_steps, ctx) -> sr_uint8`` (``ctx`` is an
:class:`EvalContext`, ``n_steps`` None for methods without steps).
"""
import argparse
import dataclasses
import json
import math
import os
import sys
import time
from typing import Callable, Optional

import numpy as np

from .cli import guarded
from .errors import InputError
from .scenarios import DEFAULT_KERNEL_SIZE, PAPER_SCENARIOS, get_scenario, make_lr, to_uint8

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


@dataclasses.dataclass(frozen=True)
class Method:
    """An SR method the evaluation can run.

    Args:
      run: ``run(lr_uint8 [h, w, 3], scenario, n_steps, ctx) -> sr_uint8 [s·h, s·w, 3]``.
      uses_steps: one result column per ``--steps`` value (else one column, n_steps None).
      prepare: optional ``prepare(scenario, ctx)`` called once per scenario before
        any image (load weights there so a bad ``--weights`` fails early).
      warmup: run it in ``--warmup`` (False for methods whose compile time is
        negligible beside their run time, e.g. ZSSR).
    """

    run: Callable
    uses_steps: bool = False
    prepare: Optional[Callable] = None
    warmup: bool = True


METHODS = {}


def register_method(name, run, uses_steps=False, prepare=None, warmup=True):
    """Adds (or replaces) a method selectable with ``--method NAME``."""
    METHODS[name] = Method(run, uses_steps, prepare, warmup)


def _to_float(lr):
    return lr[None].astype(np.float32) / 255.0


def bicubic_run(lr, scenario, n_steps, ctx):
    """MATLAB-style bicubic ×s of the uint8 LR image, rounded to uint8."""
    from keras import ops

    from .resize import imresize

    return to_uint8(ops.convert_to_numpy(imresize(_to_float(lr), float(scenario.scale)))[0])


def _mzsr_key(scenario, ctx):
    return ("mzsr", ctx.weights, scenario.scale, scenario.subsampling, scenario.kernel_name is not None)


def mzsr_prepare(scenario, ctx):
    """Loads the weights for the scenario's scale/subsampling (shipped default if none given)."""
    key = _mzsr_key(scenario, ctx)
    if key not in ctx.cache:
        from .model import get_params
        from .weights import load_model, resolve

        path = resolve(ctx.weights, scenario.scale, scenario.subsampling, blurred=scenario.kernel_name is not None)
        model = load_model(path, scenario.scale, scenario.subsampling)
        ctx.cache[key] = get_params(model)
        ctx.cache[key + ("path",)] = path
    ctx.info[("mzsr", scenario.name)] = {"weights": os.path.basename(ctx.cache[key + ("path",)])}


def mzsr_run(lr, scenario, n_steps, ctx):
    """Zero-shot adaptation with the scenario's kernel and the reference step sizes
    (``ctx.ensemble``: then the mean of the 8 dihedral variants of the adapted network)."""
    from keras import ops

    from .adapt import step_size_schedule, zero_shot_sr
    from .ensemble import zero_shot_sr_ensemble

    mzsr_prepare(scenario, ctx)
    params = ctx.cache[_mzsr_key(scenario, ctx)]
    steps = tuple(step_size_schedule(n_steps, scenario.subsampling, scenario.scale))
    sr = (zero_shot_sr_ensemble if ctx.ensemble else zero_shot_sr)(
        params,
        _to_float(lr),
        scenario.scale,
        kernel=scenario.kernel(ctx.kernel_size),
        subsampling=scenario.subsampling,
        step_sizes=steps,
        compute_dtype=ctx.compute_dtype,
    )
    return to_uint8(ops.convert_to_numpy(sr)[0])


def zssr_run(lr, scenario, n_steps, ctx):
    """ZSSR from scratch on the LR image with the scenario's kernel (:mod:`mzsr_tf.zssr`)."""
    from keras import ops

    from .zssr import ZSSRConfig, zssr

    cfg = ZSSRConfig(max_iters=ctx.zssr_iters, ensemble=ctx.ensemble is not False, compute_dtype=ctx.compute_dtype)
    sr, info = zssr(_to_float(lr), scenario.scale, scenario.kernel(ctx.kernel_size), scenario.subsampling, cfg, ctx.seed)
    notes = ctx.info.setdefault(("zssr", scenario.name), {"max_iters": cfg.max_iters, "ensemble": cfg.ensemble, "runs": []})
    notes["runs"].append({k: info[k] for k in ("iterations", "stopped", "final_lr", "total_seconds")})
    return to_uint8(ops.convert_to_numpy(sr)[0])


register_method("bicubic", bicubic_run)
register_method("mzsr", mzsr_run, uses_steps=True, prepare=mzsr_prepare)
register_method("zssr", zssr_run, warmup=False)


def read_hr(path):
    """Reads an image file as HxWx3 uint8 RGB (grayscale is replicated to 3 channels).

    Returns:
      (image, gray): gray is True for a single-channel file (mode L / LA / 1).

    Raises:
      InputError: not a readable 8-bit image.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
                raise InputError(f"{path}: unsupported image mode {im.mode} (8-bit images only)")
            return np.asarray(im.convert("RGB"), dtype=np.uint8), im.mode in ("L", "LA", "1")
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise InputError(f"{path}: not a readable image ({type(e).__name__})") from None


def list_images(hr_dir, warn):
    """Readable images of a folder, sorted by name, and the names of skipped files.

    Args:
      hr_dir: folder path (subfolders and hidden files are ignored).
      warn: called with a message for each skipped file.

    Returns:
      ([(name, uint8 HxWx3 image, gray)], [skipped names]).

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
            images.append((n, *read_hr(os.path.join(hr_dir, n))))
        except InputError as e:
            warn(f"skipping {e}")
            skipped.append(n)
    return images, skipped


def columns(method_names, steps):
    """Result columns: (label, method name, n_steps or None)."""
    cols = []
    for m in method_names:
        if METHODS[m].uses_steps:
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
    from .metrics import psnr, ssim

    if gray:
        sr = np.round(sr.astype(np.float64).mean(axis=-1)).astype(np.uint8)
        hr = hr[..., 0]
    return psnr(sr, hr, scale), ssim(sr, hr, scale)


def evaluate_scenario(scenario, images, cols, ctx, warn=print, progress=None, gray_as_rgb=False):
    """Runs every column on every image of one scenario.

    Args:
      scenario: a :class:`~mzsr_tf.scenarios.Scenario`.
      images: [(name, HR uint8 HxWx3, gray)].
      cols: from :func:`columns`.
      ctx: :class:`EvalContext`.
      warn: called with a message for each image that is skipped.
      progress: ``progress(iterable, desc)`` wrapper (tqdm) or None.
      gray_as_rgb: measure grayscale HR files on the Y of their RGB replica.

    Returns:
      ({label: {"images": {name: {psnr, ssim, seconds}}, "mean": {...}}}, [skipped names]).
    """
    for m in dict.fromkeys(m for _, m, _ in cols):
        if METHODS[m].prepare is not None:
            METHODS[m].prepare(scenario, ctx)
    results = {label: {"images": {}} for label, _, _ in cols}
    skipped = []
    it = images if progress is None else progress(images, scenario.name)
    for name, hr, gray in it:
        why = _fit(scenario, hr.shape)
        if why:
            warn(f"skipping {name} under {scenario.name}: {why}")
            skipped.append(name)
            continue
        hr, lr = make_lr(hr, scenario, ctx.kernel_size)
        for label, m, n in cols:
            t0 = time.perf_counter()
            sr = METHODS[m].run(lr, scenario, n, ctx)
            dt = time.perf_counter() - t0
            if sr.shape != hr.shape or sr.dtype != np.uint8:
                raise RuntimeError(f"method {m} returned {sr.shape} {sr.dtype}, expected {hr.shape} uint8")
            p, q = measure(sr, hr, scenario.scale, gray and not gray_as_rgb)
            results[label]["images"][name] = {"psnr": p, "ssim": q, "seconds": dt}
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


def build_parser():
    p = argparse.ArgumentParser(
        prog="mzsr-tf evaluate",
        description="PSNR/SSIM (Y channel, border s shaved) of SR methods on HR images under the paper's scenarios.",
    )
    p.add_argument("--hr-dir", required=True, help="folder of HR ground-truth images")
    p.add_argument(
        "--scenario",
        nargs="+",
        required=True,
        metavar="NAME",
        help=f"one or more of {', '.join(PAPER_SCENARIOS)} (any base with a suffix x2/x3/x4, e.g. ganix4)",
    )
    p.add_argument("--method", nargs="+", default=["mzsr"], metavar="NAME", help="one or more methods (default: mzsr); known: " + ", ".join(METHODS))
    p.add_argument("--steps", nargs="+", type=int, default=[0, 1, 10], help="adaptation steps for step-based methods (default: 0 1 10)")
    p.add_argument("--weights", default=None, help="shipped weights name or .weights.h5 path (default: shipped for the scenario's scale and subsampling)")
    p.add_argument("--kernel-size", type=int, default=DEFAULT_KERNEL_SIZE, help="side of the scenario blur kernels (default 15)")
    p.add_argument("--limit", type=int, default=None, help="only the first N images (by name)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument(
        "--gray-as-rgb",
        action="store_true",
        help="measure grayscale HR files on the Y of their RGB replica (BasicSR) instead of on the gray level (MATLAB)",
    )
    p.add_argument("--warmup", action="store_true", help="untimed run of each method on up to two images of different shapes first, so times exclude tracing/compilation")
    p.add_argument("--ensemble", action=argparse.BooleanOptionalAction, default=None, help="8-way geometric self-ensemble (default: on for zssr, as ZSSR does; off for mzsr, as the paper's MZSR)")
    p.add_argument("--zssr-iters", type=int, default=3000, metavar="N", help="ZSSR iteration cap (default 3000; it may stop earlier at its learning-rate floor)")
    p.add_argument("--seed", type=int, default=0, help="ZSSR's seed (default 0)")
    p.add_argument("--compute-dtype", choices=("float32", "bfloat16"), default="float32", help="precision of the convolutions of mzsr and zssr (weights stay float32; bfloat16 is ~2x faster on CPUs with bf16 units)")
    p.add_argument("--table4", action=argparse.BooleanOptionalAction, default=None, help="time each method on a 256x256 LR image (paper's Table 4); default: on when zssr is among the methods")
    return p


def _check_args(args):
    scenarios = [get_scenario(s) for s in dict.fromkeys(args.scenario)]
    methods = list(dict.fromkeys(args.method))
    for m in methods:
        if m not in METHODS:
            raise InputError(f"unknown method {m!r}; one of {', '.join(METHODS)}")
    if any(n < 0 for n in args.steps):
        raise InputError(f"--steps must be >= 0, got {args.steps}")
    if args.kernel_size < 1 or args.kernel_size % 2 == 0:
        raise InputError(f"--kernel-size must be a positive odd number, got {args.kernel_size}")
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be >= 1, got {args.limit}")
    if args.zssr_iters < 1:
        raise InputError(f"--zssr-iters must be >= 1, got {args.zssr_iters}")
    if args.json:
        if os.path.exists(args.json) and not args.overwrite:
            raise InputError(f"{args.json} exists; pass --overwrite to replace it")
        parent = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(parent):
            raise InputError(f"{args.json}: folder {parent} does not exist")
    return scenarios, methods


def _warmup_images(scenario, images):
    """Up to two measurable images of different shapes: compiled functions trace on
    the first shape and relax to dynamic shapes on the second."""
    picked, shapes = [], set()
    for n, im, gray in images:
        if not _fit(scenario, im.shape) and im.shape not in shapes:
            picked.append((n, im, gray))
            shapes.add(im.shape)
        if len(picked) == 2:
            break
    return picked


def _progress(iterable, desc):
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, unit="img", file=sys.stderr, leave=False, disable=None)


@guarded
def main(argv=None):
    """Command line entry point; returns the exit status (1 when files were skipped)."""
    args = build_parser().parse_args(argv)
    scenarios, methods = _check_args(args)

    def warn(msg):
        print(msg, file=sys.stderr)

    images, skipped = list_images(args.hr_dir, warn)
    if not images:
        raise InputError(f"{args.hr_dir}: no readable images ({len(skipped)} file(s) skipped)")
    if args.limit:
        images = images[: args.limit]
    names = [n for n, _, _ in images]
    cols = columns(methods, list(dict.fromkeys(args.steps)))
    ctx = EvalContext(weights=args.weights, kernel_size=args.kernel_size, ensemble=args.ensemble, zssr_iters=args.zssr_iters, seed=args.seed,
                      compute_dtype=None if args.compute_dtype == "float32" else args.compute_dtype)
    report = {
        "hr_dir": os.path.abspath(args.hr_dir),
        "images": names,
        "methods": methods,
        "steps": list(dict.fromkeys(args.steps)),
        "kernel_size": args.kernel_size,
        "metric": "Y channel (MATLAB rgb2ycbcr, rounded), border s shaved, PSNR peak 255, SSIM 11x11 Gaussian σ=1.5",
        "grayscale": "Y of RGB replica" if args.gray_as_rgb else "gray level",
        "gray_images": [n for n, _, g in images if g],
        "scenarios": {},
        "skipped": list(skipped),
    }
    for sc in scenarios:
        if args.warmup:
            evaluate_scenario(sc, _warmup_images(sc, images), [c for c in cols if METHODS[c[1]].warmup], ctx, warn=lambda m: None)
        results, bad = evaluate_scenario(sc, images, cols, ctx, warn, _progress, args.gray_as_rgb)
        report["skipped"] += [f"{n} ({sc.name})" for n in bad]
        print(describe(sc, args.kernel_size))
        print(format_table(results, [n for n in names if n not in bad]))
        print(flush=True)
        entry = {
            "scale": sc.scale,
            "kernel": sc.kernel_name,
            "subsampling": sc.subsampling,
            "columns": {},
        }
        for label, m, n in cols:
            entry["columns"][label] = {"method": m, "steps": n, **ctx.info.get((m, sc.name), {}), **results[label]}
        report["scenarios"][sc.name] = entry
    from .comparison import print_comparison

    print_comparison(report, scenarios, images, cols, ctx, args, METHODS)
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(_jsonable(report), f, indent=2, allow_nan=False)
        os.replace(tmp, args.json)
        print(f"wrote {args.json}")
    if report["skipped"]:
        warn(f"{len(report['skipped'])} file(s) skipped: {', '.join(report['skipped'])}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
