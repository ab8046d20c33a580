"""Paths, decoding, PNG encoding and atomic writes on any filesystem Beam knows.

Local paths go through :mod:`mzsr_tf.io` and the OS directly (hard links make a
write that never replaces an existing file); other filesystems (``gs://``,
``s3://``, ...) through Beam's ``FileSystems``, staging remote inputs and kernels
in a local temporary file so the package's readers and messages apply unchanged.
"""
import os
import shutil
import tempfile
import uuid

import numpy as np

from ..errors import InputError
from ..io import IMAGE_EXTENSIONS, as_image_array, read_array, to_uint8

GLOB_CHARS = "*?["
KERNEL_EXTENSIONS = (".npy", ".mat", ".png", ".pgm", ".tif", ".tiff", ".bmp")


def _fs():
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


def is_local(path):
    """True for a path on the local disk (no URL scheme)."""
    return _fs().get_scheme(os.fspath(path)) is None


def join(folder, *parts):
    """``folder/part/...`` on the folder's filesystem."""
    return _fs().join(folder, *parts)


def plan_input(text):
    """Turns ``--input`` into a Beam match pattern and the prefix outputs are relative to.

    A folder (a local directory, or any path ending in ``/``) means every image
    file below it, recursively; a glob or a single file is taken as given.

    Args:
      text: the ``--input`` argument.

    Returns:
      (pattern, base, folder): the pattern to match, the prefix cut from each
      match to get its relative path, and whether the input was a folder.
    """
    text = os.fspath(text)
    if not any(c in text for c in GLOB_CHARS):
        if text.endswith("/") or (is_local(text) and os.path.isdir(text)):
            base = text.rstrip("/") + "/"
            return base + "**", base, True
        return text, text[: text.rfind("/") + 1], False
    first = min(text.index(c) for c in GLOB_CHARS if c in text)
    return text, text[: text[:first].rfind("/") + 1], False


def wanted(path, folder, output_dir):
    """Whether a matched path is an input: not a hidden file, not under the output folder,
    and (for a folder input, where everything below is matched) an image name."""
    name = path.rsplit("/", 1)[-1]
    out = output_dir.rstrip("/") + "/"
    if name.startswith(".") or path.startswith(out):
        return False
    return not folder or name.lower().endswith(IMAGE_EXTENSIONS)


def output_path(src, base, output_dir):
    """``output_dir/<src relative to base, extension replaced by .png>``."""
    rel = src[len(base):] if src.startswith(base) else src.rsplit("/", 1)[-1]
    return join(output_dir, os.path.splitext(rel)[0] + ".png")


def stem(path):
    """The file name without folder and extension (how kernels are matched to images)."""
    return os.path.splitext(path.rsplit("/", 1)[-1])[0]


def exists(path):
    return os.path.exists(path) if is_local(path) else _fs().exists(path)


class _Staged:
    """A local copy of a (possibly remote) file for the duration of a ``with`` block."""

    def __init__(self, path):
        self.path = path
        self.local = path if is_local(path) else None
        self._tmp = None

    def __enter__(self):
        if self.local is None:
            fd, self._tmp = tempfile.mkstemp(suffix=os.path.splitext(self.path)[1].lower())
            from apache_beam.io.filesystem import CompressionTypes

            # Byte for byte: Beam would otherwise inflate a name ending in .gz or .bz2.
            with os.fdopen(fd, "wb") as out, _fs().open(self.path, compression_type=CompressionTypes.UNCOMPRESSED) as src:
                shutil.copyfileobj(src, out)
            self.local = self._tmp
        return self.local

    def __exit__(self, *exc):
        if self._tmp and os.path.exists(self._tmp):
            os.unlink(self._tmp)

    def rename_error(self, e):
        """The InputError with the temporary name replaced by the real one."""
        return InputError(str(e).replace(self._tmp, self.path)) if self._tmp else e


def decode(path):
    """Reads an image as uint8 H×W×3 (what the SavedModel takes) and its stored bit depth.

    Args:
      path: local or remote image file (any format ``mzsr_tf.io.read_array`` reads).

    Returns:
      (image, bits): uint8 [H, W, 3], and 16 for 16-bit inputs, else 8.

    Raises:
      InputError: missing, corrupt or unsupported file (the message names ``path``).
    """
    staged = _Staged(path)
    try:
        with staged as local:
            stored, _ = read_array(local)
        image, _, _ = as_image_array(stored, source=path)
    except InputError as e:
        raise staged.rename_error(e) from None
    return to_uint8(image), 16 if stored.dtype == np.uint16 else 8


def load_kernel_file(path, warn=None):
    """``kernels.load_kernel`` on a local or remote kernel file."""
    from ..kernels import load_kernel

    staged = _Staged(path)
    try:
        with staged as local:
            return load_kernel(local, warn=warn)
    except InputError as e:
        raise staged.rename_error(e) from None


def kernels_by_stem(folder, warn=None):
    """Every kernel file in ``folder`` (not recursive), loaded and validated, by file stem.

    Raises:
      InputError: no kernel files, two files with one stem, or an invalid kernel.
    """
    from apache_beam.io.filesystem import BeamIOError

    pattern = join(folder.rstrip("/"), "*")
    try:
        matches = _fs().match([pattern])[0].metadata_list
    except (BeamIOError, ValueError) as e:
        raise InputError(f"{folder}: cannot list kernels ({e})") from None
    paths = sorted(m.path for m in matches if m.path.lower().endswith(KERNEL_EXTENSIONS)
                   and not m.path.rsplit("/", 1)[-1].startswith("."))
    if not paths:
        raise InputError(f"{folder}: no kernel files ({', '.join(KERNEL_EXTENSIONS)})")
    found, source = {}, {}
    for p in paths:
        s = stem(p)
        if s in found:
            raise InputError(f"{source[s]} and {p}: two kernels for the images named {s!r}; keep one")
        found[s], source[s] = load_kernel_file(p, warn=warn), p
    return found


def encode_png(sr, bits=8):
    """PNG bytes of a uint8 H×W×3 image; 16-bit (each value × 257) when ``bits`` is 16."""
    import tensorflow as tf

    a = np.asarray(sr, np.uint8)
    if bits == 16:
        a = a.astype(np.uint16) * np.uint16(257)  # 0..255 onto 0..65535 exactly (255·257 = 65535)
    return tf.io.encode_png(a).numpy()


def write_new(path, data):
    """Writes ``data`` to ``path`` atomically and never over an existing file.

    The bytes go to a hidden temporary file in the destination folder, which
    then takes the final name, so a reader (or a rerun after a crash) sees
    either no file or the whole PNG.

    Returns:
      True when written, False when ``path`` already existed (nothing changed).
    """
    if not is_local(path):
        return _write_new_remote(path, data)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        try:
            os.link(tmp, path)  # fails if the name exists: a file that appeared meanwhile is kept
        except FileExistsError:
            return False
        except OSError:  # file systems without hard links
            if os.path.exists(path):
                return False
            os.replace(tmp, path)
        return True
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_new_remote(path, data):
    # Object stores publish an object only when its upload completes; the
    # temporary name keeps a failed upload from ever carrying the final name.
    fs = _fs()
    folder, name = path.rsplit("/", 1)
    tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
    with fs.create(tmp, mime_type="image/png") as f:
        f.write(data)
    try:
        if fs.exists(path):
            return False
        fs.rename([tmp], [path])
        return True
    finally:
        if fs.exists(tmp):
            fs.delete([tmp])
