"""Zero-shot super-resolution of your own images: the command and the Python API.

Command::

    python -m mzsr_tf.upscale INPUT OUTPUT [--scale {2,4}] [--subsampling {direct,bicubic}]
        [--kernel FILE|NAME] [--steps N] [--weights NAME|PATH] [--overwrite] [--seed N]
        [--method {mzsr,zssr}] [--ensemble] [--zssr-iters N] [--compute-dtype {float32,bfloat16}]

Python::

    import mzsr_tf
    sr = mzsr_tf.upscale(lr, scale=2, kernel=k, steps=10)   # the module is callable

Each image is adapted on its own (Algorithm 2 of the paper): its "son" (the
image degraded once more with the given kernel) is upscaled, ``steps`` gradient
steps fit the network to map it back to the image, then the adapted network
upscales the image. No kernel means no blur (plain subsampling).

``--method zssr`` runs the ZSSR baseline instead (the same network trained
from scratch on the image, minutes per image; :mod:`mzsr_tf.zssr`);
``--ensemble`` averages the 8 rotated/flipped variants (:mod:`mzsr_tf.ensemble`).
"""
import argparse
import os
import sys
import time
import types
import warnings

import numpy as np

from .cli import guarded
from .errors import InputError
from .io import IMAGE_EXTENSIONS, as_image_array, check_output, check_size, read_image, write_image

SCALES = (2, 4)
SUBSAMPLINGS = ("direct", "bicubic")
DEFAULT_STEPS = 10
MAX_STEPS = 100  # the adaptation loop is unrolled into the compiled graph
METHODS = ("mzsr", "zssr")


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


def resolve_kernel(kernel, warn=None):
    """The blur kernel as a validated float32 array, or None for no blur.

    Args:
      kernel: None; a 2-D array; a file path (.npy, .mat with key ``kernel`` or
        ``Kernel``, grayscale image); or a paper scenario name ('g0.2', 'g2.0',
        'g1.3', 'gani') when no file of that name exists.
      warn: called with a message when the kernel is renormalised.

    Raises:
      InputError: unreadable file or invalid kernel (see ``kernels.validate_kernel``).
    """
    if kernel is None:
        return None
    from . import kernels

    if isinstance(kernel, (str, os.PathLike)):
        name = os.fspath(kernel)
        if not os.path.exists(name) and name in kernels.NAMED:
            return kernels.named_kernel(name)
        return kernels.load_kernel(name, warn=warn)
    return kernels.validate_kernel(kernel, source="kernel", warn=warn)


_PARAMS = {}


def load_params(weights=None, scale=2, subsampling="direct", blurred=True):
    """The network weights as a list of tensors, cached per file within the process.

    Args:
      weights: shipped name, path to a ``.weights.h5`` file, or None for the
        shipped default for (scale, subsampling).
      blurred: False when the input has no kernel (see ``weights.default_name``).

    Returns:
      (params, name): the weight tensors and the name or path they came from.

    Raises:
      InputError: no such weights, or a file that does not hold this network.
    """
    from .weights import default_name, resolve

    name = default_name(scale, subsampling, blurred) if weights is None else os.fspath(weights)
    path = os.path.abspath(resolve(name, scale, subsampling))
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    if key not in _PARAMS:
        from .model import get_params
        from .weights import load_model

        _PARAMS[key] = get_params(load_model(path))
    return _PARAMS[key], name


def weights_mismatch(name, scale, subsampling):
    """A warning text when shipped weights were trained for another scale or subsampling, else None."""
    from .weights import info

    meta = info(name)
    if meta.get("scale") not in (None, scale):
        return f"weights {name!r} were trained for ×{meta['scale']}, used here for ×{scale}"
    if meta.get("kind") == "meta" and meta.get("subsampling") not in (None, subsampling):
        return f"weights {name!r} were meta-trained for {meta['subsampling']} subsampling, used here with {subsampling}"
    return None


def super_resolve(params, image, scale, kernel, steps, subsampling, ensemble=False, compute_dtype=None):
    """Runs the adaptation and the upscaling on one float32 H×W×3 image; returns sH×sW×3 float32.

    ``ensemble``: average the 8 dihedral variants of the adapted network's output.
    """
    from keras import ops

    from .adapt import step_size_schedule, zero_shot_sr
    from .ensemble import zero_shot_sr_ensemble

    sizes = tuple(step_size_schedule(steps, subsampling, scale))
    fn = zero_shot_sr_ensemble if ensemble else zero_shot_sr
    sr = fn(params, image[None], scale, kernel=kernel, subsampling=subsampling, step_sizes=sizes,
            compute_dtype=compute_dtype)
    return np.asarray(ops.convert_to_numpy(sr)[0], dtype=np.float32)


def zssr_super_resolve(image, scale, kernel, subsampling, ensemble=True, max_iters=3000, seed=0, compute_dtype=None):
    """The ZSSR baseline on one float32 H×W×3 image; returns (sH×sW×3 float32, info dict)."""
    from keras import ops

    from .zssr import ZSSRConfig, zssr

    cfg = ZSSRConfig(max_iters=int(max_iters), ensemble=bool(ensemble), compute_dtype=compute_dtype)
    sr, info = zssr(image[None], scale, kernel, subsampling, cfg, seed=seed)
    return np.asarray(ops.convert_to_numpy(sr)[0], dtype=np.float32), info


def _as_kind(sr, kind):
    if kind == "uint8":
        return np.round(np.clip(sr, 0.0, 1.0) * 255.0).astype(np.uint8)
    if kind == "uint16":
        return np.round(np.clip(sr, 0.0, 1.0) * 65535.0).astype(np.uint16)
    return sr.astype(np.float32)


def upscale(array, scale=2, kernel=None, steps=DEFAULT_STEPS, subsampling="direct", weights=None,
            method="mzsr", ensemble=None, zssr_iters=3000, seed=0, compute_dtype=None):
    """Super-resolves one image by zero-shot adaptation (MZSR, Algorithm 2).

    Args:
      array: H×W×3 image (H×W, H×W×1 and H×W×4 are converted, with a warning):
        uint8 (0..255), uint16 (0..65535) or float in [0, 1].
      scale: 2 or 4.
      kernel: blur kernel of the LR image: None (no blur), a 2-D array, a kernel
        file path, or a scenario name ('g0.2', 'g2.0', 'g1.3', 'gani').
      steps: gradient steps of adaptation (0 = the meta-learned network as is).
      subsampling: 'direct' (keep every s-th pixel) or 'bicubic'.
      weights: shipped weights name, a ``.weights.h5`` path, or None for the
        default for (scale, subsampling).
      method: 'mzsr' or 'zssr' (the baseline: trained from scratch on the image;
        ``steps`` and ``weights`` are not used).
      ensemble: 8-way self-ensemble; None = the method's default (off for mzsr,
        on for zssr, with median and back-projection).
      zssr_iters: ZSSR's iteration cap (it may stop earlier at its rate floor).
      seed: ZSSR's random seed.
      compute_dtype: None (float32) or 'bfloat16': convolutions in bfloat16,
        weights float32 (~2x faster on CPUs with bf16 units).

    Returns:
      sH×sW×3 array of the input's dtype family: uint8 → uint8, uint16 → uint16,
      float → float32 in [0, 1].

    Raises:
      InputError: bad image, kernel, option or weights (one clear message).
    """
    scale, steps = check_options(scale, steps, subsampling)
    check_method(method, zssr_iters)
    image, kind, notes = as_image_array(array, source="array")
    for note in notes:
        warnings.warn(f"array: {note}", stacklevel=2)
    k = resolve_kernel(kernel, warn=lambda m: warnings.warn(m.removeprefix("warning: "), stacklevel=3))
    check_size(image.shape[0], image.shape[1], scale, None if k is None else k.shape, source="array")
    if method == "zssr":
        sr, _ = zssr_super_resolve(image, scale, k, subsampling, ensemble is not False, zssr_iters, seed, compute_dtype)
        return _as_kind(sr, kind)
    params, name = load_params(weights, scale, subsampling, blurred=k is not None)
    mismatch = weights_mismatch(name, scale, subsampling)
    if mismatch:
        warnings.warn(mismatch, stacklevel=2)
    return _as_kind(super_resolve(params, image, scale, k, steps, subsampling, bool(ensemble), compute_dtype), kind)


def check_method(method, zssr_iters=3000):
    """Raises InputError for an unknown method or a ZSSR iteration cap below 1."""
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if isinstance(zssr_iters, bool) or not isinstance(zssr_iters, (int, np.integer)) or zssr_iters < 1:
        raise InputError(f"zssr_iters must be a positive integer, got {zssr_iters!r}")


# ---------------------------------------------------------------- command line


class _Parser(argparse.ArgumentParser):
    """argparse that raises InputError (one line, exit 2 via ``guarded``) instead of exiting."""

    def error(self, message):
        self.print_usage(sys.stderr)
        raise InputError(message)


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
    p = _Parser(
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
        "one PNG per image with the same stem",
    )
    p.add_argument("--scale", type=int, choices=SCALES, default=2, help="upscaling factor (default 2)")
    p.add_argument(
        "--subsampling",
        choices=SUBSAMPLINGS,
        default="direct",
        help="how the LR image was subsampled after the blur (default direct)",
    )
    p.add_argument(
        "--kernel",
        metavar="FILE|NAME",
        help="blur kernel of the input: .npy, .mat (key 'kernel' or 'Kernel'), a grayscale image, or one of "
        "g0.2, g2.0, g1.3, gani; default: no blur",
    )
    p.add_argument(
        "--steps",
        type=_steps_arg,
        default=DEFAULT_STEPS,
        metavar="N",
        help=f"adaptation gradient steps, 0..{MAX_STEPS} (default {DEFAULT_STEPS}; 0 = no adaptation)",
    )
    p.add_argument("--weights", metavar="NAME|PATH", help="shipped weights name or a .weights.h5 file (default: shipped for the scale)")
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
        choices=METHODS,
        default="mzsr",
        help="mzsr (default): meta-learned network + adaptation; zssr: the ZSSR baseline, trained from scratch "
        "on each image (minutes per image; ignores --steps and --weights)",
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
        default="float32",
        help="precision of the convolutions (weights stay float32); bfloat16 is ~2x faster on CPUs with bf16 units",
    )
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
    stem = lambda p: os.path.splitext(os.path.basename(p))[0] + ".png"  # noqa: E731
    if not os.path.isdir(src):
        out = os.path.join(dst, stem(src)) if os.path.isdir(dst) else dst
        check_output(out, overwrite)
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
    existing = [b for _, b in pairs if os.path.exists(b)]
    if existing and not overwrite:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise InputError(f"{len(existing)} output file(s) exist: {shown}; pass --overwrite to replace them")
    return pairs, True, len(names) - len(images)


def _say(message):
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


@guarded
def main(argv=None):
    """``python -m mzsr_tf.upscale``: returns 0, 1 (some images of a folder failed) or 2 (input error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help
        return e.code or 0
    scale, steps = check_options(args.scale, args.steps, args.subsampling)
    check_method(args.method, args.zssr_iters)
    pairs, folder, skipped = plan(args.input, args.output, args.overwrite)
    if skipped:
        _say(f"note: {args.input}: skipped {skipped} file(s) without an image extension")
    first = None
    if not folder:  # a bad image fails before the model is loaded
        first = read_image(pairs[0][0])
    warn = lambda m: _say(m)  # noqa: E731
    kernel = resolve_kernel(args.kernel, warn=warn)
    ksize = None if kernel is None else kernel.shape
    if first is not None:
        check_size(first[0].shape[0], first[0].shape[1], scale, ksize, source=pairs[0][0])
    if args.seed is not None:
        import keras

        keras.utils.set_random_seed(args.seed)
    zssr_mode = args.method == "zssr"
    dtype = None if args.compute_dtype == "float32" else args.compute_dtype
    if zssr_mode:
        params, name = None, "ZSSR (trained on each image)"
    else:
        params, name = load_params(args.weights, scale, args.subsampling, blurred=kernel is not None)
        mismatch = weights_mismatch(name, scale, args.subsampling)
        if mismatch:
            _say(f"warning: {mismatch}")
    if folder:
        os.makedirs(args.output, exist_ok=True)

    from tqdm import tqdm

    times, failed = [], []
    for src, out in tqdm(pairs, unit="image", disable=None, file=sys.stderr, leave=False):
        t0 = time.perf_counter()
        try:
            image, notes = first if first is not None else read_image(src)
            first = None
            for note in notes:
                _say(f"note: {src}: {note}")
            check_size(image.shape[0], image.shape[1], scale, ksize, source=src)
            if zssr_mode:
                sr, info = zssr_super_resolve(image, scale, kernel, args.subsampling, args.ensemble is not False,
                                              args.zssr_iters, 0 if args.seed is None else args.seed, dtype)
                _say(f"{src}: ZSSR {info['iterations']} iterations, stopped by {info['stopped']}")
            else:
                sr = super_resolve(params, image, scale, kernel, steps, args.subsampling, bool(args.ensemble), dtype)
            write_image(out, sr, overwrite=args.overwrite)
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
        how = name if zssr_mode else f"weights {name}, {steps} step(s)"
        how += ", self-ensemble" if (args.ensemble is not False if zssr_mode else args.ensemble) else ""
        print(f"wrote {len(times)} image(s) to {where} with {how}: {per:.2f} s/image{extra}")
    if failed:
        print(f"{len(failed)} of {len(pairs)} image(s) failed (see the errors above)", file=sys.stderr)
        return 1
    return 0


class _CallableModule(types.ModuleType):
    """Makes ``mzsr_tf.upscale(array, ...)`` (the module) call :func:`upscale`."""

    def __call__(self, *args, **kwargs):
        return upscale(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    sys.exit(main())
