"""mzsr-tf: zero-shot super-resolution the MZSR way (Soh, Cho, Cho, CVPR 2020), on Keras 3.

``mzsr_tf.upscale(array, scale=2, kernel=..., steps=10)`` is the Python API; the
same module is the ``python -m mzsr_tf.upscale`` command.
"""
import os

# TensorFlow's C++ start-up chatter (CUDA probing on CPU machines) is noise for users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"


def __getattr__(name):
    if name == "upscale":
        import importlib

        return importlib.import_module(".upscale", __name__)
    raise AttributeError(name)
