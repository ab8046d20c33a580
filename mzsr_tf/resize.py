"""MATLAB-style bicubic ``imresize`` on dynamic shapes, written with ``keras.ops``.

Cubic convolution (a = -0.5, support 4); when downscaling the kernel is
stretched by 1/scale (antialiasing) and each row of weights normalised; taps
outside the image use symmetric (mirror, edge-repeating) indexing; output pixel
x (1-based) maps to input u = x/scale + 0.5·(1 - 1/scale). The resize is
separable, so it is two matrix products with [out, in] weight matrices.
"""
import math

from keras import ops


def cubic(x):
    """Keys' cubic convolution kernel with a = -0.5."""
    ax = ops.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    near = ops.cast(ax <= 1.0, x.dtype)
    far = ops.cast(ops.logical_and(ax > 1.0, ax <= 2.0), x.dtype)
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * near + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * far


def resize_matrix(in_len, out_len, scale):
    """Weight matrix W [out_len, in_len] so that ``W @ signal`` is the 1-D resize.

    Args:
      in_len, out_len: lengths (ints or scalar tensors).
      scale: Python float, out/in.
    """
    antialias = scale < 1.0
    width = 4.0 / scale if antialias else 4.0
    taps = int(math.ceil(width)) + 2
    x = ops.cast(ops.arange(out_len), "float32") + 1.0
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = ops.floor(u - width / 2.0)
    ind = left[:, None] + ops.cast(ops.arange(taps), "float32")[None, :]  # 1-based
    dist = u[:, None] - ind
    w = scale * cubic(scale * dist) if antialias else cubic(dist)
    w = w / ops.sum(w, axis=1, keepdims=True)
    n = ops.cast(in_len, "float32")
    # Mirror into [0, n) with period 2n: n, n+1, ... map back to n-1, n-2, ...
    idx = ops.mod(ind - 1.0, 2.0 * n)
    idx = ops.where(idx < n, idx, 2.0 * n - 1.0 - idx)
    cols = ops.cast(ops.arange(in_len), "float32")
    hit = ops.cast(ops.equal(idx[:, :, None], cols[None, None, :]), "float32")
    return ops.sum(w[:, :, None] * hit, axis=1)


def output_size(in_len, scale):
    """ceil(in_len · scale), as MATLAB computes it (works on tensors and ints)."""
    if isinstance(in_len, int):
        return int(math.ceil(in_len * scale - 1e-9))
    return ops.cast(ops.ceil(ops.cast(in_len, "float32") * scale - 1e-4), "int32")


def imresize(x, scale, out_hw=None):
    """MATLAB ``imresize(x, scale, 'bicubic')`` on an NHWC float batch.

    Args:
      x: float tensor [N, H, W, C] (values are not clipped or rounded).
      scale: Python float, e.g. 2, 4, 0.5, 0.25.
      out_hw: optional (H', W') overriding ceil(H·scale), ceil(W·scale).

    Returns:
      float32 tensor [N, H', W', C].
    """
    x = ops.cast(x, "float32")
    shape = ops.shape(x)
    h, w = shape[1], shape[2]
    if out_hw is None:
        out_hw = (output_size(h, scale), output_size(w, scale))
    wh = resize_matrix(h, out_hw[0], float(scale))
    ww = resize_matrix(w, out_hw[1], float(scale))
    y = ops.einsum("ih,nhwc->niwc", wh, x)
    return ops.einsum("jw,niwc->nijc", ww, y)
