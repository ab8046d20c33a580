"""Export and serving: the adapt-and-upscale SavedModel (TF Serving, Beam) and the ONNX feed-forward pass.

``python -m mzsr_tf.export`` (:mod:`.command`) writes both. Names load lazily, so
that the command can check its arguments before TensorFlow is imported.
"""
import importlib

_WHERE = {
    "saved_model": ("DEFAULT_MAX_PIXELS", "DEFAULT_MAX_STEPS", "METADATA_FILE", "SIGNATURE_NAMES", "ServingModule",
                    "export_saved_model", "read_metadata"),
    "onnx": ("DEFAULT_OPSET", "export_onnx", "feed_forward", "onnx_providers", "onnx_session", "onnx_upscale"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}


def __getattr__(name):
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_MODULE_OF)
