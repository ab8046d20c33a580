"""A local web page for ``mzsr_tf.upscale``: ``mzsr-tf ui`` or ``python -m mzsr_tf.ui`` (the ``[ui]`` extra).

- :mod:`.core`: one request without Gradio (read the upload within the page's
  limits, bicubic and MZSR through :func:`mzsr_tf.upscale`, the download in the
  input's format and depth, 8-bit views for the browser).
- :mod:`.page`: the Gradio page (:class:`~mzsr_tf.ui.page.App`).
- :mod:`.command`: the command line that starts it.

Importing this package does not import Gradio or TensorFlow.
"""
from .command import build, main

__all__ = ["build", "main"]
