"""Reading and writing images and arrays, with one clear error for each kind of bad input.

Every image the package works on is float32 H×W×3 in [0, 1]. Whatever had to be
converted to get there (palette, alpha, grayscale, 16-bit, CMYK, ...) is returned
as a list of short notes so that the caller can tell the user; whatever cannot be
read raises :class:`~mzsr_tf.errors.InputError` with a message naming the file.

Size limits (:func:`check_size`), in LR pixels:

- each side at least ``MIN_SON_SIDE · scale`` (the "son" that adaptation learns
  from is the LR image degraded once more, so it has ``side / scale`` pixels a
  side; below 8 there is too little to learn from) and at least the blur kernel's
  side (the blur pads the image symmetrically by half a kernel, which needs that
  many pixels to mirror);
- at most ``MAX_LR_PIXELS`` = 2048 × 2048 pixels in all: adaptation keeps every
  layer's 64-channel activations of the whole image for the gradient (about 4 KB
  per LR pixel) and the ×4 output pass works on 16× as many pixels, so larger
  inputs need tens of GB of memory. Split bigger images into tiles.
"""
import os
import tempfile

import numpy as np

from .errors import InputError

from .constants import MAX_LR_PIXELS, MIN_SON_SIDE
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".ppm", ".pgm", ".pnm", ".npy")

# How far outside [0, 1] float input may stray (bicubic overshoot) before it is
# taken for 0..255 data and refused instead of clipped.
_FLOAT_SLACK = 0.5


_MODE_NAMES = {"1": "1-bit black-and-white", "CMYK": "CMYK", "YCbCr": "YCbCr", "LAB": "Lab", "HSV": "HSV"}


def _fmt_hw(h, w):
    return f"{w}×{h}"


def check_size(h, w, scale, kernel_size=None, source="image"):
    """Refuses images too small for the scale or kernel, or too large to process.

    Args:
      h, w: LR image height and width in pixels.
      scale: SR scale (2 or 4).
      kernel_size: side of the (square or not) blur kernel, or None for no blur;
        a (kh, kw) pair is accepted too.
      source: name used in messages (a file path).

    Raises:
      InputError: a side below ``max(MIN_SON_SIDE · scale, kernel side)`` or more
        than ``MAX_LR_PIXELS`` pixels.
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
    if h * w > MAX_LR_PIXELS:
        raise InputError(
            f"{source}: image is {_fmt_hw(h, w)} pixels ({h * w / 1e6:.1f} MP), more than the "
            f"{MAX_LR_PIXELS / 1e6:.1f} MP (2048×2048) limit; split it into tiles"
        )


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
        a = np.load(path, allow_pickle=False)
    except Exception as e:  # bad header, truncated data, pickled objects
        raise InputError(f"{path}: cannot read .npy array ({type(e).__name__}: {e})") from None
    x, _, notes = as_image_array(a, source=path)
    return x, notes


def read_image(path):
    """Reads an image file (any format Pillow opens, or a .npy array) as float32 RGB in [0, 1].

    Conversions, each reported in the notes: palette → RGB; RGBA/LA → alpha
    dropped (colours kept as stored, not composited onto a background);
    grayscale → replicated to 3 channels; 16-bit grayscale → scaled by 1/65535;
    16-bit RGB PNG → read at 8-bit precision (Pillow's limit); CMYK, YCbCr, LAB,
    1-bit and other modes → converted to RGB; EXIF orientation → applied;
    multi-frame files → first frame. The image size is checked against
    ``MAX_LR_PIXELS`` from the header, before decoding.

    Args:
      path: file path.

    Returns:
      (image, notes): float32 [H, W, 3] in [0, 1], and a list of strings saying
      what was converted (empty when the file was plain 8-bit RGB).

    Raises:
      InputError: missing, empty, not an image, corrupt or truncated, too large,
        or an array that is not an image (see :func:`as_image_array`).
    """
    path = os.fspath(path)
    _check_file(path)
    if path.lower().endswith(".npy"):
        return _read_npy(path)
    from PIL import Image, ImageOps, UnidentifiedImageError

    notes = []
    try:
        with Image.open(path) as im:
            w, h = im.size
            if w * h > MAX_LR_PIXELS:
                raise InputError(
                    f"{path}: image is {_fmt_hw(h, w)} pixels ({h * w / 1e6:.1f} MP), more than the "
                    f"{MAX_LR_PIXELS / 1e6:.1f} MP (2048×2048) limit; split it into tiles"
                )
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                notes.append(f"{frames} frames; the first is used")
            raw = str(im.tile[0].args if im.tile else "")
            if im.mode in ("RGB", "RGBA") and ";16" in raw:
                notes.append("16-bit RGB read at 8-bit precision (Pillow's limit)")
            im.load()
            orientation = im.getexif().get(0x0112, 1)
            if orientation not in (1, None):
                im = ImageOps.exif_transpose(im)
                notes.append(f"EXIF orientation {orientation} applied")
            mode = im.mode
            if mode == "P" or mode == "PA":
                has_alpha = mode == "PA" or "transparency" in im.info
                im = im.convert("RGBA" if has_alpha else "RGB")
                notes.append("palette image converted to RGB")
                mode = im.mode
            if mode in ("RGB", "RGBA", "L"):
                a = np.asarray(im)
            elif mode == "LA":
                a = np.asarray(im.convert("RGBA"))
                notes.append("grayscale replicated to 3 channels")
            elif mode in ("I;16", "I;16B", "I;16L", "I;16N"):
                a = np.asarray(im).astype(np.uint16)
            elif mode == "I":
                a = np.asarray(im)
                if a.min() < 0 or a.max() > 65535:
                    raise InputError(f"{path}: 32-bit integer image with values outside 0..65535; not supported")
                a = a.astype(np.uint16)
            elif mode == "F":
                a = np.asarray(im, dtype=np.float32)
            else:  # CMYK, YCbCr, LAB, HSV, 1, RGBX, La, RGBa, ...
                im = im.convert("RGB")
                notes.append(f"{_MODE_NAMES.get(mode, mode)} image converted to RGB")
                a = np.asarray(im)
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
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as e:
        raise InputError(f"{path}: corrupt or truncated image ({type(e).__name__}: {e})") from None
    x, _, more = as_image_array(a, source=path)
    notes.extend(more)
    return x, notes


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def to_uint8(image):
    """Float [0, 1] (clipped, rounded) or uint8 array → uint8 H×W×3."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:
        return np.round(a.astype(np.float32) / 257.0).astype(np.uint8)
    return np.round(np.clip(a.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def check_output(path, overwrite=False):
    """Refuses an output path that cannot or must not be written, before any work.

    Args:
      path: the PNG file to write.
      overwrite: allow replacing an existing file.

    Raises:
      InputError: not ending in .png, a folder, existing without ``overwrite``,
        or its folder missing.
    """
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise InputError(f"{path}: output must be a .png file")
    if os.path.isdir(path):
        raise InputError(f"{path}: output is a folder, not a file")
    if os.path.exists(path) and not overwrite:
        raise InputError(f"{path}: output exists; pass --overwrite (overwrite=True) to replace it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InputError(f"{path}: output folder {parent} does not exist")


def write_image(path, image, overwrite=False):
    """Writes an H×W×3 image as an 8-bit PNG, atomically.

    The PNG goes to a temporary file in the same folder, which then takes the
    final name (a hard link when ``overwrite`` is False, so a file that appears
    meanwhile is never replaced; ``os.replace`` otherwise). On any error the
    temporary file is removed and an existing file is left as it was.

    Args:
      path: destination, ending in .png.
      image: float [0, 1] (rounded to 8 bits), uint8 or uint16 array [H, W, 3].
      overwrite: replace an existing file.

    Raises:
      InputError: see :func:`check_output`; also when writing fails (disk full,
        permissions).
    """
    from PIL import Image

    path = os.fspath(path)
    check_output(path, overwrite)
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"write_image expects H×W×3, got shape {a.shape}")
    a = to_uint8(a)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(a, "RGB").save(f, format="PNG")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise InputError(f"{path}: output exists; pass --overwrite (overwrite=True) to replace it") from None
            except OSError:  # file systems without hard links
                if os.path.exists(path):
                    raise InputError(f"{path}: output exists; pass --overwrite (overwrite=True) to replace it") from None
                os.replace(tmp, path)
    except InputError:
        raise
    except OSError as e:
        raise InputError(f"{path}: cannot write ({type(e).__name__}: {e})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
