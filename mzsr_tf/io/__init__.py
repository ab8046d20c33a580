"""Reading and writing images and arrays, with one clear error for each kind of bad input.

- :mod:`.readers`: :func:`read_array` returns a file's data as stored (dtype,
  channels, 16-bit depth kept; PNG, TIFF, .npy and whatever Pillow opens);
  :func:`read_image` and :func:`as_image_array` give the float RGB in [0, 1] the
  networks see, :func:`to_rgb_uint8` the uint8 RGB of training and evaluation.
  Conversions come back as short notes; unreadable input raises
  :class:`~mzsr_tf.errors.InputError` naming the file.
- :mod:`.writers`: :func:`write_array` writes any dtype and channel count to
  .png, .tif or .npy atomically; :func:`write_image` an 8-bit RGB PNG.
- :mod:`.checks`: :func:`check_size` (what a method can take),
  :func:`check_output` / :func:`check_writable` (destinations, before any work)
  and :func:`png_problem`.
"""
from .checks import OUTPUT_EXTENSIONS, check_output, check_size, check_writable, png_problem
from .readers import IMAGE_EXTENSIONS, as_image_array, read_array, read_image, to_rgb_uint8
from .writers import to_uint8, write_array, write_image

__all__ = [
    "IMAGE_EXTENSIONS", "OUTPUT_EXTENSIONS", "as_image_array", "check_output", "check_size", "check_writable",
    "png_problem", "read_array", "read_image", "to_rgb_uint8", "to_uint8", "write_array", "write_image",
]
