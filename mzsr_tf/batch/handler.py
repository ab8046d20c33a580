"""A Beam ``ModelHandler`` for the adapt-and-upscale SavedModel (``serving_default``).

RunInference calls :meth:`ServingModelHandler.load_model` once per worker
process and shares the loaded model between its threads. The model is either an
exported SavedModel (a local or remote directory) or, when none is given,
exported on the worker from weights carried inside the handler, so workers need
only the installed package, never a copy of the weights file or SavedModel.
"""
import atexit
import os
import shutil
import tempfile
import time
from typing import NamedTuple

import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

NAMESPACE = "mzsr"
NO_BLUR = np.ones((1, 1), np.float32)  # the SavedModel's "no kernel": a 1×1 delta blurs nothing


class Example(NamedTuple):
    """One request: LR image uint8 [H, W, 3], kernel float32 [k, k], adaptation steps."""

    image: np.ndarray
    kernel: np.ndarray
    steps: int


def _local_copy(model_dir):
    """``model_dir`` itself when local, else a local copy made through Beam's filesystems.

    TensorFlow reads only the filesystems compiled into it; Beam's (gs://,
    s3://, ...) are the ones the pipeline was started with, so copy through them.
    """
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    if FileSystems.get_scheme(model_dir) is None:
        return model_dir
    root = model_dir.rstrip("/") + "/"
    out = tempfile.mkdtemp(prefix="mzsr_batch_model_")
    atexit.register(shutil.rmtree, out, True)
    for m in FileSystems.match([root + "**"])[0].metadata_list:
        dst = os.path.join(out, *m.path[len(root):].split("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with FileSystems.open(m.path, compression_type=CompressionTypes.UNCOMPRESSED) as src, open(dst, "wb") as f:
            shutil.copyfileobj(src, f)
    return out


class ServingModelHandler(ModelHandler):
    """Loads the serving SavedModel and runs ``serving_default`` on one image at a time.

    Args:
      model_dir: an exported SavedModel directory, or None to export one on
        the worker from ``params``.
      params: the network weights (list of arrays), used when ``model_dir`` is None.
      scale: SR scale of the export made from ``params``.
      subsampling: 'direct' or 'bicubic', for the export made from ``params``.
      metadata: extra facts recorded in that export (e.g. the weights' name).
      kernel_pca: (mean, basis) of kernel-aware ``params`` (the export projects each kernel in its graph).
    """

    def __init__(self, model_dir=None, params=None, scale=2, subsampling="direct", metadata=None, kernel_pca=None):
        # Images differ in size, so a batch is one image; the SavedModel takes [1, H, W, 3].
        super().__init__(min_batch_size=1, max_batch_size=1)
        if model_dir is None and params is None:
            raise ValueError("give model_dir or params")
        self._model_dir = model_dir
        self._params = None if params is None else [np.asarray(p, np.float32) for p in params]
        self._scale = scale
        self._subsampling = subsampling
        self._metadata = metadata or {}
        self._kernel_pca = kernel_pca
        self._seconds = Metrics.counter(NAMESPACE, "milliseconds")

    def _export(self):
        from ..constants import MAX_STEPS
        from ..serve import export_saved_model
        from ..weights import step_sizes

        out = tempfile.mkdtemp(prefix="mzsr_batch_model_")
        atexit.register(shutil.rmtree, out, True)
        sizes = step_sizes(self._metadata.get("weights", ""), MAX_STEPS, self._subsampling, self._scale)
        export_saved_model(out, self._params, scale=self._scale, subsampling=self._subsampling, step_sizes=sizes,
                           metadata=self._metadata, kernel_pca=self._kernel_pca)
        return out

    def load_model(self):
        """The loaded SavedModel (kept whole: its signatures hold references to its variables)."""
        import tensorflow as tf

        if self._model_dir is None:
            return tf.saved_model.load(self._export())
        return tf.saved_model.load(_local_copy(self._model_dir))

    def run_inference(self, batch, model, inference_args=None):
        """Adapts and upscales each :class:`Example`; the inference is the SR image uint8 [sH, sW, 3]."""
        import tensorflow as tf

        fn = model.signatures["serving_default"]
        results = []
        for ex in batch:
            start = time.perf_counter()
            sr = fn(image=tf.constant(ex.image[None]), kernel=tf.constant(ex.kernel, tf.float32),
                    steps=tf.constant(ex.steps, tf.int32))["sr"].numpy()[0]
            self._seconds.inc(int(round((time.perf_counter() - start) * 1000)))
            results.append(PredictionResult(ex, sr))
        return results

    def get_num_bytes(self, batch):
        return sum(ex.image.nbytes for ex in batch)

    def get_metrics_namespace(self):
        return "mzsr_batch_inference"
