"""ONNX export of the feed-forward pass (no adaptation).

LR float [1, H, W, 3] in [0, 1] -> SR float in [0, 1], the MATLAB resize
included, converted with ``tf2onnx.convert.from_function`` from a
``tf.function`` whose weights are embedded as constants (tf2onnx 1.17 turns
captured eager tensors of a TF 2.21 function into extra graph inputs otherwise).
"""
import os

import numpy as np
import tensorflow as tf

from ..constants import ONNX_OPSET as DEFAULT_OPSET
from ..model import forward
from ..resize import imresize


def feed_forward(params, lr, scale):
    """The feed-forward pass in TensorFlow: clip(forward(params, ILR(lr)), 0, 1), float."""
    return tf.clip_by_value(forward(list(params), imresize(lr, float(scale))), 0.0, 1.0)


def export_onnx(params, path, scale=2, opset=DEFAULT_OPSET, network_only=False):
    """Converts the feed-forward pass to ONNX with tf2onnx.

    Args:
      params: the network's weights [w0, b0, ..., w7, b7].
      path: output ``.onnx`` file.
      scale: SR scale (the resize is part of the graph unless ``network_only``).
      opset: ONNX opset (17 or newer).
      network_only: export just the network ILR -> ILR + f(ILR) (input ``ilr``,
        output ``sr`` not clipped) instead of LR -> clipped SR (input ``lr``).

    Returns:
      dict with the input and output names, the opset and the path.
    """
    import tf2onnx

    if opset < 17:
        raise ValueError(f"opset must be 17 or newer, got {opset}")
    arrays = [np.asarray(p, np.float32) for p in params]
    name = "ilr" if network_only else "lr"

    # The weights become Const nodes inside the trace. tf2onnx 1.17 freezes captured
    # variables, but captured eager tensors (what model.get_params returns) turn into
    # extra graph inputs that onnxruntime then asks to be fed.
    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name=name)], autograph=False)
    def ff(x):
        consts = [tf.constant(a) for a in arrays]
        if network_only:
            return {"sr": forward(consts, x)}
        return {"sr": feed_forward(consts, x, scale)}

    proto, _ = tf2onnx.convert.from_function(ff, input_signature=ff.input_signature, opset=opset,
                                             output_path=os.fspath(path))
    return {"path": os.fspath(path), "opset": opset, "input": name, "output": "sr",
            "inputs": [i.name for i in proto.graph.input], "outputs": [o.name for o in proto.graph.output]}


def onnx_providers():
    """CUDA first where onnxruntime-gpu sees a GPU, always CPU as the fallback."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def onnx_session(path, providers=None):
    """An onnxruntime InferenceSession on the best available provider."""
    import onnxruntime as ort

    return ort.InferenceSession(os.fspath(path), providers=providers or onnx_providers())


def onnx_upscale(session, lr):
    """Runs an exported ONNX model on a float32 [1, H, W, 3] array in [0, 1]."""
    name = session.get_inputs()[0].name
    return session.run(None, {name: np.asarray(lr, np.float32)})[0]
