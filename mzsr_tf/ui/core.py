"""What the page does with one request, without Gradio: read, check, upscale, write, and show.

Every step reuses the package: :func:`mzsr_tf.io.read_array` reads the upload,
:func:`mzsr_tf.upscale` (the public API) computes MZSR and bicubic,
:func:`mzsr_tf.io.write_array` writes the download. This module only adds the
page's own limits (bytes before decoding, pixels after) and the 8-bit views a
browser can show. It holds no state shared between requests: each call gets
its own arrays and its own output folder, so concurrent requests cannot mix.
"""
import dataclasses
import os
import re
import tempfile
import time

import numpy as np

from ..constants import DEFAULT_STEPS, KERNEL_NAMES, MAX_LR_PIXELS
from ..errors import InputError

# Kernel choices as the page names them; the paper's kernels are in KERNEL_NAMES.
NO_KERNEL, ESTIMATE, UPLOADED = "none", "estimate", "uploaded file"
KERNEL_CHOICES = (NO_KERNEL, ESTIMATE, *KERNEL_NAMES, UPLOADED)
DEFAULT_WEIGHTS = "default"
SUBSAMPLING_CHOICES = ("default", "direct", "bicubic")

# 50 MB holds a 12 MP 8-bit photo as PNG or an 8 MP 16-bit RGB TIFF; larger uploads are refused
# unread. 2048² LR pixels is what one graph run takes without tiles: a ×2 request that size already
# takes minutes on a 2-core CPU, and a page is not where people should wait longer (the command tiles any size).
DEFAULT_MAX_UPLOAD_BYTES = 50_000_000
DEFAULT_MAX_PIXELS = MAX_LR_PIXELS


@dataclasses.dataclass
class Limits:
    """The page's limits.

    Args:
      max_upload_bytes: largest upload; a bigger file is refused before it is decoded.
      max_pixels: largest LR image in pixels (H·W).
    """

    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclasses.dataclass
class Result:
    """One request's outcome.

    Args:
      sr: the MZSR result in the input's dtype, channels and range.
      bicubic: bicubic interpolation of the input, the same way.
      view_bicubic, view_sr: uint8 H×W×3 views of both for the browser, mapped alike.
      kernel: the kernel in use (None for no blur), after estimation.
      kernel_label: what the kernel is, in words.
      weights: the weights the MZSR run used.
      seconds: time of the MZSR call (adaptation and upscaling), bicubic not included.
      path: the written result, in the input's format and depth.
      notes: conversions and warnings for the user.
    """

    sr: np.ndarray
    bicubic: np.ndarray
    view_bicubic: np.ndarray
    view_sr: np.ndarray
    kernel: object
    kernel_label: str
    weights: str
    seconds: float
    path: str
    notes: list


def _size(n):
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def check_upload(path, name, limits):
    """Refuses a missing, empty or too large upload by its size on disk, before any decoding.

    Args:
      path: the uploaded file on the server (Gradio's cache).
      name: the name the user knows it by (messages never show server paths).
      limits: :class:`Limits`.

    Raises:
      InputError: no file, empty, or more than ``limits.max_upload_bytes``.
    """
    if not path:
        raise InputError("no image: drop an image (PNG, JPEG, TIFF, ...) or a .npy array first")
    size = os.path.getsize(path)
    if size == 0:
        raise InputError(f"{name}: file is empty")
    if size > limits.max_upload_bytes:
        raise InputError(f"{name}: file is {_size(size)}, more than the {_size(limits.max_upload_bytes)} this page "
                         "takes (start it with --max-upload-mb, or use the command mzsr-tf upscale)")


def _renamed(error, path, name):
    """The package's message with the server-side path replaced by the user's file name."""
    return InputError(str(error).replace(path, name))


def read_upload(path, name, limits):
    """Reads an uploaded image or array as stored (depth and channels kept).

    Args:
      path: the uploaded file; name: the user's file name; limits: :class:`Limits`.

    Returns:
      (array, notes) as :func:`mzsr_tf.io.read_array` gives them.

    Raises:
      InputError: too large (bytes or pixels), or whatever ``read_array`` refuses.
    """
    from ..io import read_array

    check_upload(path, name, limits)
    try:
        a, notes = read_array(path)
    except InputError as e:
        raise _renamed(e, path, name) from None
    if a.ndim >= 2 and a.shape[0] * a.shape[1] > limits.max_pixels:
        h, w = a.shape[:2]
        raise InputError(f"{name}: image is {w}×{h} pixels ({h * w / 1e6:.1f} MP), more than the "
                         f"{limits.max_pixels / 1e6:.1f} MP this page takes (start it with --max-pixels, or use "
                         "the command mzsr-tf upscale, which works in tiles at any size)")
    return a, notes


def resolve_page_kernel(choice, kernel_path=None, kernel_name=None, notes=None):
    """The kernel argument for a page choice: None, 'estimate', or a validated float32 array.

    Args:
      choice: one of ``KERNEL_CHOICES``.
      kernel_path: the uploaded kernel file (for ``UPLOADED``): .npy, .mat or a grayscale image.
      kernel_name: the user's name of that file, for messages.
      notes: a list that gets a renormalisation warning.

    Raises:
      InputError: an unknown choice, no kernel file, or a kernel the command would refuse.
    """
    from ..api import resolve_kernel

    if choice in (None, NO_KERNEL):
        return None
    if choice == ESTIMATE:
        return ESTIMATE
    if choice in KERNEL_NAMES:
        return resolve_kernel(choice)
    if choice != UPLOADED:
        raise InputError(f"kernel must be one of {', '.join(KERNEL_CHOICES)}, got {choice!r}")
    if not kernel_path:
        raise InputError("kernel: 'uploaded file' is chosen but no kernel file was given (a .npy array)")
    name = kernel_name or os.path.basename(kernel_path)
    warn = None if notes is None else (lambda m: notes.append(m.replace(kernel_path, name).removeprefix("warning: ")))
    try:
        return resolve_kernel(kernel_path, warn=warn)
    except InputError as e:
        raise _renamed(e, kernel_path, name) from None


def kernel_picture(k, size=150):
    """A kernel as a uint8 RGB picture about ``size`` pixels a side (each tap a square; brighter is more weight).

    Args:
      k: 2-D kernel, or None for no blur (a single bright tap).
    """
    from matplotlib import colormaps

    k = np.ones((1, 1), np.float32) if k is None else np.asarray(k, np.float32)
    rep = max(1, size // max(k.shape))
    rgb = colormaps["magma"](k / max(float(k.max()), 1e-12))[..., :3]
    return np.round(np.kron(rgb, np.ones((rep, rep, 1))) * 255).astype(np.uint8)


def kernel_label(choice, k):
    """The kernel in use, in words.

    Args:
      choice: the page's kernel choice; k: the kernel array in use, or None.
    """
    if k is None:
        return "no blur"
    side = "×".join(map(str, k.shape))
    what = {ESTIMATE: "estimated from the image", UPLOADED: "uploaded"}.get(choice, f"paper kernel {choice}")
    return f"{what}, {side}"


def to_view(a, spec):
    """An array as the uint8 RGB a browser shows, mapped with the input's :class:`~mzsr_tf.arrays.Spec`.

    Input and results go through the same mapping, so bicubic and MZSR are shown
    alike: RGB as is, gray replicated, RGBA without its alpha, data arrays by their
    first channel in the input's range.

    Args:
      a: the input or a result (H×W or H×W×C, the input's dtype).
      spec: the input's :class:`~mzsr_tf.arrays.Spec` from :func:`mzsr_tf.arrays.to_unit`.
    """
    x = np.asarray(a, np.float64)
    x = x[..., None] if x.ndim == 2 else x
    x = (x - spec.lo) / np.where(spec.hi > spec.lo, spec.hi - spec.lo, 1.0)
    x = x[..., :3] if spec.kind in ("rgb", "rgba") else np.repeat(x[..., :1], 3, axis=-1)
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def output_name(name, scale):
    """The download's file name: the input's stem (safe characters only), ``_x2``, and the format that keeps its depth.

    Args:
      name: the uploaded file's name (never used as a path); scale: 2 or 4.
    """
    from ..commands.upscale import output_extension

    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.splitext(os.path.basename(name))[0]).strip("._")[:80] or "image"
    return f"{stem}_x{scale}{output_extension(name)}"


def weights_in_use(x, spec, scale, subsampling, kernel, weights, estimated=False):
    """The weights an MZSR run uses: the ones asked for, or the shipped default for this image.

    The default is the package's own rule (:func:`mzsr_tf.methods` picks it from the
    scale, the subsampling, whether there is a kernel, and JPEG traces in the pixels);
    the page passes the name it gets here to :func:`mzsr_tf.upscale`, so the name shown
    is the one used.

    Args:
      x, spec: the input from :func:`mzsr_tf.arrays.to_unit`.
      scale, subsampling: the run's; kernel: the kernel array in use, or None.
      weights: the page's choice (None, '' or 'default' for the shipped default).
      estimated: the kernel was estimated from the image.
    """
    from .. import methods

    if weights not in (None, "", DEFAULT_WEIGHTS):
        return weights
    rgb = x[..., :3] if spec.kind in ("rgb", "rgba") else np.repeat(x[..., :1], 3, axis=-1)
    opts = methods.Options(scale=scale, kernel=None if kernel is None else np.asarray(kernel), subsampling=subsampling,
                           kernel_estimated=estimated)
    return methods.default_weights(rgb, opts)  # the rule upscale applies, not a copy of it


def _whole(v):
    """A page number as an int when it is one (sliders send 10.0, text fields '10'); anything else as it came,
    for :func:`mzsr_tf.api.check_options` to refuse with its message."""
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def process(path, name, scale=2, kernel_choice=NO_KERNEL, steps=DEFAULT_STEPS, subsampling=None, weights=None,
            ensemble=False, kernel_path=None, kernel_name=None, out_dir=None, limits=None, progress=None):
    """One page request: checks all input first, then bicubic and MZSR through :func:`mzsr_tf.upscale`.

    Args:
      path: the uploaded image or array; name: its name for the user.
      scale, steps, ensemble: as ``mzsr_tf.upscale`` takes them.
      kernel_choice: one of ``KERNEL_CHOICES``; kernel_path / kernel_name: the uploaded kernel.
      subsampling: 'direct', 'bicubic', or None / 'default' (bicubic without a kernel, direct with one).
      weights: a shipped name, or None / 'default'.
      out_dir: folder for the result file (a new one under the system's temporary folder when None).
      limits: :class:`Limits`.
      progress: ``progress(fraction, text)`` callback, or None.

    Returns:
      a :class:`Result`.

    Raises:
      InputError: the same one-line messages as the command (file paths shown as the user's names).
    """
    from .. import arrays, upscale
    from ..api import check_options, is_estimated, kernel_extent, kernel_for_image, subsampling_for, weights_mismatch
    from ..io import check_size, png_problem, write_array
    from ..methods import Options

    say = progress or (lambda fraction, text: None)
    limits = limits or Limits()
    subsampling = None if subsampling in (None, "", "default") else subsampling
    notes = []
    kernel_arg = None if kernel_choice in (None, NO_KERNEL) else kernel_choice
    subsampling = subsampling_for(kernel_arg, subsampling)
    scale, steps = check_options(_whole(scale), _whole(steps), subsampling)
    kernel = resolve_page_kernel(kernel_choice, kernel_path, kernel_name, notes)
    estimated = is_estimated(kernel)
    if estimated:
        from ..estimate import check_options as check_estimate

        check_estimate(scale, subsampling)
    say(0.05, "reading the image")
    a, read_notes = read_upload(path, name, limits)
    out_name = output_name(name, scale)
    if out_name.endswith(".png") and png_problem(a):
        raise InputError(f"{name}: {png_problem(a)}")
    x, spec, more = arrays.to_unit(a, source=name)
    check_size(x.shape[0], x.shape[1], scale, kernel_extent(kernel), source=name, max_pixels=None)
    # how an image's values map to [0, 1] is news only for data arrays (min–max, percentiles)
    notes = read_notes + [n for n in more if spec.kind == "data" or not n.startswith("values:")] + notes
    if estimated:
        say(0.1, "estimating the kernel")
    kernel = kernel_for_image(kernel, x, scale, subsampling, notes)
    name_w = weights_in_use(x, spec, scale, subsampling, kernel, weights, estimated)
    mismatch = weights_mismatch(Options(scale=scale, kernel=kernel, subsampling=subsampling, weights=name_w))
    if mismatch:
        notes.append(mismatch)
    say(0.15, "bicubic")
    bicubic = upscale(a, scale=scale, kernel=kernel, subsampling=subsampling, method="bicubic")
    say(0.25, f"adapting ({steps} steps) and upscaling with {name_w}")
    t0 = time.perf_counter()
    sr = upscale(a, scale=scale, kernel=kernel, steps=steps, subsampling=subsampling, weights=name_w,
                 ensemble=bool(ensemble))
    seconds = time.perf_counter() - t0
    say(0.9, "writing the result")
    folder = out_dir or tempfile.mkdtemp(prefix="mzsr-ui-")
    out = os.path.join(folder, out_name)
    write_array(out, sr, channels_first=any("channels-first" in n for n in read_notes))
    return Result(sr=sr, bicubic=bicubic, view_bicubic=to_view(bicubic, spec), view_sr=to_view(sr, spec),
                  kernel=kernel, kernel_label=kernel_label(kernel_choice, kernel), weights=os.path.basename(str(name_w)),
                  seconds=seconds, path=out, notes=notes)


def warm_up():
    """Starts TensorFlow, loads the ×2 default weights and compiles the graphs on a tiny image.

    The page calls it in the background when it starts, so that the first person's
    request does not pay TensorFlow's start-up (about 10 s on 2 cores). Returns the seconds taken.
    """
    from .. import upscale

    t0 = time.perf_counter()
    tiny = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    upscale(tiny, scale=2, method="bicubic")
    upscale(tiny, scale=2, steps=1)
    return time.perf_counter() - t0


def summary(result, scale, steps, name):
    """The status line shown under the comparison (Markdown).

    Args:
      result: a :class:`Result`; scale, steps: as asked; name: the input's name.
    """
    h, w = result.sr.shape[:2]
    lines = [f"**{name}** ×{scale} → {w}×{h} {result.sr.dtype}: MZSR took **{result.seconds:.2f} s** "
             f"({steps} step(s)) with weights **{result.weights}**; kernel: {result.kernel_label}."]
    lines += [f"- note: {n}" for n in result.notes]
    return "\n".join(lines)
