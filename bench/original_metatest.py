"""The original MZSR code's meta-test arithmetic, rebuilt as a plain TF graph for side-by-side timing.

Not part of the package and not the original code: a reproduction, written
from the paper's description of Algorithm 2 and of that code's structure, of
what its test step computes and where it computes it:

- the son (blur with symmetric padding, then keep pixels [0::s, 0::s]) and both
  MATLAB-style bicubic resizes run in NumPy, in float64 as a MATLAB port does;
- the network is eight 3×3 convolutions with ``tf.nn.bias_add``, ReLU after
  the first seven, and the global residual, on ``tf.Variable`` weights;
- each of the n steps is one call (the TF1 code's session run) of a compiled
  plain-SGD step on L1(f(ILR(son)), LR), fed NumPy arrays and its step size;
- the upscale is one more call of a compiled forward on ILR(LR), clipped in NumPy.

Shapes are left open in both compiled functions, as the placeholders of a
TF1 graph are, so any image size runs the same graph.
"""
import math

import numpy as np
import tensorflow as tf
from scipy import ndimage


def _cubic(x):
    # Keys' cubic convolution kernel, a = -0.5 (MATLAB's 'bicubic').
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


def _contributions(in_len, out_len, scale):
    """Per output pixel: the input indices it reads and their weights (MATLAB's imresize rules)."""
    antialias = scale < 1.0
    width = 4.0 / scale if antialias else 4.0
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)  # 1-based input coordinate of output pixel x
    left = np.floor(u - width / 2.0)
    ind = left[:, None] + np.arange(int(math.ceil(width)) + 2)[None, :]
    dist = u[:, None] - ind
    w = scale * _cubic(scale * dist) if antialias else _cubic(dist)
    w /= w.sum(axis=1, keepdims=True)
    idx = np.mod(ind - 1, 2 * in_len)  # symmetric padding: mirror with period 2n, edge repeated
    idx = np.where(idx < in_len, idx, 2 * in_len - 1 - idx).astype(np.int64)
    keep = np.any(w != 0, axis=0)  # taps no output pixel uses would cost time for nothing
    return w[:, keep], idx[:, keep]


def imresize(img, scale, out_hw=None):
    """MATLAB ``imresize(img, scale, 'bicubic')`` of an [H, W, C] array, in float64.

    Args:
      img: [H, W, C] array.
      scale: resize factor (2, 0.5, ...), the same along both axes.
      out_hw: (H', W') instead of ceil(H·scale), ceil(W·scale).
    """
    out = np.asarray(img, np.float64)
    h, w = out.shape[:2]
    if out_hw is None:
        out_hw = (int(math.ceil(h * scale - 1e-9)), int(math.ceil(w * scale - 1e-9)))
    for axis, (n_in, n_out) in enumerate(zip((h, w), out_hw)):
        wts, idx = _contributions(n_in, n_out, scale)
        taken = np.take(out, idx, axis=axis)  # the axis becomes (n_out, taps)
        shape = [1] * taken.ndim
        shape[axis], shape[axis + 1] = wts.shape
        out = (taken * wts.reshape(shape)).sum(axis=axis + 1)
    return out


def son(lr, kernel, scale):
    """Direct degradation: correlate each channel with ``kernel`` (scipy 'reflect'), keep [0::s, 0::s]."""
    lr = np.asarray(lr, np.float64)
    blurred = np.stack([ndimage.correlate(lr[..., c], kernel, mode="reflect") for c in range(lr.shape[-1])], -1)
    return blurred[::scale, ::scale]


class OriginalMetaTest:
    """Algorithm 2 the way the original TF1 meta-test runs it: NumPy around one compiled step and one forward.

    Args:
      params: the network weights [w0, b0, ..., w7, b7] (arrays or tensors).
      scale: SR scale.
      kernel: [k, k] blur kernel of the LR image (direct subsampling).
    """

    def __init__(self, params, scale, kernel):
        self.scale = int(scale)
        self.kernel = np.asarray(kernel, np.float64)
        self.initial = [np.asarray(p, np.float32) for p in params]
        self.weights = [tf.Variable(p) for p in self.initial]
        image = tf.TensorSpec([None, None, None, 3], tf.float32)
        self._step = tf.function(self._step_fn, input_signature=[image, image, tf.TensorSpec([], tf.float32)])
        self._forward = tf.function(self._net, input_signature=[image])

    def _net(self, x):
        h = x
        n = len(self.weights) // 2
        for i in range(n):
            h = tf.nn.bias_add(tf.nn.conv2d(h, self.weights[2 * i], 1, "SAME"), self.weights[2 * i + 1])
            if i < n - 1:
                h = tf.nn.relu(h)
        return x + h

    def _step_fn(self, x, y, step_size):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(self._net(x) - y))
        grads = tape.gradient(loss, self.weights)
        for v, g in zip(self.weights, grads):
            # The op a TF1 GradientDescentOptimizer runs on each variable.
            tf.raw_ops.ResourceApplyGradientDescent(var=v.handle, alpha=step_size, delta=g)
        return loss

    def reset(self):
        """Back to the meta-learned weights (the original restores its checkpoint before each image)."""
        for v, p in zip(self.weights, self.initial):
            v.assign(p)

    def __call__(self, lr, step_sizes):
        """Adapts to ``lr`` with one step per entry of ``step_sizes``, then returns the clipped SR image.

        Args:
          lr: float [H, W, 3] in [0, 1].
          step_sizes: per-step sizes (its length is the number of steps).

        Returns:
          float32 [s·H, s·W, 3] NumPy array.
        """
        self.reset()
        lr = np.asarray(lr, np.float32)
        if len(step_sizes):
            ilr_son = imresize(son(lr, self.kernel, self.scale), self.scale, out_hw=lr.shape[:2])
            x, y = ilr_son[None].astype(np.float32), lr[None]
            for a in step_sizes:
                self._step(x, y, np.float32(a))
        ilr = imresize(lr, self.scale)[None].astype(np.float32)
        return np.clip(self._forward(ilr).numpy()[0], 0.0, 1.0)
