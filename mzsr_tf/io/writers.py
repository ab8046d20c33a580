"""Writing arrays and images atomically: any dtype and channel count to .png, .tif or .npy."""
import io as _io
import os
import tempfile

import numpy as np

from ..errors import InputError
from .checks import OUTPUT_EXTENSIONS, check_output, png_problem


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
