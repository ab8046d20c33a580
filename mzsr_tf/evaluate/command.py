"""``python -m mzsr_tf.evaluate``: PSNR/SSIM of SR methods on a folder of HR images under the paper's scenarios.

    python -m mzsr_tf.evaluate --hr-dir Set5 --scenario bicubic g2.0 gani \\
        --method bicubic mzsr --steps 0 1 10 --json results.json

The protocol is in :mod:`.protocol`, the paper's tables in :mod:`.paper_tables`;
methods come from :mod:`mzsr_tf.methods` (``--method``, any registered name).
"""
import argparse
import json
import os
import sys

from .. import methods
from ..cli import guarded
from ..errors import InputError
from ..scenarios import DEFAULT_KERNEL_SIZE, PAPER_SCENARIOS, get_scenario
from . import full_precision
from .paper_tables import print_comparison

RK = "rk"
from .protocol import (EvalContext, _fit, _jsonable, columns, describe, evaluate_scenario, format_table, list_images,
                       method_name)



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
        help=f"one or more of {', '.join(PAPER_SCENARIOS)} (any base with a suffix x2/x3/x4, e.g. ganix4), or "
        "'rk': each image blurred with its own random noisy anisotropic kernel, direct x2, evaluated without "
        "the kernel (bicubic; MZSR with no, estimated and true kernel)",
    )
    p.add_argument("--kernel", choices=("given", "estimate"), default="given",
                   help="'estimate': MZSR also runs with the kernel estimated from each LR image, beside the "
                   "given one (blind rows, as for 'rk')")
    p.add_argument("--method", nargs="+", default=["mzsr"], metavar="NAME", help="one or more methods (default: mzsr); known: " + ", ".join(methods.REGISTRY))
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
    p.add_argument("--compute-dtype", choices=("float32", "bfloat16"), default=None, help="precision of the convolutions of mzsr and zssr (weights stay float32); default: as upscale, bfloat16 where the CPU has native bf16, float32 elsewhere (MZSR_TF_PRECISION sets it too)")
    p.add_argument("--table4", action=argparse.BooleanOptionalAction, default=None, help="time each method on a 256x256 LR image (paper's Table 4); default: on when zssr is among the methods")
    return p


def _check_args(args):
    scenarios = [get_scenario(s) for s in dict.fromkeys(args.scenario) if s != RK]
    names = list(dict.fromkeys(args.method))
    for m in names:
        methods.get(m)
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
    return scenarios, names


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
    scenarios, method_names = _check_args(args)

    def warn(msg):
        print(msg, file=sys.stderr)

    images, skipped = list_images(args.hr_dir, warn)
    if not images:
        raise InputError(f"{args.hr_dir}: no readable images ({len(skipped)} file(s) skipped)")
    if args.limit:
        images = images[: args.limit]
    names = [n for n, _, _ in images]
    ctx = EvalContext(weights=args.weights, kernel_size=args.kernel_size, ensemble=args.ensemble, zssr_iters=args.zssr_iters, seed=args.seed,
                      compute_dtype=args.compute_dtype)
    cols = columns(method_names, list(dict.fromkeys(args.steps)), ctx)
    report = {
        "hr_dir": os.path.basename(os.path.normpath(args.hr_dir)),  # the set, not where it lives
        "images": names,
        "methods": method_names,
        "steps": list(dict.fromkeys(args.steps)),
        "kernel_size": args.kernel_size,
        "metric": "Y channel (MATLAB rgb2ycbcr, rounded), border s shaved, PSNR peak 255, SSIM 11x11 Gaussian σ=1.5",
        "grayscale": "Y of RGB replica" if args.gray_as_rgb else "gray level",
        "gray_images": [n for n, _, g in images if g],
        # 16-bit, float and N-channel HR: measured at their own precision, on what this says
        "measured_on": {n: full_precision.describe(im, args.gray_as_rgb) for n, im, _ in images
                        if full_precision.kind_of(im) != full_precision.EIGHT_BIT},
        "scenarios": {},
        "skipped": list(skipped),
    }
    for n, what in report["measured_on"].items():
        print(f"{n}: {what}")
    # the paper's tables and the blind rows are defined on 8-bit RGB inputs
    eight_bit = [im for im in images if full_precision.kind_of(im[1]) == full_precision.EIGHT_BIT]
    for sc in scenarios:
        if args.warmup:
            evaluate_scenario(sc, _warmup_images(sc, images), [c for c in cols if methods.get(method_name(c[1], ctx)).warmup], ctx, warn=lambda m: None)
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
    blind = ([RK] if RK in args.scenario else []) + ([sc.name for sc in scenarios] if args.kernel == "estimate" else [])
    if blind and len(eight_bit) < len(images):
        warn(f"blind rows: {len(images) - len(eight_bit)} image(s) beyond 8-bit RGB left out")
    if blind and eight_bit:
        report["blind"] = blind_rows(blind, eight_bit, max(args.steps), args.weights, warn)
    if scenarios:
        print_comparison(report, scenarios, eight_bit, cols, ctx, args)
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




def blind_rows(names, images, steps, weights, warn):
    """Evaluation without the kernel (:func:`mzsr_tf.estimate.blind.blind_table`): prints and returns the rows."""
    from ..estimate.blind import blind_table, format_rows

    out = {}
    for name in names:
        rows = blind_table([(n, im) for n, im, _ in images], name, steps=steps, weights=weights, log=None)
        print(format_rows(rows, f"{name}, {steps} steps"))
        print(flush=True)
        out[name] = rows
    return out
