"""``backend.conv_same``: the convolution whose gradients (first and second order) use faster ops under TF."""
import keras
import numpy as np
import pytest

from mzsr_tf import backend

pytestmark = pytest.mark.skipif(backend.NAME != "tensorflow", reason="the custom gradient is TensorFlow's")


def _gradients(conv, x, w, target):
    """First-order gradients of a loss through ``conv``, and the gradients of a function of those."""
    import tensorflow as tf

    with tf.GradientTape() as outer:
        outer.watch([x, w])
        with tf.GradientTape() as inner:
            inner.watch([x, w])
            loss = tf.reduce_sum(tf.tanh(conv(x, w)) * target)
        gx, gw = inner.gradient(loss, [x, w])
        second = tf.reduce_sum(gw ** 2) + tf.reduce_sum(gx ** 3)
    return [gx, gw] + outer.gradient(second, [x, w])


def _tf_conv(x, w):
    return keras.ops.conv(x, w, strides=1, padding="same")


def _relative_errors(got, want):
    return [float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max()) for a, b in zip(got, want)]


@pytest.mark.parametrize("shape", [(1, 9, 7, 3, 5, 3), (1, 6, 11, 4, 4, 5), (3, 8, 5, 2, 3, 3)])
def test_gradients_match_tensorflow_kernels(shape):
    """Unknown batch size (as in the compiled adaptation) takes the custom path; it must equal TF's kernels."""
    import tensorflow as tf

    n, h, w_, c_in, c_out, k = shape
    rng = np.random.default_rng(k * 7 + h)
    x = tf.constant(rng.standard_normal((n, h, w_, c_in)), tf.float32)
    w = tf.constant(rng.standard_normal((k, k, c_in, c_out)), tf.float32)
    target = tf.constant(rng.standard_normal((n, h, w_, c_out)), tf.float32)
    want = _gradients(_tf_conv, x, w, target)
    open_shape = [tf.TensorSpec([None] * 4), tf.TensorSpec(w.shape), tf.TensorSpec([None] * 4)]
    ours = tf.function(lambda a, b, t: _gradients(backend.conv_same, a, b, t), input_signature=open_shape)
    assert max(_relative_errors(ours(x, w, target), want)) < 1e-5
    # The custom path itself, eager, any batch size.
    assert max(_relative_errors(_gradients(backend._conv_same_tf, x, w, target), want)) < 1e-5


def test_kernel_gradient_is_the_sum_over_pixels_and_images():
    """dw[i, j] = Σ x[pixel + (i-1, j-1)]ᵀ dy[pixel] with zeros past the edge, summed over the batch's images."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 6, 2)).astype(np.float32)
    dy = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    got = backend._kernel_grad(tf.constant(x), tf.constant(dy), (3, 3, 2, 3))
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    want = np.stack([np.stack([np.einsum("nhwc,nhwd->cd", xp[:, i:i + 5, j:j + 6], dy) for j in range(3)])
                     for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_adaptation_with_known_and_open_batch_agree():
    """A batch known to hold 2 images (TF's kernels, as in training) and an open one (the custom path) adapt alike."""
    import tensorflow as tf

    from mzsr_tf.adapt import adapt
    from mzsr_tf.model import build_model, get_params

    keras.utils.set_random_seed(2)
    params = get_params(build_model(depth=4, width=8))
    rng = np.random.default_rng(3)
    x = tf.constant(rng.uniform(size=(2, 12, 10, 3)), tf.float32)
    y = tf.constant(rng.uniform(size=(2, 12, 10, 3)), tf.float32)
    sizes = [0.05, 0.05, 0.02]
    known = adapt(params, x, y, sizes)
    spec = [[tf.TensorSpec(p.shape) for p in params], tf.TensorSpec([None] * 4), tf.TensorSpec([None] * 4)]
    open_batch = tf.function(lambda p, a, b: adapt(p, a, b, sizes), input_signature=spec)(params, x, y)
    moved = max(float(np.abs(np.asarray(a) - np.asarray(p)).max()) for a, p in zip(known, params))
    assert moved > 1e-3  # the steps did something, so agreeing means something
    for a, b in zip(open_batch, known):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
