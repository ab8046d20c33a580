"""A SavedModel that adapts at serving time (TF Serving).

:class:`ServingModule` is a ``tf.Module`` whose signatures run all of Algorithm 2
in-graph: the son (degrade the LR image with the request's kernel), the n plain
gradient steps on (ILR(son) -> LR) as a ``tf.while_loop`` carrying the fast
weights, the MATLAB-style resize and the final pass. Scale, subsampling, the
step-size schedule and the request limits are fixed when the model is exported
and recorded in its metadata (``assets.extra/mzsr_export.json`` and the
``metadata_json`` variable).

``serve()`` computes (it calls :func:`mzsr_tf.adapt.zero_shot`, the package's
one Algorithm 2); the signatures only validate, decode and encode.

Signatures (every image is RGB, batch of one):

==================  ===========================================  ==========================
name                inputs                                       outputs
==================  ===========================================  ==========================
serving_default     image uint8 [1, H, W, 3], kernel float32      sr uint8 [1, sH, sW, 3]
                    [k, k], steps int32 []
upscale             image uint8 [1, H, W, 3]                      sr uint8 [1, sH, sW, 3]
adapt_encoded       image_bytes string [] (PNG/JPEG/BMP/GIF),     sr_png_bytes string []
                    kernel float32 [k, k], steps int32 []
upscale_encoded     image_bytes string []                         sr_png_bytes string []
==================  ===========================================  ==========================

Bad requests fail with ``InvalidArgument`` from ``tf.debugging.Assert`` ops that
run before any computation; the messages start with ``mzsr:``.
"""
import json
import os

import numpy as np
import tensorflow as tf

from .. import __version__
from ..adapt import step_size_schedule, upscale_with, zero_shot
from ..kernel_code import grid_size, kernel_code
from ..constants import MAX_KERNEL_SIDE, MAX_LR_PIXELS, MAX_STEPS, MIN_SON_SIDE, SUBSAMPLINGS, SUM_TOLERANCE

DEFAULT_MAX_STEPS = MAX_STEPS  # change with export --max-steps
DEFAULT_MAX_PIXELS = MAX_LR_PIXELS  # change with export --max-pixels
METADATA_FILE = os.path.join("assets.extra", "mzsr_export.json")

SIGNATURE_NAMES = ("serving_default", "upscale", "adapt_encoded", "upscale_encoded")


def _check(cond, message, *data):
    """A graph assert: InvalidArgument 'mzsr: message' (and data) when ``cond`` is false."""
    return tf.debugging.Assert(cond, ["mzsr: " + message, *data], summarize=16)


def _opaque(x):
    """``x`` through a serialize/parse round trip: a copy whose shape nothing can infer.

    Loaded signatures (and TF Serving) do not check the shapes of what they are
    fed, while ``tf.rank``/``tf.shape`` fold to the signature's declared shape at
    trace time, and Grappler folds ``Rank``, ``Size`` and ``Shape`` of inputs
    whose declared shape settles them. The checks must see what was fed.
    """
    return tf.raw_ops.ParseTensor(serialized=tf.io.serialize_tensor(x), out_type=x.dtype)


def _shape(x):
    """The shape of what was actually fed (a vector of unknown length to Grappler).

    Only the shape vector goes through the round trip when the declared shape
    has an unknown dim (then ``Shape`` itself is computed at run time); small
    inputs with a fully declared shape (scalars) are copied whole.
    """
    if x.shape.is_fully_defined():
        x = _opaque(x)
        return tf.shape(x, out_type=tf.int32)
    return _opaque(tf.shape(x, out_type=tf.int32))


def _rank(x):
    """The rank of what was actually fed."""
    return tf.size(_shape(x))


def _padded_shape(x, rank):
    """The first ``rank`` dims of ``x``'s shape, zero-padded: safe to index whatever the rank."""
    return tf.concat([_shape(x), tf.zeros([rank], tf.int32)], 0)[:rank]


class ServingModule(tf.Module):
    """The exported model: weights, the step-size schedule and four signatures.

    Args:
      params: list [w0, b0, ..., w7, b7] (tensors or arrays) of the network.
      scale: SR scale s (int).
      subsampling: 'direct' or 'bicubic': how the son is made.
      max_steps: most adaptation steps a request may ask for.
      max_pixels: largest LR image (H·W) a request may send; the smallest side
        is ``io.MIN_SON_SIDE · scale`` as for the Python API.
      step_sizes: per-step sizes (length max_steps); default: the reference
        schedule for (subsampling, scale) from ``adapt.step_size_schedule``.
      metadata: dict recorded in the model (merged over the facts above).
      kernel_pca: (mean, basis) of a kernel-aware network: the graph projects the
        request's kernel onto it (the signatures take the kernel as for any model;
        ``upscale`` without a kernel uses the code of no blur).
    """

    def __init__(self, params, scale=2, subsampling="direct", max_steps=DEFAULT_MAX_STEPS,
                 max_pixels=DEFAULT_MAX_PIXELS, step_sizes=None, metadata=None, kernel_pca=None):
        super().__init__(name="mzsr_serving")
        if subsampling not in SUBSAMPLINGS:
            raise ValueError(f"subsampling must be one of {SUBSAMPLINGS}, got {subsampling!r}")
        self.scale = int(scale)
        self.subsampling = subsampling
        self.max_steps = int(max_steps)
        self.max_pixels = int(max_pixels)
        self.min_side = MIN_SON_SIDE * self.scale
        if step_sizes is None:
            step_sizes = step_size_schedule(self.max_steps, subsampling, self.scale)
        step_sizes = [float(a) for a in step_sizes]
        if len(step_sizes) != self.max_steps:
            raise ValueError(f"need {self.max_steps} step sizes, got {len(step_sizes)}")
        self.params = [
            tf.Variable(np.asarray(p, np.float32), trainable=False, name=f"{'wb'[i % 2]}{i // 2}")
            for i, p in enumerate(params)
        ]
        self.kernel_pca = None
        if kernel_pca is not None:
            self.kernel_grid = grid_size(kernel_pca)
            self.kernel_pca = [tf.Variable(np.asarray(a, np.float32), trainable=False, name=n)
                               for a, n in zip(kernel_pca, ("kernel_mean", "kernel_basis"))]
        # One entry more than max_steps so the gather in the loop body is always in range.
        self.step_sizes = tf.Variable(np.asarray(step_sizes + [0.0], np.float32), trainable=False,
                                      name="step_sizes")
        meta = {
            "format": "mzsr-tf serving",
            "mzsr_tf_version": __version__,
            "tensorflow_version": tf.__version__,
            "scale": self.scale,
            "subsampling": self.subsampling,
            "max_steps": self.max_steps,
            "max_pixels": self.max_pixels,
            "min_side": self.min_side,
            "max_kernel_side": MAX_KERNEL_SIDE,
            "kernel_sum_tolerance": SUM_TOLERANCE,
            "step_sizes": step_sizes,
            "rounding": "uint8 = round_half_to_even(clip(sr, 0, 1) * 255)",
            "no_blur_kernel": [[1.0]],
            "kernel_code_components": 0 if kernel_pca is None else int(np.shape(kernel_pca[1])[0]),
            "signatures": {
                "serving_default": {"inputs": {"image": "uint8 [1,H,W,3]", "kernel": "float32 [k,k]",
                                               "steps": "int32 []"},
                                    "outputs": {"sr": "uint8 [1,sH,sW,3]"}},
                "upscale": {"inputs": {"image": "uint8 [1,H,W,3]"}, "outputs": {"sr": "uint8 [1,sH,sW,3]"}},
                "adapt_encoded": {"inputs": {"image_bytes": "string [] (PNG/JPEG/BMP/GIF)",
                                             "kernel": "float32 [k,k]", "steps": "int32 []"},
                                  "outputs": {"sr_png_bytes": "string [] (PNG)"}},
                "upscale_encoded": {"inputs": {"image_bytes": "string [] (PNG/JPEG/BMP/GIF)"},
                                    "outputs": {"sr_png_bytes": "string [] (PNG)"}},
            },
        }
        meta.update(metadata or {})
        self._meta_text = json.dumps(meta, sort_keys=True)  # a str: not wrapped by tf.Module tracking
        self.metadata_json = tf.Variable(self._meta_text, trainable=False, name="metadata_json")

    @property
    def metadata(self):
        return json.loads(self._meta_text)

    # ----------------------------------------------------------------- checks
    def _validate(self, image, kernel=None, steps=None):
        """Asserts on a request; returns (image, kernel / sum(kernel), steps) gated on them.

        The asserts run one after the other (each depends on the one before), so
        a request that breaks several rules gets the first message in this
        order: image shape, image size, kernel rank, kernel size, kernel vs
        image, kernel values, steps. Every condition is computed from shapes
        padded to the expected rank, so none can fail on its own.
        """
        last = []

        def check(cond, message, *data):
            with tf.control_dependencies(last):
                op = _check(cond, message, *data)
            last[:] = [op]

        shape = _padded_shape(image, 4)
        h, w = shape[1], shape[2]
        check(tf.reduce_all(tf.stack([tf.equal(_rank(image), 4), tf.equal(shape[0], 1), tf.equal(shape[3], 3)])),
              "image must be uint8 [1, H, W, 3] (one RGB image); got shape", _shape(image))
        pixels = tf.cast(h, tf.int64) * tf.cast(w, tf.int64)
        check(tf.logical_and(h >= self.min_side, w >= self.min_side),
              f"image too small for x{self.scale}: each side must be at least {self.min_side}; got", h, w)
        check(pixels <= self.max_pixels,
              f"image too large: at most {self.max_pixels} pixels (max_pixels of this export); got", h, w)
        if kernel is not None:
            kshape = _padded_shape(kernel, 2)
            kh, kw = kshape[0], kshape[1]
            # Reductions over the flattened values: axes taken from the declared rank would fail
            # on a kernel of another rank before the rank check could say so.
            values = tf.reshape(kernel, [-1])
            finite = tf.reduce_all(tf.math.is_finite(values))
            total = tf.reduce_sum(values)
            check(tf.equal(_rank(kernel), 2), "kernel must be a 2-D float32 [k, k] array; got shape",
                  _shape(kernel))
            check(tf.reduce_all(tf.stack([kh >= 1, kw >= 1, kh <= MAX_KERNEL_SIDE, kw <= MAX_KERNEL_SIDE])),
                  f"kernel sides must be in 1..{MAX_KERNEL_SIDE}; got", kh, kw)
            check(tf.logical_and(kh <= h, kw <= w),
                  "kernel is larger than the image: kernel (kh, kw), image (H, W) =", kh, kw, h, w)
            check(finite, "kernel has NaN or Inf entries")
            check(tf.reduce_all(values >= 0.0), "kernel has negative entries; min =", tf.reduce_min(values))
            check(tf.abs(total - 1.0) <= SUM_TOLERANCE,
                  f"kernel must sum to ~1 (tolerance {SUM_TOLERANCE}); sum =", total)
        if steps is not None:
            check(tf.equal(_rank(steps), 0), "steps must be an int32 scalar; got shape", _shape(steps))
            # Any rank: the first value, or -1 when empty; never an error of its own.
            steps_s = tf.concat([tf.reshape(steps, [-1]), [-1]], 0)[0]
            check(tf.logical_and(steps_s >= 0, steps_s <= self.max_steps),
                  f"steps must be in 0..{self.max_steps} (max_steps of this export); got", steps_s)
        with tf.control_dependencies(last):
            image = tf.identity(image)
            if kernel is not None:
                kernel = kernel / total
            if steps is not None:
                steps = tf.identity(steps_s)
        return image, kernel, steps

    @staticmethod
    def _decode(image_bytes):
        ok = _check(tf.equal(_rank(image_bytes), 0),
                    "image_bytes must be one encoded image (a string scalar); got shape", _shape(image_bytes))
        with tf.control_dependencies([ok]):
            image = tf.io.decode_image(tf.reshape(image_bytes, []), channels=3, dtype=tf.uint8,
                                       expand_animations=False)
        image.set_shape([None, None, 3])
        return image[None]

    # -------------------------------------------------------------- numerics
    def _params(self):
        return [tf.convert_to_tensor(v) for v in self.params]

    @staticmethod
    def _encode(sr):
        return tf.cast(tf.round(sr * 255.0), tf.uint8)

    def _code(self, kernel):
        """The kernel's code for a kernel-aware network (projected in the graph), else None."""
        if self.kernel_pca is None:
            return None
        mean, basis = (tf.convert_to_tensor(v) for v in self.kernel_pca)
        return kernel_code(kernel, mean, basis, self.kernel_grid)

    def serve(self, lr, kernel, steps):
        """Algorithm 2 on a validated float LR batch (``mzsr_tf.adapt.zero_shot``, loop form)."""
        return zero_shot(self._params(), lr, kernel, tf.convert_to_tensor(self.step_sizes), steps, self.scale,
                         self.subsampling, code=self._code(kernel))

    def _adapt_and_upscale(self, image, kernel, steps):
        image, kernel, steps = self._validate(image, kernel, steps)
        return self._encode(self.serve(tf.cast(image, tf.float32) / 255.0, kernel, steps))

    def _upscale(self, image):
        image, _, _ = self._validate(image)
        code = self._code(tf.ones([1, 1], tf.float32))
        return self._encode(upscale_with(self._params(), tf.cast(image, tf.float32) / 255.0, self.scale, code=code))

    # ------------------------------------------------------------ signatures
    @tf.function(input_signature=[
        tf.TensorSpec([1, None, None, 3], tf.uint8, name="image"),
        tf.TensorSpec([None, None], tf.float32, name="kernel"),
        tf.TensorSpec([], tf.int32, name="steps"),
    ])
    def serving_default(self, image, kernel, steps):
        """Adapt on the image's son for ``steps`` steps, then upscale."""
        return {"sr": self._adapt_and_upscale(image, kernel, steps)}

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name="image")])
    def upscale(self, image):
        """Feed-forward only (the exported weights, no adaptation)."""
        return {"sr": self._upscale(image)}

    @tf.function(input_signature=[
        tf.TensorSpec([], tf.string, name="image_bytes"),
        tf.TensorSpec([None, None], tf.float32, name="kernel"),
        tf.TensorSpec([], tf.int32, name="steps"),
    ])
    def adapt_encoded(self, image_bytes, kernel, steps):
        """serving_default on an encoded image; returns the SR image as PNG bytes."""
        sr = self.serving_default(self._decode(image_bytes), kernel, steps)["sr"]  # the same traced graph
        return {"sr_png_bytes": tf.io.encode_png(sr[0])}

    @tf.function(input_signature=[tf.TensorSpec([], tf.string, name="image_bytes")])
    def upscale_encoded(self, image_bytes):
        """upscale on an encoded image; returns the SR image as PNG bytes."""
        return {"sr_png_bytes": tf.io.encode_png(self.upscale(self._decode(image_bytes))["sr"][0])}

    def signatures(self):
        return {
            "serving_default": self.serving_default.get_concrete_function(),
            "upscale": self.upscale.get_concrete_function(),
            "adapt_encoded": self.adapt_encoded.get_concrete_function(),
            "upscale_encoded": self.upscale_encoded.get_concrete_function(),
        }


def export_saved_model(out_dir, params, scale=2, subsampling="direct", max_steps=DEFAULT_MAX_STEPS,
                       max_pixels=DEFAULT_MAX_PIXELS, step_sizes=None, metadata=None, kernel_pca=None):
    """Writes the serving SavedModel to ``out_dir`` and returns its metadata dict.

    The metadata is also written to ``out_dir/assets.extra/mzsr_export.json``
    (TF Serving ignores ``assets.extra``).
    """
    module = ServingModule(params, scale, subsampling, max_steps, max_pixels, step_sizes, metadata, kernel_pca)
    tf.saved_model.save(module, out_dir, signatures=module.signatures())
    path = os.path.join(out_dir, METADATA_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(module.metadata, f, indent=2, sort_keys=True)
    return module.metadata


def read_metadata(model_dir):
    """The metadata of an exported model (from ``assets.extra``), without loading it."""
    with open(os.path.join(model_dir, METADATA_FILE)) as f:
        return json.load(f)
