"""ONNX export of the feed-forward pass (no adaptation).

LR float [1, H, W, 3] in [0, 1] -> SR float in [0, 1], the MATLAB resize
included, converted with ``tf2onnx.convert.from_function`` from a
``tf.function`` whose weights are embedded as constants (tf2onnx 1.17 turns
captured eager tensors of a TF 2.21 function into extra graph inputs otherwise).
"""
import logging
import os

import numpy as np
import tensorflow as tf

from ..constants import ONNX_OPSET as DEFAULT_OPSET
from ..kernel_code import with_code
from ..model import code_components, forward
from ..resize import imresize


def feed_forward(params, lr, scale, code=None):
    """The feed-forward pass in TensorFlow: clip(forward(params, ILR(lr) [+ code maps]), 0, 1), float."""
    return tf.clip_by_value(forward(list(params), with_code(imresize(lr, float(scale)), code)), 0.0, 1.0)


def export_onnx(params, path, scale=2, opset=DEFAULT_OPSET, network_only=False):
    """Converts the feed-forward pass to ONNX with tf2onnx.

    Args:
      params: the network's weights [w0, b0, ..., w7, b7].
      path: output ``.onnx`` file.
      scale: SR scale (the resize is part of the graph unless ``network_only``).
      opset: ONNX opset (17 or newer).
      network_only: export just the network ILR -> ILR + f(ILR) (input ``ilr``,
        output ``sr`` not clipped) instead of LR -> clipped SR (input ``lr``).

    A kernel-aware network takes its kernel code as a second input, ``code``
    float32 [1, t] (``mzsr_tf.kernel_code.code_for(kernel_pca, kernel)``, or
    the card's basis): the projection of a kernel of any size stays in Python,
    where the kernel is read and checked.

    Returns:
      dict with the input and output names, the opset and the path.
    """
    import tf2onnx

    if opset < 17:
        raise ValueError(f"opset must be 17 or newer, got {opset}")
    arrays = [np.asarray(p, np.float32) for p in params]
    name = "ilr" if network_only else "lr"
    components = code_components(arrays)
    signature = [tf.TensorSpec([1, None, None, 3], tf.float32, name=name)]
    if components:
        signature.append(tf.TensorSpec([1, components], tf.float32, name="code"))

    # The weights become Const nodes inside the trace. tf2onnx 1.17 freezes captured
    # variables, but captured eager tensors (what model.get_params returns) turn into
    # extra graph inputs that onnxruntime then asks to be fed.
    @tf.function(input_signature=signature, autograph=False)
    def ff(x, code=None):
        consts = [tf.constant(a) for a in arrays]
        if network_only:
            return {"sr": forward(consts, with_code(x, code))}
        return {"sr": feed_forward(consts, x, scale, code)}

    proto, _ = tf2onnx.convert.from_function(ff, input_signature=ff.input_signature, opset=opset,
                                             output_path=os.fspath(path))
    return {"path": os.fspath(path), "opset": opset, "input": name, "output": "sr",
            "inputs": [i.name for i in proto.graph.input], "outputs": [o.name for o in proto.graph.output]}


def onnx_providers(available=None):
    """The execution providers to ask for, best first: CUDA where onnxruntime-gpu sees a GPU, then CPU.

    Args:
      available: the names ``onnxruntime.get_available_providers()`` returns
        (asked when None). CPU is always last, so a session still opens when a
        CUDA provider is listed but its libraries fail to load.
    """
    if available is None:
        import onnxruntime as ort

        available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider",) if p in available] + ["CPUExecutionProvider"]


def onnx_session(path, providers=None):
    """An onnxruntime InferenceSession on the best available provider; logs which one runs it.

    Args:
      path: the ``.onnx`` file.
      providers: provider names in order of preference (default :func:`onnx_providers`).
    """
    import onnxruntime as ort

    session = ort.InferenceSession(os.fspath(path), providers=providers or onnx_providers())
    logging.getLogger("mzsr_tf").info("onnxruntime runs %s on %s", os.fspath(path), session_provider(session))
    return session


def session_provider(session):
    """The provider a session actually runs on ('CUDAExecutionProvider' or 'CPUExecutionProvider')."""
    return session.get_providers()[0]


def onnx_upscale(session, lr):
    """Runs an exported ONNX model on a float32 [1, H, W, 3] array in [0, 1]."""
    name = session.get_inputs()[0].name
    return session.run(None, {name: np.asarray(lr, np.float32)})[0]
