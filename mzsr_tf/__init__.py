"""mzsr-tf: zero-shot super-resolution the MZSR way (Soh, Cho, Cho, CVPR 2020), on Keras 3.

``mzsr_tf.upscale(array, scale=2, kernel=..., steps=10)`` is the Python API
(:mod:`mzsr_tf.api`); ``python -m mzsr_tf.upscale`` is the command.
"""
import contextlib
import importlib.abc
import importlib.util
import os
import sys

# TensorFlow's C++ start-up chatter (CUDA probing on CPU machines) is noise for users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _stderr_silenced():
    """Points file descriptor 2 at /dev/null (C++ logging bypasses sys.stderr)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Imports TensorFlow (when something first asks for it) with its absl/oneDNN/CUDA
    start-up lines silenced, so our commands' stderr holds only our own messages.
    Set MZSR_TF_VERBOSE=1 to see them.

    Redirecting file descriptor 2 during that import is the only way found: the
    absl "log messages before InitializeLog" and cudart lines are written by C++
    before TF_CPP_MIN_LOG_LEVEL is read. Only the import and the first op run
    with stderr redirected; everything after writes to stderr as usual."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            with _stderr_silenced():
                run(module)
                module.constant(0.0)  # device start-up (CUDA probing) logs here, not at import

        spec.loader.exec_module = exec_module
        return spec


if not os.environ.get("MZSR_TF_VERBOSE") and "tensorflow" not in sys.modules:
    sys.meta_path.insert(0, _QuietTensorFlowImport())

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so that ``import mzsr_tf`` stays light (no TensorFlow) for commands that fail fast.
    if name == "upscale":
        from .api import upscale

        return upscale
    raise AttributeError(f"module 'mzsr_tf' has no attribute {name!r}")
