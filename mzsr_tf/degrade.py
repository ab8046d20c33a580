"""The degradation model I_LR = (I_HR * k)↓s + n, as ``keras.ops`` on NHWC batches.

All functions run eagerly, inside ``tf.data`` and inside a SavedModel under the
TensorFlow backend, and under ``jax.jit`` under JAX.
"""
import keras
from keras import ops

from .constants import SUBSAMPLINGS
from .resize import imresize



def blur(x, kernel):
    """Correlates each channel with ``kernel`` using symmetric (scipy 'reflect') padding.

    Args:
      x: float tensor [N, H, W, C].
      kernel: float tensor [kh, kw]; centre at (kh//2, kw//2) like scipy.ndimage.

    Returns:
      tensor of the same shape as ``x``.
    """
    x = ops.cast(x, "float32")
    kernel = ops.cast(kernel, "float32")
    kh, kw = ops.shape(kernel)[0], ops.shape(kernel)[1]
    channels = ops.shape(x)[-1]
    ph, pw = kh // 2, kw // 2
    x = ops.pad(x, [[0, 0], [ph, kh - 1 - ph], [pw, kw - 1 - pw], [0, 0]], mode="symmetric")
    dw = ops.tile(kernel[:, :, None, None], [1, 1, channels, 1])
    return ops.depthwise_conv(x, dw, strides=1, padding="valid")


def subsample_direct(x, scale):
    """Keeps pixels [0::s, 0::s] (no kernel shift)."""
    return x[:, ::scale, ::scale, :]


def subsample_bicubic(x, scale):
    """MATLAB-style bicubic downscale by 1/s."""
    return imresize(x, 1.0 / scale)


def add_noise(x, sigma, seed):
    """Adds white Gaussian noise of standard deviation ``sigma`` (same units as x)."""
    return x + sigma * keras.random.normal(ops.shape(x), seed=seed)


def quantize(x):
    """Rounds [0, 1] values to the 8-bit grid, as saving to PNG would."""
    return ops.round(ops.clip(x, 0.0, 1.0) * 255.0) / 255.0


def degrade(x, scale, kernel=None, subsampling="direct", noise_sigma=0.0, seed=None, round_uint8=False):
    """Blur (optional), subsample, add noise (optional), optionally round to uint8.

    Args:
      x: float tensor [N, H, W, C] in [0, 1].
      scale: integer scale s.
      kernel: [k, k] tensor, or None for no blur.
      subsampling: 'direct' or 'bicubic'.
      noise_sigma: noise standard deviation on the [0, 1] scale.
      seed: noise seed (int or ``keras.random.SeedGenerator``).
      round_uint8: round the result to the 8-bit grid.
    """
    if subsampling not in SUBSAMPLINGS:
        raise ValueError(f"subsampling must be one of {SUBSAMPLINGS}, got {subsampling!r}")
    y = blur(x, kernel) if kernel is not None else ops.cast(x, "float32")
    y = subsample_direct(y, scale) if subsampling == "direct" else subsample_bicubic(y, scale)
    if noise_sigma:
        y = add_noise(y, noise_sigma, seed)
    return quantize(y) if round_uint8 else y
