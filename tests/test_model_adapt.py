"""Network size and forward pass, adaptation steps, step-size schedule, zero_shot_sr."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from mzsr_tf import backend
from mzsr_tf.adapt import adapt, adapt_trajectory, l1_loss, sgd_step, son_input, step_size_schedule, zero_shot_sr
from mzsr_tf.degrade import degrade
from mzsr_tf.kernels import gaussian_kernel
from mzsr_tf.model import build_model, count_params, forward, get_params, set_params
from mzsr_tf.resize import imresize


def _np(t):
    return np.asarray(ops.convert_to_numpy(t))


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_model()


@pytest.fixture(scope="module")
def params(model):
    return get_params(model)


@pytest.fixture(scope="module")
def small_params():
    """A small random-weight net (same architecture, fewer channels) far from the identity."""
    keras.utils.set_random_seed(1)
    return get_params(build_model(depth=4, width=8))


def _pair(seed=0, size=16):
    rng = np.random.default_rng(seed)
    y = rng.random((1, size, size, 3)).astype(np.float32)
    x = np.clip(y + rng.normal(0, 0.1, y.shape), 0, 1).astype(np.float32)
    return x, y


# ------------------------------------------------------------------- network


def test_parameter_count(model, params):
    # 3·3·3·64+64 = 1,792; 6 × (3·3·64·64+64) = 221,568; 3·3·64·3+3 = 1,731 → 225,091
    assert count_params(params) == 225_091
    assert model.count_params() == 225_091
    assert len(params) == 16
    assert [tuple(p.shape) for p in params[:2]] == [(3, 3, 3, 64), (64,)]
    assert [tuple(p.shape) for p in params[-2:]] == [(3, 3, 64, 3), (3,)]


def test_forward_equals_keras_model(model, params):
    x = np.random.default_rng(0).random((2, 13, 17, 3)).astype(np.float32)
    np.testing.assert_allclose(_np(forward(params, x)), _np(model(x)), atol=1e-5)
    # Zero weights: the global residual makes the net the identity on the ILR.
    zeros = [ops.zeros_like(p) for p in params]
    np.testing.assert_allclose(_np(forward(zeros, x)), x, atol=0)


def test_set_params_roundtrip():
    keras.utils.set_random_seed(3)
    m = build_model()
    p = [v * 0.5 for v in get_params(m)]
    set_params(m, p)
    for a, b in zip(get_params(m), p):
        np.testing.assert_array_equal(_np(a), _np(b))


# ------------------------------------------------------------------ adaptation


def test_adapt_zero_steps_is_identity(params):
    x, y = _pair()
    fast = adapt(params, x, y, [])
    assert len(fast) == len(params)
    for a, b in zip(fast, params):
        np.testing.assert_array_equal(_np(a), _np(b))
    np.testing.assert_array_equal(_np(forward(fast, x)), _np(forward(params, x)))
    losses, traj = adapt_trajectory(params, x, y, [])
    assert losses == [] and traj == []


def test_adapt_lowers_son_loss(small_params):
    x, y = _pair()
    before = float(_np(l1_loss(small_params, x, y)))
    after1 = float(_np(l1_loss(adapt(small_params, x, y, [0.01]), x, y)))
    after3 = float(_np(l1_loss(adapt(small_params, x, y, [0.01] * 3), x, y)))
    assert before > 0.05  # not already perfect
    assert after1 < before
    assert after3 < after1
    # adapt_trajectory reports the loss before every step, and they decrease.
    losses, traj = adapt_trajectory(small_params, x, y, [0.01] * 3)
    losses = [float(_np(v)) for v in losses]
    np.testing.assert_allclose(losses[0], before, rtol=1e-6)
    assert losses[0] > losses[1] > losses[2]
    assert len(traj) == 3
    for a, b in zip(traj[-1], adapt(small_params, x, y, [0.01] * 3)):
        np.testing.assert_allclose(_np(a), _np(b), atol=1e-7)


def test_sgd_step_is_plain_gradient_descent(small_params):
    x, y = _pair(1)
    loss, new = sgd_step(small_params, x, y, 0.05)
    with tf.GradientTape() as tape:
        tape.watch(small_params)
        ref = l1_loss(small_params, x, y)
    grads = tape.gradient(ref, small_params)
    np.testing.assert_allclose(_np(loss), _np(ref), rtol=1e-6)
    for p, g, n in zip(small_params, grads, new):
        np.testing.assert_allclose(_np(n), _np(p) - 0.05 * _np(g), atol=1e-6)


def test_adapt_full_network_lowers_loss(params):
    x, y = _pair(2)
    before = float(_np(l1_loss(params, x, y)))
    after = float(_np(l1_loss(adapt(params, x, y, [0.01]), x, y)))
    assert after < before


def test_second_order_gradient_flows_through_adapt(small_params):
    """Meta-training differentiates through the inner steps: second-order ≠ first-order."""
    x, y = _pair(3)
    xt, yt = _pair(4)

    def outer(p, first_order):
        return l1_loss(adapt(p, x, y, [0.05, 0.05], first_order=first_order), xt, yt)

    _, g2 = backend.value_and_grad(lambda p: outer(p, False), small_params)
    _, g1 = backend.value_and_grad(lambda p: outer(p, True), small_params)
    assert all(g is not None for g in g2)
    diff = max(float(np.abs(_np(a) - _np(b)).max()) for a, b in zip(g2, g1))
    assert diff > 1e-7


# ---------------------------------------------------------------- step sizes

# The reference code's test-time step sizes (steps counted from 0): step 0, then (steps 1..k), after.
REFERENCE_TABLE = {
    ("direct", 2): [0.02, 0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005],
    ("bicubic", 2): [0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001],
    ("direct", 4): [0.01, 0.005, 0.005, 0.005, 0.005, 0.001, 0.001, 0.001, 0.001, 0.001],
    ("multi", 0): [0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005],
}


@pytest.mark.parametrize("key", sorted(REFERENCE_TABLE))
def test_step_size_schedule_matches_reference(key):
    sub, scale = key
    want = REFERENCE_TABLE[key]
    assert step_size_schedule(10, sub, scale) == pytest.approx(want)
    for n in (0, 1, 3, 5):
        assert step_size_schedule(n, sub, scale) == pytest.approx(want[:n])
    assert len(step_size_schedule(25, sub, scale)) == 25
    assert step_size_schedule(25, sub, scale)[-1] == pytest.approx(want[-1])


def test_step_size_schedule_defaults_and_fallback():
    assert step_size_schedule(10) == pytest.approx(REFERENCE_TABLE[("direct", 2)])
    assert step_size_schedule(10, "bicubic", 3) == pytest.approx(REFERENCE_TABLE[("multi", 0)])


# -------------------------------------------------------------- zero_shot_sr


@pytest.mark.parametrize("scale", [2, 4])
def test_zero_shot_sr_without_steps_is_clipped_forward_of_ilr(params, scale):
    lr = np.random.default_rng(5).random((1, 10, 12, 3)).astype(np.float32)
    k = _np(gaussian_kernel(2.0, 2.0, 0.0))
    sr = _np(zero_shot_sr(params, lr, scale, kernel=k, subsampling="direct", step_sizes=()))
    want = np.clip(_np(forward(params, imresize(lr, float(scale)))), 0.0, 1.0)
    assert sr.shape == (1, 10 * scale, 12 * scale, 3)
    np.testing.assert_allclose(sr, want, atol=1e-5)
    sr_nok = _np(zero_shot_sr(params, lr, scale, kernel=None, step_sizes=()))
    np.testing.assert_allclose(sr_nok, want, atol=1e-5)


@pytest.mark.parametrize("subsampling", ["direct", "bicubic"])
def test_zero_shot_sr_with_steps_matches_algorithm_2(small_params, subsampling):
    """SR = clip(f_θ'(ILR(LR))), θ' = n steps of L1(f(ILR(son)), LR), son = degrade(LR)."""
    lr = np.random.default_rng(6).random((1, 12, 10, 3)).astype(np.float32)
    k = _np(gaussian_kernel(4.0, 1.0, -0.5))
    steps = (0.02, 0.01)
    sr = _np(zero_shot_sr(small_params, lr, 2, kernel=k, subsampling=subsampling, step_sizes=steps))

    son = degrade(lr, 2, kernel=k, subsampling=subsampling)
    son_ilr = imresize(son, 2.0, out_hw=(12, 10))
    np.testing.assert_allclose(_np(son_input(lr, 2, k, subsampling)), _np(son_ilr), atol=0)
    fast = adapt(small_params, son_ilr, lr, list(steps))
    want = np.clip(_np(forward(fast, imresize(lr, 2.0))), 0.0, 1.0)
    np.testing.assert_allclose(sr, want, atol=1e-5)
    # ...and the steps changed something.
    none = _np(zero_shot_sr(small_params, lr, 2, kernel=k, subsampling=subsampling, step_sizes=()))
    assert np.abs(sr - none).max() > 1e-4


def test_zero_shot_sr_compiles_once_for_kinds_schedules_and_sizes(model):
    """Variables, arrays, tensors, two schedules, two image sizes, with and without a kernel: one trace."""
    lr = np.random.default_rng(7).random((1, 8, 8, 3)).astype(np.float32)
    steps = (0.0123,)
    variables = list(model.trainable_variables)
    tensors = [tf.convert_to_tensor(v) for v in variables]
    arrays = [v.numpy() for v in variables]
    outs = [_np(zero_shot_sr(p, lr, 4, step_sizes=steps)) for p in (tensors, arrays, variables)]
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])
    zero_shot_sr(arrays, lr, 4, step_sizes=(0.02, 0.01, 0.01))
    zero_shot_sr(arrays, lr[:, :6], 4, kernel=np.full((3, 3), 1 / 9, np.float32), step_sizes=())
    fn = backend._CACHE[("zero_shot", 4, "direct", "float32")]
    assert fn.tracing_count() == 1


@pytest.mark.parametrize("n", [0, 1, 10])
def test_loop_form_equals_unrolled_form(small_params, n):
    """adapt() with a tensor step count (loop op) gives the unrolled result."""
    rng = np.random.default_rng(8)
    x = rng.random((1, 10, 12, 3)).astype(np.float32)
    y = rng.random((1, 10, 12, 3)).astype(np.float32)
    sizes = step_size_schedule(n, "direct", 2)
    unrolled = adapt(small_params, x, y, sizes)
    looped = adapt(small_params, x, y, tf.constant(sizes + [0.0]), n_steps=tf.constant(n))
    for a, b in zip(unrolled, looped):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-5, atol=1e-6)
