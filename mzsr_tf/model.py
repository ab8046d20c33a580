"""The ZSSR/MZSR network: 8 conv 3×3 layers, 64 channels, global residual over the ILR.

Two views of the same weights: a Keras model (saving, export, ONNX) and the pure
``forward(params, x)`` that adaptation differentiates (fast weights are plain
tensors, never assigned to variables).

A kernel-aware network (:mod:`mzsr_tf.kernel_code`) takes the ILR with ``t``
constant code maps after its channels; the residual adds the ILR channels only.
Its Keras model has a second input, the code [N, t], and a :class:`CodeMaps`
layer that stretches it and stores the kernel basis in the weights file.
"""
import keras
import numpy as np
from keras import ops

from . import backend
from .constants import KERNEL_SIZE
from .kernel_code import with_code

DEPTH = 8
WIDTH = 64
CHANNELS = 3


class CodeMaps(keras.layers.Layer):
    """Concatenates the kernel code [N, t] to the ILR as t constant maps; holds the kernel basis.

    The basis (``mean`` [size²], ``basis`` [t, size²]) is not used by the call:
    it is stored as non-trainable weights so that it travels in the weights file.
    """

    def __init__(self, components, kernel_size=KERNEL_SIZE, **kwargs):
        super().__init__(**kwargs)
        self.components, self.kernel_size = int(components), int(kernel_size)
        n = self.kernel_size**2
        self.mean = self.add_weight(shape=(n,), initializer="zeros", trainable=False, name="kernel_mean")
        self.basis = self.add_weight(shape=(self.components, n), initializer="zeros", trainable=False,
                                     name="kernel_basis")

    def call(self, ilr, code):
        return with_code(ilr, code)

    def kernel_pca(self):
        """(mean, basis) as NumPy float32 arrays."""
        return (np.asarray(ops.convert_to_numpy(self.mean.value), np.float32),
                np.asarray(ops.convert_to_numpy(self.basis.value), np.float32))


def build_model(depth=DEPTH, width=WIDTH, channels=CHANNELS, name="mzsr", code_components=0,
                kernel_size=KERNEL_SIZE):
    """Keras model mapping an ILR batch [N, H, W, 3] (and a kernel code [N, t]) to ILR + f(ILR, code).

    Args:
      depth: number of conv layers (ReLU after all but the last).
      width: channels of the hidden layers.
      channels: image channels.
      code_components: t > 0 for a kernel-aware network (inputs ``ilr`` and ``code``).
      kernel_size: side of the kernel grid its basis was fitted on.
    """
    inp = keras.Input((None, None, channels), name="ilr")
    inputs, h = inp, inp
    if code_components:
        code = keras.Input((code_components,), name="code")
        inputs = [inp, code]
        h = CodeMaps(code_components, kernel_size, name="code_maps")(inp, code)
    for i in range(depth):
        last = i == depth - 1
        h = keras.layers.Conv2D(
            channels if last else width,
            3,
            padding="same",
            activation=None if last else "relu",
            kernel_initializer="glorot_uniform",
            name=f"conv{i}",
        )(h)
    out = keras.layers.Add(name="residual")([inp, h])
    return keras.Model(inputs, out, name=name)


def kernel_pca_of(model):
    """The (mean, basis) a kernel-aware Keras model carries, or None."""
    for layer in model.layers:
        if isinstance(layer, CodeMaps):
            return layer.kernel_pca()
    return None


def set_kernel_pca(model, kernel_pca):
    """Stores (mean, basis) in a kernel-aware model's :class:`CodeMaps` layer."""
    layer = next(lay for lay in model.layers if isinstance(lay, CodeMaps))
    layer.mean.assign(kernel_pca[0])
    layer.basis.assign(kernel_pca[1])


def code_components(params):
    """t: the number of code maps the network's first convolution takes beyond the image channels."""
    return int(params[0].shape[2]) - int(params[-2].shape[-1])


def add_code_inputs(params, components):
    """The weights of a network that also takes ``components`` code maps, their input weights zero.

    With zero weights on the new maps the network computes exactly what it did
    before, whatever the code, so training starts from the old model.
    """
    w0 = params[0]
    extra = ops.zeros(tuple(w0.shape[:2]) + (components, int(w0.shape[3])), dtype=w0.dtype)
    return [ops.concatenate([w0, extra], axis=2)] + list(params[1:])


def get_params(model):
    """The model's weights as a list of tensors [w0, b0, ..., w7, b7]."""
    return [ops.convert_to_tensor(v.value) for v in model.trainable_variables]


def set_params(model, params):
    """Assigns a params list back to the model's variables."""
    for v, p in zip(model.trainable_variables, params):
        v.assign(p)


def forward(params, ilr, compute_dtype=None):
    """Pure forward pass: ILR + f(ILR) with the given fast weights.

    Args:
      params: list [w0, b0, ..., wL, bL] of conv kernels [3, 3, in, out] and biases.
      ilr: float tensor [N, H, W, C], or for a kernel-aware network [N, H, W, C + t]
        (:func:`mzsr_tf.kernel_code.with_code`); the residual adds the first C = out channels.
      compute_dtype: None/'float32', or 'bfloat16': the convolutions after the
        first run in bfloat16 (weights cast inside, so gradients still reach
        float32 weights) and the residual is added to the float32 ILR.
    """
    mixed = compute_dtype not in (None, "float32")
    h = ilr
    n = len(params) // 2
    for i in range(n):
        w, b = params[2 * i], params[2 * i + 1]
        if mixed and i:
            w, b = ops.cast(w, compute_dtype), ops.cast(b, compute_dtype)
        h = backend.bias_add(backend.conv_same(h, w), b)
        if i < n - 1:
            h = ops.relu(h)
        if mixed and i == 0:  # the ILR rounded to bfloat16 cost 0.02-0.04 dB; this layer is 0.8 % of the work
            h = ops.cast(h, compute_dtype)
    out = ops.cast(h, ilr.dtype) if mixed else h
    c_out = int(params[-2].shape[-1])
    return (ilr[..., :c_out] if code_components(params) else ilr) + out


def count_params(params):
    total = 0
    for p in params:
        size = 1
        for d in p.shape:
            size *= int(d)
        total += size
    return total
