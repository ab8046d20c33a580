"""The one place that knows which Keras backend runs: gradients and compilation.

Everything numeric in the package is written with ``keras.ops``; only taking a
gradient and compiling a function differ between TensorFlow and JAX.
"""
import contextlib
import threading

import keras

NAME = keras.backend.backend()

if NAME == "tensorflow":
    import tensorflow as tf
elif NAME == "jax":
    import jax
else:  # pragma: no cover - guarded at import so users get one clear message
    raise ImportError(
        f"mzsr_tf supports the 'tensorflow' and 'jax' Keras backends, not {NAME!r}; "
        "set KERAS_BACKEND before importing keras"
    )


def value_and_grad(fn, params, *args, has_aux=False):
    """Evaluates ``fn(params, *args)`` and its gradient with respect to ``params``.

    Works nested (a gradient of a function that itself takes gradients), which
    is what second-order MAML needs: under TensorFlow the inner tape runs while
    the caller's tape records; under JAX ``jax.value_and_grad`` composes.

    Args:
      fn: pure function of a list of tensors ``params`` and extra arguments,
        returning a scalar loss (or ``(loss, aux)`` with ``has_aux``).
      params: list of tensors.
      *args: passed to ``fn`` unchanged (not differentiated).
      has_aux: whether ``fn`` returns ``(loss, aux)``.

    Returns:
      ``(loss, grads)`` or ``((loss, aux), grads)``, grads a list like params.
    """
    params = list(params)
    if NAME == "tensorflow":
        with tf.GradientTape() as tape:
            tape.watch(params)
            out = fn(params, *args)
        loss = out[0] if has_aux else out
        grads = tape.gradient(loss, params)
        return out, grads
    out, grads = jax.value_and_grad(fn, has_aux=has_aux)(params, *args)
    return out, list(grads)


def fori_loop(n, body, init):
    """``init`` after ``body(i, state)`` for i = 0 .. n-1, as a loop op (n may be a tensor).

    ``state`` is a list of tensors; under TF a ``tf.while_loop``, under JAX ``lax.fori_loop``.
    """
    if NAME == "tensorflow":
        out = tf.while_loop(lambda i, _: i < n, lambda i, s: (i + 1, body(i, s)), (tf.constant(0, tf.int32), init))
        return list(out[1])
    return list(jax.lax.fori_loop(0, n, lambda i, s: body(i, s), init))


def bias_add(x, b):
    """``x + b`` over the last axis; under TF the BiasAdd op, whose gradient and
    conv fusion are cheaper than a broadcast add's."""
    if NAME == "tensorflow":
        return tf.nn.bias_add(x, b)
    return x + b


def conv_same(x, w):
    """Stride-1 'same' convolution of ``x`` [N, H, W, in] with an odd k×k kernel ``w`` [k, k, in, out].

    Under TF its gradients can avoid TensorFlow's CPU backprop kernels
    (``bench/conv_grad_speed.py``): the input gradient is a convolution with
    the flipped kernel, and the kernel gradient k² matrix products of shifted
    views of the padded input (contiguous slices once the output gradient is
    padded to the same row length). The gradients of both are again forward
    convolutions, so second-order MAML runs on fast ops too.

    That wins for one large image on some CPUs (AVX2: 0.5x the kernel gradient's
    time, 0.3x the input gradient's at 256²) and loses on others (an AVX-512
    EPYC with oneDNN: 1.4x and 1.2x), so batch-1 float32 convolutions take the
    path :func:`conv_grad` names, measured on the machine. On batches of small
    patches TensorFlow's kernels, which split the work by image, are as fast
    or faster, so a batch dimension known to be above 1 (training) keeps them.

    Under TF this calls ``tf.nn.conv2d`` itself: ``keras.ops.conv`` compiles the
    convolution with XLA whenever the input's channel count is unknown (the
    first layer of every shape-relaxed graph), and XLA's CPU gradients took
    3.5x the time of TensorFlow's own on the AVX-512 EPYC.
    """
    if NAME != "tensorflow":
        return keras.ops.conv(x, w, strides=1, padding="same")
    if x.dtype != tf.float32 or (x.shape[0] or 1) > 1 or conv_grad() != "custom":
        return tf.nn.conv2d(x, w, 1, "SAME")
    return _conv_same_tf(x, w)


CONV_GRADS = ("tf", "custom")
_GRAD = {"forced": None, "set": None, "resolved": None}


def conv_grad():
    """The gradient path of batch-1 float32 convolutions under TF: 'tf' (its kernels) or 'custom'.

    Read when a graph is traced. Precedence: :func:`conv_grad_forced`,
    :func:`set_conv_grad`, the ``MZSR_TF_CONV_GRAD`` environment variable, the
    cached calibration, a new calibration (:mod:`mzsr_tf.speed.calibrate`).
    """
    path = _GRAD["forced"] or _GRAD["set"] or _GRAD["resolved"]
    if path:
        return path
    from .speed import calibrate

    if tf.executing_eagerly():
        _GRAD["resolved"] = calibrate.resolve()[0]
        return _GRAD["resolved"]
    # A first trace from inside another graph (a SavedModel export, say): the calibration's own
    # graphs and tapes must run eagerly, and a new thread starts with a fresh eager context and
    # no tapes (tf.init_scope would pause tapes, leaving the calibration without gradients).
    out = {}

    def run():
        try:
            out["choice"] = calibrate.resolve()[0]
        except Exception as e:  # noqa: BLE001 - re-raised in the caller's thread
            out["error"] = e

    worker = threading.Thread(target=run, name="mzsr-tf-calibrate")
    worker.start()
    worker.join()
    if "error" in out:
        raise out["error"]
    _GRAD["resolved"] = out["choice"]
    return _GRAD["resolved"]


if NAME == "tensorflow":
    # Called while tracing: AutoGraph must not rewrite the calibration it may start.
    conv_grad = tf.autograph.experimental.do_not_convert(conv_grad)


def set_conv_grad(path):
    """Overrides the calibrated gradient path for this process ('tf', 'custom'; None: back to the calibration).

    Compiled functions of :func:`cached_compile` are dropped so that the next call traces with the new path.

    Raises:
      InputError: an unknown path.
    """
    if path is not None and path not in CONV_GRADS:
        from .errors import InputError

        raise InputError(f"conv grad path must be one of {', '.join(CONV_GRADS)} or None, got {path!r}")
    _GRAD["set"], _GRAD["resolved"] = path, None
    _CACHE.clear()


@contextlib.contextmanager
def conv_grad_forced(path):
    """Within the block, graphs traced take ``path`` whatever is set or cached (calibration, tests)."""
    saved, _GRAD["forced"] = _GRAD["forced"], path
    try:
        yield
    finally:
        _GRAD["forced"] = saved


def _flipped(w):
    """The kernel whose convolution is the transpose of ``w``'s (rotated 180°, in/out swapped)."""
    return tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2])


if NAME == "tensorflow":

    @tf.custom_gradient
    def _conv_same_tf(x, w):
        def grad(dy):
            return _conv_same_tf(dy, _flipped(w)), _kernel_grad(x, dy, w.shape)

        return tf.nn.conv2d(x, w, 1, "SAME"), grad


def _kernel_grad(x, dy, kernel_shape):
    """dL/dw [k, k, in, out] of a stride-1 'same' convolution, from its input ``x`` and output gradient ``dy``."""
    k, _, c_in, c_out = (int(d) for d in kernel_shape)

    @tf.custom_gradient
    def kernel_grad(x, dy):
        p = k // 2
        shape = tf.shape(x)
        row = shape[2] + 2 * p
        # Flattened over (image, row, column) of the padded grid, output pixel q's input tap (i, j)
        # sits at q + i·row + j. dy is zero-padded to the same grid and cut after its last pixel,
        # so every tap stays inside the padded input and taps past an edge meet zeros.
        xs = tf.reshape(tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]), [-1, c_in])
        n = (shape[0] - 1) * (shape[1] + 2 * p) * row + (shape[1] - 1) * row + shape[2]
        gs = tf.reshape(tf.pad(dy, [[0, 0], [0, 2 * p], [0, 2 * p], [0, 0]]), [-1, c_out])[:n]
        taps = [tf.matmul(xs[i * row + j: i * row + j + n], gs, transpose_a=True) for i in range(k) for j in range(k)]

        def grad(v):  # <v, dw> = <dy, conv(x, v)> = <x, conv(dy, flipped v)>
            return _conv_same_tf(dy, _flipped(v)), _conv_same_tf(x, v)

        return tf.reshape(tf.stack(taps), [k, k, c_in, c_out]), grad

    return kernel_grad(x, dy)


_CACHE = {}


def cached_compile(key, make):
    """One compiled function per ``key``: ``make()`` builds the Python function on first use.

    Under TF the first call fixes the trace with every dimension left open
    except those of a first argument that is a list (the weights), so a new
    image size or schedule length runs the same graph instead of tracing again.
    """
    fn = _CACHE.get(key)
    if fn is None:
        if NAME == "tensorflow":
            conv_grad()  # calibrates here, eagerly, on a machine's first adaptation (a bad env var fails here too)
        fn = _CACHE[key] = _relaxed(make()) if NAME == "tensorflow" else jax.jit(make())
    return fn


def _relaxed(fn):
    traced = {}  # one tf.function per network shape (weights keep exact shapes: conv fusion needs them)
    spec = lambda t: tf.TensorSpec([None] * len(t.shape), t.dtype)  # noqa: E731

    def call(first, *args):
        weights = isinstance(first, (list, tuple))
        key = tuple((tuple(p.shape), p.dtype) for p in first) if weights else None
        if key not in traced:
            head = [tf.TensorSpec(p.shape, p.dtype) for p in first] if weights else spec(first)
            traced[key] = tf.function(fn, input_signature=[head] + [tf.nest.map_structure(spec, a) for a in args])
        return traced[key](first, *args)

    call.tracing_count = lambda: sum(f.experimental_get_tracing_count() for f in traced.values())
    return call


def compile_fn(fn, static_argnums=()):
    """Compiles a pure function: ``tf.function`` under TF, ``jax.jit`` under JAX.

    Args:
      fn: the function.
      static_argnums: positions of Python-valued arguments (ints, tuples) that
        select a trace; TF retraces on new Python values on its own.
    """
    if NAME == "tensorflow":
        return tf.function(fn, reduce_retracing=True)
    return jax.jit(fn, static_argnums=static_argnums)


def stop_gradient(x):
    return keras.ops.stop_gradient(x)
