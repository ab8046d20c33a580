"""Reading and writing images and arrays, with one clear error for each kind of bad input.

One reader, :func:`read_array`, returns a file's data as stored (dtype, channels,
16-bit depth kept; PNG, TIFF, .npy and whatever Pillow opens);
:func:`read_image` builds on it for the float RGB in [0, 1] the networks see, or
the uint8 RGB that training and evaluation use. Whatever had to be converted is
returned as a list of short notes so that the caller can tell the user; whatever
cannot be read raises :class:`~mzsr_tf.errors.InputError` naming the file.
:func:`write_array` writes any dtype and channel count to .png, .tif or .npy.

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
import io as _io
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


OUTPUT_EXTENSIONS = (".png", ".tif", ".tiff", ".npy")


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


def _encode(f, a, fmt, channels_first):
    if fmt == ".npy":
        np.save(f, a, allow_pickle=False)
    elif fmt in (".tif", ".tiff"):
        import tifffile

        data = np.moveaxis(a, -1, 0) if channels_first and a.ndim == 3 else a
        buf = _io.BytesIO()  # tifffile takes a file object's .name for a path; ours has a descriptor there
        tifffile.imwrite(buf, data, photometric="rgb" if a.ndim == 3 and a.shape[-1] in (3, 4) and not channels_first
                         else "minisblack", planarconfig=None if a.ndim == 2 else "separate" if channels_first else "contig")
        f.write(buf.getvalue())
    elif a.dtype == np.uint16 and a.ndim == 3:  # Pillow cannot write 16-bit colour PNGs
        import png

        planes = a.shape[-1]
        png.Writer(a.shape[1], a.shape[0], greyscale=False, alpha=planes == 4, bitdepth=16).write(
            f, a.reshape(a.shape[0], -1))
    else:
        from PIL import Image

        im = Image.fromarray(a) if a.dtype == np.uint8 else Image.fromarray(a.astype(np.uint16), "I;16")
        im.save(f, format="PNG")


def png_problem(a):
    """Why an array cannot be stored in a PNG as it is, or None (uint8/uint16 with 1, 3 or 4 channels)."""
    a = np.asarray(a)
    channels = 1 if a.ndim == 2 else a.shape[-1]
    if a.dtype not in (np.uint8, np.uint16):
        return f"PNG holds 8- or 16-bit integers, not {a.dtype}; write .tif or .npy"
    if a.ndim not in (2, 3) or channels not in (1, 3, 4):
        return f"PNG holds 1, 3 or 4 channels, not {channels}; write .tif or .npy"
    return None


def write_array(path, a, overwrite=False, channels_first=False):
    """Writes an array as it is (dtype and channels kept) to .png, .tif/.tiff or .npy, atomically.

    The file goes to a temporary file in the same folder, which then takes the
    final name (a hard link when ``overwrite`` is False, so a file that appears
    meanwhile is never replaced; ``os.replace`` otherwise). On any error the
    temporary file is removed and an existing file is left as it was.

    Args:
      path: destination; its ending picks the format.
      a: array; PNG takes uint8/uint16 with 1, 3 or 4 channels.
      overwrite: replace an existing file.
      channels_first: write an H×W×C array as a C×H×W TIFF stack.

    Raises:
      InputError: see :func:`check_output`; data the format cannot hold; writing fails.
    """
    path = os.fspath(path)
    check_output(path, overwrite, OUTPUT_EXTENSIONS)
    a = np.ascontiguousarray(a)
    fmt = os.path.splitext(path.lower())[1]
    if fmt == ".png" and png_problem(a):
        raise InputError(f"{path}: {png_problem(a)}")
    folder, tmp = os.path.dirname(os.path.abspath(path)), None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            _encode(f, a, fmt, channels_first)
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
        raise InputError(f"{path}: cannot write ({type(e).__name__}: {e.strerror or e})") from None
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)


def write_image(path, image, overwrite=False):
    """Writes an H×W×3 image as an 8-bit PNG, atomically (see :func:`write_array`).

    Args:
      path: destination, ending in .png.
      image: float [0, 1] (rounded to 8 bits), uint8 or uint16 (÷257) array [H, W, 3].
      overwrite: replace an existing file.

    Raises:
      InputError: see :func:`check_output`; also when writing fails (disk full, permissions).
    """
    check_output(path, overwrite)
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"write_image expects H×W×3, got shape {a.shape}")
    write_array(path, to_uint8(a), overwrite)
