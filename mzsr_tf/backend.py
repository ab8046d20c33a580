"""The one place that knows which Keras backend runs: gradients and compilation.

Everything numeric in the package is written with ``keras.ops``; only taking a
gradient and compiling a function differ between TensorFlow and JAX.
"""
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


_CACHE = {}


def cached_compile(key, make):
    """One compiled function per ``key``: ``make()`` builds the Python function on first use.

    Under TF the first call fixes the trace with every dimension left open
    except those of a first argument that is a list (the weights), so a new
    image size or schedule length runs the same graph instead of tracing again.
    """
    fn = _CACHE.get(key)
    if fn is None:
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
