"""Checks made before any work: image sizes a method can take, and destinations that can be written.

Size limits (:func:`check_size`), in LR pixels:

- each side at least ``MIN_SON_SIDE · scale`` (the "son" that adaptation learns
  from is the LR image degraded once more, so it has ``side / scale`` pixels a
  side; below 8 there is too little to learn from) and at least the blur kernel's
  side (the blur pads the image symmetrically by half a kernel, which needs that
  many pixels to mirror);
- for methods that cannot tile (ZSSR), at most ``MAX_LR_PIXELS`` = 2048 × 2048
  pixels in all; the others work in tiles within a memory budget
  (:mod:`mzsr_tf.tiling`).
"""
import os
import tempfile

import numpy as np

from ..constants import MAX_LR_PIXELS, MIN_SON_SIDE
from ..errors import InputError

OUTPUT_EXTENSIONS = (".png", ".tif", ".tiff", ".npy")


def _fmt_hw(h, w):
    return f"{w}×{h}"


def check_size(h, w, scale, kernel_size=None, source="image", max_pixels=MAX_LR_PIXELS):
    """Refuses images too small for the scale or kernel, or too large to process.

    Args:
      h, w: LR image height and width in pixels.
      scale: SR scale (2 or 4).
      kernel_size: side of the (square or not) blur kernel, or None for no blur;
        a (kh, kw) pair is accepted too.
      source: name used in messages (a file path).
      max_pixels: largest pixel count, or None for no limit (methods that tile).

    Raises:
      InputError: a side below ``max(MIN_SON_SIDE · scale, kernel side)`` or more
        than ``max_pixels`` pixels.
    """
    h, w, scale = int(h), int(w), int(scale)
    need = MIN_SON_SIDE * scale
    if min(h, w) < need:
        raise InputError(
            f"{source}: image is {_fmt_hw(h, w)} pixels, too small for ×{scale}: each side must be "
            f"at least {need} (the son image adaptation learns from needs {MIN_SON_SIDE} pixels a side)"
        )
    if kernel_size is not None:
        k = max(kernel_size) if isinstance(kernel_size, (tuple, list)) else int(kernel_size)
        if min(h, w) < k:
            raise InputError(
                f"{source}: image is {_fmt_hw(h, w)} pixels, smaller than the {k}×{k} blur kernel: "
                f"each side must be at least {k}"
            )
    if max_pixels is not None and h * w > max_pixels:
        raise InputError(
            f"{source}: image is {_fmt_hw(h, w)} pixels ({h * w / 1e6:.1f} MP), more than the "
            f"{max_pixels / 1e6:.1f} MP this method takes; --method mzsr or bicubic work in tiles at any size"
        )



def check_output(path, overwrite=False, extensions=(".png",)):
    """Refuses an output path that cannot or must not be written, before any work.

    Args:
      path: the file to write.
      overwrite: allow replacing an existing file.
      extensions: accepted file endings.

    Raises:
      InputError: a wrong ending, a folder, existing without ``overwrite``, its
        folder missing or not writable.
    """
    path = os.fspath(path)
    if not path.lower().endswith(tuple(extensions)):
        raise InputError(f"{path}: output must be a {' or '.join(extensions)} file")
    if os.path.isdir(path):
        raise InputError(f"{path}: output is a folder, not a file")
    if os.path.exists(path) and not overwrite:
        raise InputError(f"{path}: output exists; pass --overwrite (overwrite=True) to replace it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InputError(f"{path}: output folder {parent} does not exist")
    check_writable(parent)


def check_writable(folder):
    """InputError when files cannot be created in ``folder`` (checked by creating one, as root ignores modes)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".mzsr_write_probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise InputError(f"{folder}: cannot write in this folder ({e.strerror or type(e).__name__})") from None



def png_problem(a):
    """Why an array cannot be stored in a PNG as it is, or None (uint8/uint16 with 1, 3 or 4 channels)."""
    a = np.asarray(a)
    channels = 1 if a.ndim == 2 else a.shape[-1]
    if a.dtype not in (np.uint8, np.uint16):
        return f"PNG holds 8- or 16-bit integers, not {a.dtype}; write .tif or .npy"
    if a.ndim not in (2, 3) or channels not in (1, 3, 4):
        return f"PNG holds 1, 3 or 4 channels, not {channels}; write .tif or .npy"
    return None

