"""Reading images and arrays: :func:`read_array` (the one reader) and the float/uint8 RGB views of it.

:func:`read_array` returns a file's data as stored (dtype, channels, 16-bit
depth kept; PNG, TIFF, .npy and whatever Pillow opens); :func:`read_image`
builds on it for the float RGB in [0, 1] the networks see, or the uint8 RGB
that training and evaluation use. Whatever had to be converted is returned as
a list of short notes so that the caller can tell the user; whatever cannot be
read raises :class:`~mzsr_tf.errors.InputError` naming the file.
"""
import os

import numpy as np

from ..errors import InputError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm", ".pgm", ".pnm", ".npy")

# How far outside [0, 1] float input may stray (bicubic overshoot) before it is
# taken for 0..255 data and refused instead of clipped.
_FLOAT_SLACK = 0.5


_MODE_NAMES = {"1": "1-bit black-and-white", "CMYK": "CMYK", "YCbCr": "YCbCr", "LAB": "Lab", "HSV": "HSV"}


def as_image_array(array, source="array"):
    """Validates an array as an image and converts it to float32 H×W×3 in [0, 1].

    Accepted: H×W (grayscale), H×W×1, H×W×3, H×W×4 (alpha dropped); dtype uint8
    (0..255), uint16 (0..65535) or float in [0, 1] (values up to 0.5 outside are
    clipped, with a note).

    Args:
      array: array-like.
      source: name used in messages.

    Returns:
      (image, kind, notes): image float32 [H, W, 3]; kind 'uint8', 'uint16' or
      'float' (the input's dtype family); notes a list of strings saying what
      was converted.

    Raises:
      InputError: wrong shape, dtype, NaN/Inf, or values far outside [0, 1].
    """
    a = np.asarray(array)
    notes = []
    if a.dtype == object or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise InputError(f"{source}: image array has dtype {a.dtype}; expected uint8, uint16 or float")
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        raise InputError(
            f"{source}: image array has shape {a.shape}, which looks channels-first; "
            "expected H×W×3 (transpose it)"
        )
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise InputError(f"{source}: image array has shape {a.shape}; expected H×W, H×W×1, H×W×3 or H×W×4")
    if min(a.shape[:2]) < 1:
        raise InputError(f"{source}: image array is empty (shape {a.shape})")
    if a.dtype == np.uint8:
        kind, x = "uint8", a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        kind, x = "uint16", a.astype(np.float32) / 65535.0
        notes.append("16-bit values scaled to [0, 1] (÷65535)")
    elif np.issubdtype(a.dtype, np.floating):
        kind, x = "float", a.astype(np.float32)
        if not np.all(np.isfinite(x)):
            raise InputError(f"{source}: image array has NaN or Inf values")
        lo, hi = float(x.min()), float(x.max())
        if lo < -_FLOAT_SLACK or hi > 1.0 + _FLOAT_SLACK:
            raise InputError(
                f"{source}: float image values span [{lo:.4g}, {hi:.4g}]; expected [0, 1]"
                + (" (divide 0..255 data by 255)" if hi <= 255.0 + 1e-3 else "")
            )
        if lo < 0.0 or hi > 1.0:
            notes.append(f"values in [{lo:.3g}, {hi:.3g}] clipped to [0, 1]")
            x = np.clip(x, 0.0, 1.0)
    else:
        raise InputError(
            f"{source}: integer image array of dtype {a.dtype}; pass uint8 (0..255), "
            "uint16 (0..65535) or float in [0, 1]"
        )
    if x.shape[-1] == 4:
        opaque = bool(np.all(x[..., 3] >= 1.0))
        notes.append("alpha channel dropped" + (" (fully opaque)" if opaque else " (colours kept as stored, not composited)"))
        x = x[..., :3]
    elif x.shape[-1] == 1:
        notes.append("grayscale replicated to 3 channels")
        x = np.repeat(x, 3, axis=-1)
    return np.ascontiguousarray(x, dtype=np.float32), kind, notes


def _check_file(path):
    if not os.path.exists(path):
        raise InputError(f"{path}: file not found")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a folder, not an image file")
    if os.path.getsize(path) == 0:
        raise InputError(f"{path}: file is empty")


_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF8": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


def _signature(path):
    """The image format a file's first bytes announce, or None."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _SIGNATURES.items() if head.startswith(magic)), None)


def _read_npy(path):
    try:
        return np.load(path, allow_pickle=False)
    except Exception as e:  # bad header, truncated data, pickled objects
        raise InputError(f"{path}: cannot read .npy array ({type(e).__name__}: {e})") from None


def _read_tiff(path, notes):
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        a, axes = series.asarray(), series.axes
        if len(tif.series) > 1 or len(series.pages) > 1 and "Q" not in axes and "C" not in axes and "S" not in axes:
            notes.append(f"{len(tif.series)} series; the first is used")
    if a.ndim == 3 and axes[-2:] == "YX":  # planar channels (C×H×W): channels last, like every other reader
        a = np.moveaxis(a, 0, -1)
        notes.append("channels-first TIFF stack read as H×W×C (written back the same way)")
    elif a.ndim > 3 or (a.ndim == 3 and axes[:2] != "YX"):
        raise InputError(f"{path}: TIFF of shape {a.shape} (axes {axes}); expected one H×W(×C) image or a C×H×W stack")
    return a


def _read_png16(path):
    import png

    w, h, rows, info = png.Reader(filename=path).asDirect()
    planes = info["planes"]
    a = np.vstack([np.asarray(r, np.uint16) for r in rows]).reshape(h, w, planes)
    return a[..., 0] if planes == 1 else a


def _png_depth(path):
    with open(path, "rb") as f:
        head = f.read(26)
    return head[24] if head.startswith(b"\x89PNG") and len(head) == 26 else None


def _read_pillow(path, notes):
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        frames = getattr(im, "n_frames", 1)
        if frames > 1:
            notes.append(f"{frames} frames; the first is used")
        im.load()
        orientation = im.getexif().get(0x0112, 1)
        if orientation not in (1, None):
            im = ImageOps.exif_transpose(im)
            notes.append(f"EXIF orientation {orientation} applied")
        mode = im.mode
        if mode in ("P", "PA"):
            im = im.convert("RGBA" if mode == "PA" or "transparency" in im.info else "RGB")
            notes.append("palette image converted to RGB")
            mode = im.mode
        if mode in ("RGB", "RGBA", "L", "F"):
            return np.asarray(im)
        if mode == "LA":
            notes.append("grayscale with alpha expanded to RGBA")
            return np.asarray(im.convert("RGBA"))
        if mode.startswith("I;16"):
            return np.asarray(im).astype(np.uint16)
        if mode == "I":
            a = np.asarray(im)
            return a.astype(np.uint16) if a.min() >= 0 and a.max() <= 65535 else a
        notes.append(f"{_MODE_NAMES.get(mode, mode)} image converted to RGB")
        return np.asarray(im.convert("RGB"))


def read_array(path):
    """Reads a file's data as stored: dtype, bit depth and channels kept.

    .npy (any H×W or H×W×N numeric array), TIFF (any dtype; a C×H×W stack is
    returned as H×W×C), 16-bit PNG (gray, RGB, RGBA), and every format Pillow
    opens (palette and exotic modes converted to RGB, EXIF orientation applied,
    first frame of animations; each reported in the notes).

    Args:
      path: file path.

    Returns:
      (array, notes): H×W or H×W×C array, and a list of strings saying what was converted.

    Raises:
      InputError: missing, empty, not an image, corrupt or truncated.
    """
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    _check_file(path)
    notes, low = [], path.lower()
    try:
        if low.endswith(".npy"):
            a = _read_npy(path)
        elif low.endswith((".tif", ".tiff")) and _signature(path) == "TIFF":
            a = _read_tiff(path, notes)
        elif low.endswith(".png") and _png_depth(path) == 16:
            a = _read_png16(path)
        else:
            a = _read_pillow(path, notes)
    except InputError:
        raise
    except UnidentifiedImageError:
        kind = _signature(path)
        if kind:
            raise InputError(f"{path}: corrupt {kind} file (its header says {kind} but it cannot be decoded)") from None
        raise InputError(f"{path}: not an image (or a format Pillow cannot read)") from None
    except PermissionError:
        raise InputError(f"{path}: cannot read (permission denied)") from None
    except Image.DecompressionBombError as e:
        raise InputError(f"{path}: image is too large ({e})") from None
    except Exception as e:  # codecs raise many types for corrupt data; none is a programming error of ours
        what = f"{_signature(path)} file" if _signature(path) else "image"
        raise InputError(f"{path}: corrupt {what}, or truncated ({type(e).__name__}: {e})") from None
    return a, notes


def to_rgb_uint8(a, source="array"):
    """Any image array as uint8 H×W×3 (training and evaluation): 16-bit ÷257, float ×255, gray
    replicated, alpha dropped; returns (image, notes)."""
    x, _, notes = as_image_array(a, source)
    return np.round(x * 255.0).astype(np.uint8), notes


def read_image(path, mode="float"):
    """Reads an image file as RGB for the network (``mode='float'``: float32 in [0, 1]) or for
    training and evaluation (``mode='uint8'``).

    The data comes from :func:`read_array`; then 16-bit is scaled by 1/65535,
    grayscale replicated to 3 channels, alpha dropped (colours as stored, not
    composited), each reported in the notes. To keep depth, channels and range,
    use :func:`read_array` with :mod:`mzsr_tf.arrays`.

    Returns:
      (image, notes): [H, W, 3] float32 in [0, 1] (or uint8), and the notes.

    Raises:
      InputError: see :func:`read_array` and :func:`as_image_array`.
    """
    a, notes = read_array(path)
    if mode == "uint8":
        x, more = to_rgb_uint8(a, source=os.fspath(path))
    else:
        x, _, more = as_image_array(a, source=os.fspath(path))
    return x, notes + more

