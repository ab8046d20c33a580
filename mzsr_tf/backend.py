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
