"""Export and serving: the adapt-and-upscale SavedModel (TF Serving, Beam) and the ONNX feed-forward pass.

``python -m mzsr_tf.export`` (:mod:`.command`) writes both.
"""
from .onnx import DEFAULT_OPSET, export_onnx, feed_forward, onnx_providers, onnx_session, onnx_upscale
from .saved_model import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_STEPS,
    METADATA_FILE,
    SIGNATURE_NAMES,
    ServingModule,
    export_saved_model,
    read_metadata,
)
