"""The ZSSR/MZSR network: 8 conv 3×3 layers, 64 channels, global residual over the ILR.

Two views of the same weights: a Keras model (saving, export, ONNX) and the pure
``forward(params, ilr)`` that adaptation differentiates (fast weights are plain
tensors, never assigned to variables).
"""
import keras
from keras import ops

from . import backend

DEPTH = 8
WIDTH = 64
CHANNELS = 3


def build_model(depth=DEPTH, width=WIDTH, channels=CHANNELS, name="mzsr"):
    """Keras model mapping an ILR batch [N, H, W, 3] to ILR + f(ILR).

    Args:
      depth: number of conv layers (ReLU after all but the last).
      width: channels of the hidden layers.
      channels: image channels.
    """
    inp = keras.Input((None, None, channels), name="ilr")
    h = inp
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
    return keras.Model(inp, out, name=name)


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
      ilr: float tensor [N, H, W, 3].
      compute_dtype: None/'float32', or 'bfloat16': the convolutions run in
        bfloat16 (weights cast inside, so gradients still reach float32 weights)
        and the residual is added to the float32 ILR.
    """
    mixed = compute_dtype not in (None, "float32")
    h = ops.cast(ilr, compute_dtype) if mixed else ilr
    n = len(params) // 2
    for i in range(n):
        w, b = params[2 * i], params[2 * i + 1]
        if mixed:
            w, b = ops.cast(w, compute_dtype), ops.cast(b, compute_dtype)
        h = backend.bias_add(backend.conv_same(h, w), b)
        if i < n - 1:
            h = ops.relu(h)
    return ilr + (ops.cast(h, ilr.dtype) if mixed else h)


def count_params(params):
    total = 0
    for p in params:
        size = 1
        for d in p.shape:
            size *= int(d)
        total += size
    return total
