"""``python -m mzsr_tf.upscale INPUT OUTPUT``: zero-shot super-resolution of your own images.

    python -m mzsr_tf.upscale INPUT OUTPUT [--scale {2,4}] [--subsampling {direct,bicubic}]
        [--kernel FILE|NAME] [--steps N] [--weights NAME|PATH] [--overwrite] [--seed N]
        [--method {mzsr,zssr,bicubic}] [--ensemble] [--zssr-iters N] [--compute-dtype {float32,bfloat16}]
        [--max-memory SIZE] [--range minmax|LO,HI|pLO,HI] [--channels {gray,groups}] [--version]

Depth, channels and range are kept: 16-bit in → 16-bit out, gray → gray, RGBA →
RGBA (alpha bicubic), float and N-channel arrays (.npy, .tif) → the same dtype
and range (:mod:`mzsr_tf.arrays`); large images go in tiles (:mod:`mzsr_tf.tiling`).

Parses, checks every argument and output before loading a model, then calls
the method registry (:mod:`mzsr_tf.methods`) image by image.
"""
import argparse
import os
import sys
import time

from .. import arrays, methods, tiling
from ..api import (check_method, check_options, is_estimated, kernel_extent, kernel_for_image, method_for,
                   resolve_kernel, run_channels, subsampling_for, weights_mismatch)
from ..cli import ArgumentParser, guarded
from ..constants import DEFAULT_STEPS, MAX_LR_PIXELS, MAX_STEPS, SCALES, SUBSAMPLINGS
from ..errors import InputError
from ..io import (IMAGE_EXTENSIONS, OUTPUT_EXTENSIONS, check_output, check_size, check_writable, png_problem,
                  read_array, write_array)


# ---------------------------------------------------------------- command line


def _steps_arg(text):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= n <= MAX_STEPS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_STEPS}, got {n}")
    return n


def build_parser():
    """The argument parser of ``python -m mzsr_tf.upscale``."""
    p = ArgumentParser(
        prog="python -m mzsr_tf.upscale",
        description="Zero-shot super-resolution (MZSR): adapts the network to each image, then upscales it.",
        epilog="Bad inputs give one 'error: ...' line and exit status 2; in a folder run each bad file is "
        "reported, the others are still written, and the exit status is 1.",
    )
    p.add_argument("input", metavar="INPUT", help="an image (PNG, JPEG, BMP, TIFF, ... or .npy array) or a folder of them")
    p.add_argument(
        "output",
        metavar="OUTPUT",
        help="a .png file (or an existing folder) for one image; a folder (created if missing) for a folder, "
        "one file per image with the same stem (.npy and .tif inputs keep their format, others become .png)",
    )
    p.add_argument("--scale", type=int, choices=SCALES, default=2, help="upscaling factor (default 2)")
    p.add_argument(
        "--subsampling",
        choices=SUBSAMPLINGS,
        default=None,
        help="how the LR image was subsampled after the blur; default: bicubic when no --kernel is given "
        "(photos shrunk by Pillow, OpenCV or MATLAB resizers are antialiased and centre-aligned; the "
        "unblurred bicubic case uses the pretrained weights, pretrain_photo_x2 when the image shows JPEG "
        "compression), direct with a --kernel (the paper's g^d kernels)",
    )
    p.add_argument(
        "--kernel",
        metavar="FILE|NAME",
        help="blur kernel of the input: .npy, .mat (key 'kernel' or 'Kernel'), a grayscale image, one of "
        "g0.2, g2.0, g1.3, gani, or 'estimate' (estimated from each image: for real photos whose blur is "
        "unknown; x2 direct); default: no blur, with bicubic subsampling (see --subsampling)",
    )
    p.add_argument(
        "--steps",
        type=_steps_arg,
        default=DEFAULT_STEPS,
        metavar="N",
        help=f"adaptation gradient steps, 0..{MAX_STEPS} (default {DEFAULT_STEPS}; 0 = no adaptation)",
    )
    p.add_argument("--weights", metavar="NAME|PATH", help="shipped weights name or a .weights.h5 file (default: shipped for the scale and "
                   "subsampling: kernel_aware_direct_x2 / kernel_aware_bicubic_x2, told the kernel, for x2; "
                   "kernel_aware_estimated_direct_x2 with --kernel estimate; kernel_aware_direct_x4 for x4 direct; "
                   "mzsr_direct_x2 / mzsr_bicubic_x2 / mzsr_direct_x4 are the paper's network; with no --kernel, "
                   "pretrain_x2, or pretrain_photo_x2 for a JPEG-compressed image)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="seed Python, NumPy and the backend (adaptation itself uses no randomness; ZSSR's seed, default 0)",
    )
    p.add_argument(
        "--method",
        choices=list(methods.REGISTRY),
        default="mzsr",
        help="; ".join(f"{m.name}: {m.description}" for m in methods.REGISTRY.values())
        + " (default mzsr; zssr and bicubic ignore --steps and --weights)",
    )
    p.add_argument(
        "--ensemble",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="8-way self-ensemble (rotations/flips): ~8x the upscaling cost; default off for mzsr, on for zssr",
    )
    p.add_argument("--zssr-iters", type=int, default=3000, metavar="N", help="ZSSR iteration cap (default 3000)")
    p.add_argument(
        "--compute-dtype",
        choices=("float32", "bfloat16"),
        default=None,
        help="precision of the convolutions (weights stay float32); default: bfloat16 where the CPU has native "
        "bf16 (avx512_bf16/amx_bf16; ~2x faster, within 0.02 dB), float32 elsewhere; MZSR_TF_PRECISION sets it too",
    )
    p.add_argument("--max-memory", default="1G", metavar="SIZE",
                   help="memory for the network's activations, e.g. 2G or 800M (default 1G; the process needs "
                   "~1 GB more plus 12·(1+s²) bytes per LR pixel): larger images are upscaled in tiles and "
                   "adapted on random crops")
    p.add_argument("--range", dest="value_range", default=None, metavar="minmax|LO,HI|pLO,HI",
                   help="how data channels are mapped to [0, 1]: each by its min–max (default for float data "
                   "outside [0, 1] and for other than 1, 3 or 4 channels), one LO,HI for all, or percentiles "
                   "pLO,HI; 8/16-bit images keep their fixed range unless this is given")
    p.add_argument("--channels", choices=("gray", "groups"), default="gray",
                   help="data channels through the network one at a time as gray (default) or 3 at a time")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def _is_image_name(name):
    return name.lower().endswith(IMAGE_EXTENSIONS)


def plan(src, dst, overwrite=False):
    """Pairs each input image with its output file and checks outputs before any work.

    Args:
      src: INPUT (file or folder).
      dst: OUTPUT.
      overwrite: allow replacing existing outputs.

    Returns:
      (pairs, folder, skipped): list of (input, output) paths, whether INPUT
      is a folder, and the number of folder entries skipped as non-images.

    Raises:
      InputError: missing INPUT, empty folder, OUTPUT of the wrong kind, two
        inputs with the same stem, or existing outputs without ``overwrite``.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    if not os.path.exists(src):
        raise InputError(f"{src}: input not found")
    stem = lambda p: os.path.splitext(os.path.basename(p))[0] + output_extension(p)  # noqa: E731
    if not os.path.isdir(src):
        out = os.path.join(dst, stem(src)) if os.path.isdir(dst) else dst
        check_output(out, overwrite, OUTPUT_EXTENSIONS)
        if os.path.exists(out) and os.path.samefile(src, out):
            raise InputError(f"{out}: OUTPUT is the input file; write the result elsewhere")
        return [(src, out)], False, 0
    if os.path.exists(dst) and not os.path.isdir(dst):
        raise InputError(f"{dst}: INPUT is a folder, so OUTPUT must be a folder, but this is a file")
    if not os.path.exists(dst) and _is_image_name(dst):
        raise InputError(f"{dst}: INPUT is a folder, so OUTPUT must be a folder, not an image name")
    names = sorted(n for n in os.listdir(src) if not n.startswith(".") and os.path.isfile(os.path.join(src, n)))
    images = [n for n in names if _is_image_name(n)]
    if not images:
        raise InputError(f"{src}: no image files in this folder (looked for {', '.join(IMAGE_EXTENSIONS)})")
    pairs = [(os.path.join(src, n), os.path.join(dst, stem(n))) for n in images]
    seen = {}
    for a, b in pairs:
        if b in seen:
            raise InputError(f"{seen[b]} and {a} would both be written to {b}; rename one")
        seen[b] = a
    blocked = [b for _, b in pairs if os.path.isdir(b)]
    if blocked:
        raise InputError(f"{blocked[0]}: output is a folder, not a file")
    same = [a for a, b in pairs if os.path.exists(b) and os.path.samefile(a, b)]
    if same:
        raise InputError(f"{same[0]}: would be overwritten by its own result; choose another OUTPUT folder")
    existing = [b for _, b in pairs if os.path.exists(b)]
    if existing and not overwrite:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise InputError(f"{len(existing)} output file(s) exist: {shown}; pass --overwrite to replace them")
    return pairs, True, len(names) - len(images)


def output_extension(path):
    """The output format for an input file: .npy and .tif(f) keep theirs (any dtype fits), others .png."""
    ext = os.path.splitext(path)[1].lower()
    return ext if ext in (".npy", ".tif", ".tiff") else ".png"


def _say(message):
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def _prepare(src, out, image, scale, ksize, max_pixels, value_range):
    """Reads (or takes) an input, checks its size and its output format: the data in [0, 1], spec, notes."""
    a, notes = image if image is not None else read_array(src)
    if out.lower().endswith(".png") and png_problem(a):
        raise InputError(f"{out}: {png_problem(a)}")
    x, spec, more = arrays.to_unit(a, value_range, source=src)
    check_size(x.shape[0], x.shape[1], scale, ksize, source=src, max_pixels=max_pixels)
    return x, spec, notes + more


@guarded
def main(argv=None):
    """``python -m mzsr_tf.upscale``: returns 0, 1 (some images of a folder failed) or 2 (input error)."""
    args = build_parser().parse_args(argv)
    args.subsampling = subsampling_for(args.kernel, args.subsampling)
    scale, steps = check_options(args.scale, args.steps, args.subsampling)
    check_method(args.method, args.zssr_iters)
    budget = tiling.parse_memory(args.max_memory)
    arrays.parse_range(args.value_range)
    pairs, folder, skipped = plan(args.input, args.output, args.overwrite)
    if skipped:
        _say(f"note: {args.input}: skipped {skipped} file(s) without an image extension")
    if folder:
        try:
            os.makedirs(args.output, exist_ok=True)
        except OSError as e:
            raise InputError(f"{args.output}: cannot create the output folder ({e.strerror or e})") from None
        check_writable(args.output)
    warn = lambda m: _say(m)  # noqa: E731
    kernel = resolve_kernel(args.kernel, warn=warn, scale=scale, subsampling=args.subsampling)
    ksize = kernel_extent(kernel)
    name = method_for(args.method, args.ensemble)
    method = methods.get(name)
    max_pixels = None if method.tiles else MAX_LR_PIXELS
    first = None
    if not folder:  # a bad image fails before the model is loaded
        first = _prepare(pairs[0][0], pairs[0][1], None, scale, ksize, max_pixels, args.value_range)
    if args.seed is not None:
        import keras

        keras.utils.set_random_seed(args.seed)

    from tqdm import tqdm

    bar = lambda it: tqdm(it, unit="tile", disable=None, file=sys.stderr, leave=False)  # noqa: E731
    estimated = is_estimated(kernel)
    opts = methods.Options(scale=scale, kernel=None if estimated else kernel,
                           kernel_estimated=estimated, subsampling=args.subsampling, steps=steps,
                           weights=args.weights,
                           compute_dtype=args.compute_dtype,
                           zssr_iters=args.zssr_iters, zssr_ensemble=args.ensemble is not False,
                           seed=0 if args.seed is None else args.seed, max_memory=budget, progress=bar)
    if method.uses_weights:  # loads them: a bad --weights fails before any image
        mismatch = weights_mismatch(opts)
        if mismatch:
            _say(f"warning: {mismatch}")

    times, failed = [], []
    for src, out in tqdm(pairs, unit="image", disable=None, file=sys.stderr, leave=False):
        t0 = time.perf_counter()
        try:
            x, spec, notes = first if first is not None else _prepare(src, out, None, scale, ksize, max_pixels,
                                                                      args.value_range)
            first = None
            opts.kernel = kernel_for_image(kernel, x, scale, args.subsampling, notes)
            for note in notes:
                _say(f"note: {src}: {note}")
            channel_bar = lambda it: tqdm(it, unit="channel", disable=None, file=sys.stderr, leave=False)  # noqa
            sr = run_channels(name, x, spec, opts, args.channels, channel_bar if spec.kind == "data" else None)
            for key, what in (("crops", "adapted on {1} random crops of {0}×{0} px"), ("tiles", "upscaled in {} tiles")):
                if key in opts.notes:
                    value = opts.notes.pop(key)
                    _say(f"note: {src}: " + what.format(*(value if isinstance(value, tuple) else (value,))))
            for run in opts.notes.pop("zssr_runs", []):
                _say(f"{src}: ZSSR {run['iterations']} iterations, stopped by {run['stopped']}")
            write_array(out, arrays.from_unit(sr, spec), overwrite=args.overwrite,
                        channels_first=any("channels-first" in n for n in notes))
        except InputError as e:
            if not folder:
                raise
            _say(f"error: {e}")
            failed.append(src)
            continue
        times.append(time.perf_counter() - t0)
    if times:
        per = sum(times) / len(times)
        where = args.output if folder else pairs[0][1]
        extra = f" (first {times[0]:.2f} s, includes compiling)" if len(times) > 1 else " (includes compiling)"
        if method.uses_weights:
            how = f"weights {opts.notes['weights']}, {args.subsampling} subsampling, {steps} step(s)"
        else:
            how = "ZSSR (trained on each image)" if method.name == "zssr" else method.description
        if method.name == "mzsr+ensemble" or (method.name == "zssr" and opts.zssr_ensemble):
            how += ", self-ensemble"
        print(f"wrote {len(times)} image(s) to {where} with {how}: {per:.2f} s/image{extra}")
    if failed:
        print(f"{len(failed)} of {len(pairs)} image(s) failed (see the errors above)", file=sys.stderr)
        return 1
    return 0


