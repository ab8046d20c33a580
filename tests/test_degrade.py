"""Degradation ops: direct subsampling convention, blur vs scipy, and every op eagerly,
inside ``tf.data.Dataset.map`` and on dynamic shapes with the same values."""
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
import scipy.ndimage
import tensorflow as tf
from keras import ops

from mzsr_tf.degrade import add_noise, blur, degrade, quantize, subsample_bicubic, subsample_direct
from mzsr_tf.kernels import gaussian_kernel, random_kernel
from mzsr_tf.resize import imresize


def _np(t):
    return np.asarray(ops.convert_to_numpy(t))


def _img(h, w, c=3, seed=0):
    return np.random.default_rng(seed).random((h, w, c)).astype(np.float32)


# ----------------------------------------------------------- direct subsampling


@pytest.mark.parametrize("s", [2, 3, 4])
def test_delta_kernel_then_direct_subsampling_is_exact_slice(s):
    x = _img(13, 10)[None]
    delta = np.zeros((15, 15), np.float32)
    delta[7, 7] = 1.0
    y = _np(degrade(x, s, kernel=delta, subsampling="direct"))
    np.testing.assert_array_equal(y, x[:, 0::s, 0::s])
    np.testing.assert_array_equal(_np(subsample_direct(x, s)), x[:, 0::s, 0::s])
    assert y.shape == (1, math.ceil(13 / s), math.ceil(10 / s), 3)


@pytest.mark.parametrize("s,m,n", [(2, 3, 5), (2, 4, 6), (4, 2, 3), (3, 4, 3)])
def test_bright_pixel_at_sm_sn_lands_at_m_n(s, m, n):
    """No kernel shift: HR pixel (s·m, s·n) becomes LR pixel (m, n), with the kernel's centre value."""
    x = np.zeros((1, 32, 32, 1), np.float32)
    x[0, s * m, s * n, 0] = 1.0
    k = _np(gaussian_kernel(2.0, 2.0, 0.0, size=15))
    y = _np(degrade(x, s, kernel=k, subsampling="direct"))[0, :, :, 0]
    assert np.unravel_index(y.argmax(), y.shape) == (m, n)
    np.testing.assert_allclose(y[m, n], k[7, 7], rtol=1e-6)
    # An anisotropic kernel too (peak stays put; the blur is centred on the middle tap).
    k = _np(gaussian_kernel(4.0, 1.0, -0.5, size=15))
    y = _np(degrade(x, s, kernel=k, subsampling="direct"))[0, :, :, 0]
    assert np.unravel_index(y.argmax(), y.shape) == (m, n)


# ----------------------------------------------------------------------- blur


def _scipy_blur(x, k):
    return np.stack(
        [scipy.ndimage.correlate(x[..., c].astype(np.float64), k.astype(np.float64), mode="reflect") for c in range(x.shape[-1])],
        -1,
    )


@pytest.mark.parametrize(
    "kshape",
    [(5, 3), (4, 4), (2, 5), (3, 3), (1, 1)],
)
def test_blur_matches_scipy_reflect(kshape):
    rng = np.random.default_rng(sum(kshape))
    k = rng.random(kshape).astype(np.float32)  # asymmetric, not normalised: catches flips
    x = _img(11, 9, 3, seed=1)
    y = _np(blur(x[None], k))[0]
    np.testing.assert_allclose(y, _scipy_blur(x, k), atol=1e-5)


def test_blur_is_correlation_not_convolution():
    x = np.zeros((1, 7, 7, 1), np.float32)
    x[0, 3, 3, 0] = 1.0
    k = np.arange(9, dtype=np.float32).reshape(3, 3)
    y = _np(blur(x, k))[0, :, :, 0]
    # correlate: y[i, j] = Σ k[a, b] x[i + a - 1, j + b - 1] → the impulse response is k flipped.
    np.testing.assert_array_equal(y[2:5, 2:5], k[::-1, ::-1])


def test_degrade_direct_matches_scipy_reference_and_rounds():
    x = _img(16, 12, 3, seed=3)
    x = np.round(x * 255) / 255
    k = _np(gaussian_kernel(4.0, 1.0, -0.5))
    want = _scipy_blur(x, k)[0::2, 0::2]
    y = _np(degrade(x[None], 2, kernel=k, subsampling="direct"))[0]
    np.testing.assert_allclose(y, want, atol=1e-6)
    yq = _np(degrade(x[None], 2, kernel=k, subsampling="direct", round_uint8=True))[0]
    np.testing.assert_allclose(yq, np.round(np.clip(want, 0, 1) * 255) / 255, atol=1e-6)


@pytest.mark.parametrize("s,h,w", [(2, 12, 10), (2, 9, 7), (4, 16, 13)])
def test_bicubic_subsampling_is_imresize_one_over_s(s, h, w):
    x = _img(h, w)[None]
    y = _np(subsample_bicubic(x, s))
    np.testing.assert_allclose(y, _np(imresize(x, 1.0 / s)), atol=1e-7)
    assert y.shape == (1, math.ceil(h / s), math.ceil(w / s), 3)
    k = _np(gaussian_kernel(1.3, 1.3, 0.0))
    y = _np(degrade(x, s, kernel=k, subsampling="bicubic"))
    np.testing.assert_allclose(y, _np(imresize(blur(x, k), 1.0 / s)), atol=1e-6)


def test_degrade_rejects_unknown_subsampling():
    with pytest.raises(ValueError):
        degrade(np.zeros((1, 4, 4, 3), np.float32), 2, subsampling="nearest")


# ----------------------------------------------------------- noise, quantize


def test_add_noise_seeded_and_statistics():
    x = np.full((1, 64, 64, 3), 0.5, np.float32)
    a = _np(add_noise(x, 0.05, seed=7))
    b = _np(add_noise(x, 0.05, seed=7))
    c = _np(add_noise(x, 0.05, seed=8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    n = (a - 0.5).ravel()  # 12288 samples: std error of the mean ≈ 0.05/111 = 4.5e-4
    assert abs(n.mean()) < 2.5e-3
    assert abs(n.std() - 0.05) < 2.5e-3
    assert abs(np.corrcoef(n[:-1], n[1:])[0, 1]) < 0.05  # white
    np.testing.assert_array_equal(_np(add_noise(x, 0.0, seed=7)), x)


def test_quantize():
    # (Exact ties such as 0.5/255 round half to even, like numpy.round; they do not occur in practice.)
    x = np.array([-0.2, 0.0, 0.51 / 255, 0.49 / 255, 0.31, 1.0, 1.7], np.float32)
    want = np.array([0, 0, 1 / 255, 0, 79 / 255, 1, 1], np.float32)  # 0.31·255 = 79.05 → 79
    np.testing.assert_allclose(_np(quantize(x)), want, atol=1e-7)
    q = _np(quantize(_img(5, 5)))
    np.testing.assert_allclose(q * 255, np.round(q * 255), atol=1e-4)


# ------------------------------------------- eager == tf.data.map == dynamic shapes

SIZES = [(12, 10), (9, 15), (16, 16)]  # different sizes, odd and even
K = np.asarray(gaussian_kernel(4.0, 1.0, -0.5), np.float32)

OPS = {
    "blur": lambda x: blur(x, K),
    "blur_even_kernel": lambda x: blur(x, K[:14, 1:]),
    "subsample_direct": lambda x: subsample_direct(x, 2),
    "subsample_bicubic": lambda x: subsample_bicubic(x, 2),
    "imresize_up2": lambda x: imresize(x, 2.0),
    "imresize_up4": lambda x: imresize(x, 4),
    "add_noise": lambda x: add_noise(x, 0.03, seed=11),
    "quantize": quantize,
    "degrade_direct": lambda x: degrade(x, 2, kernel=K, subsampling="direct", round_uint8=True),
    "degrade_bicubic": lambda x: degrade(x, 2, kernel=K, subsampling="bicubic", noise_sigma=0.01, seed=3),
}


def _images():
    return [_img(h, w, seed=i) for i, (h, w) in enumerate(SIZES)]


def _dataset():
    imgs = _images()
    return tf.data.Dataset.from_generator(
        lambda: iter(imgs), output_signature=tf.TensorSpec([None, None, 3], tf.float32)
    )


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_eager_equals_dataset_map_and_dynamic_shapes(name):
    op = OPS[name]
    eager = [_np(op(x[None]))[0] for x in _images()]

    ds = _dataset().map(lambda x: op(x[None])[0])
    mapped = [y.numpy() for y in ds]

    fn = tf.function(lambda x: op(x), input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    dynamic = [fn(x[None]).numpy()[0] for x in _images()]

    assert len(mapped) == len(eager) == 3
    for e, m, d in zip(eager, mapped, dynamic):
        assert e.shape == m.shape == d.shape
        np.testing.assert_allclose(m, e, atol=1e-5)
        np.testing.assert_allclose(d, e, atol=1e-5)


def test_kernels_in_dataset_map_and_dynamic_size():
    params = np.array([[2.0, 2.0, 0.0], [4.0, 1.0, -0.5], [3.0, 1.5, 2.0]], np.float32)
    eager = [_np(gaussian_kernel(*p)) for p in params]
    ds = tf.data.Dataset.from_tensor_slices(params).map(lambda p: gaussian_kernel(p[0], p[1], p[2]))
    for e, m in zip(eager, ds):
        np.testing.assert_allclose(m.numpy(), e, atol=1e-6)

    eager_r = [_np(random_kernel(2, 1)[0])]
    ds = tf.data.Dataset.range(3).map(lambda i: random_kernel(2, 1)[0])
    for m in ds:  # an int seed is stateless: the same kernel every element
        np.testing.assert_allclose(m.numpy(), eager_r[0], atol=1e-6)

    # A kernel built and applied inside the map on a dynamically sized image.
    def kernel_and_blur(x, p):
        k = gaussian_kernel(p[0], p[1], p[2], size=9)
        return blur(x[None], k)[0]

    imgs = _images()
    ds = tf.data.Dataset.zip((_dataset(), tf.data.Dataset.from_tensor_slices(params))).map(kernel_and_blur)
    for x, p, m in zip(imgs, params, ds):
        want = _scipy_blur(x, _np(gaussian_kernel(*p, size=9)))
        np.testing.assert_allclose(m.numpy(), want, atol=1e-5)


def test_noise_in_dataset_matches_eager_seeded():
    x = _img(20, 20)
    ds = tf.data.Dataset.from_tensors(x).map(lambda t: add_noise(t[None], 0.05, seed=5)[0])
    m = next(iter(ds)).numpy()
    np.testing.assert_array_equal(m, _np(add_noise(x[None], 0.05, seed=5))[0])
    n = m - x
    assert abs(n.std() - 0.05) < 0.006
