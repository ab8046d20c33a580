"""The Figure-3 curve agrees with the one-shot zero_shot_sr at every step count."""
import numpy as np
from keras import ops

from mzsr_tf.adapt import step_size_schedule, zero_shot_sr
from mzsr_tf.evaluate.figure3 import psnr_curve
from mzsr_tf.metrics import psnr
from mzsr_tf.model import build_model, get_params
from mzsr_tf.scenarios import get_scenario, make_lr, to_uint8


def _one_shot_psnr(params, hr, steps, compute_dtype=None):
    """PSNR of one zero_shot_sr call with ``steps`` reference steps on g^d_2.0 ×2 (the curve's reference)."""
    sc = get_scenario("g2.0")
    hr_c, lr = make_lr(hr, sc)
    lr_t = ops.convert_to_tensor(lr[None].astype(np.float32) / 255.0)
    sr = zero_shot_sr(params, lr_t, 2, sc.kernel(), "direct", tuple(step_size_schedule(steps, "direct", 2)),
                      compute_dtype=compute_dtype)
    return psnr(to_uint8(np.asarray(sr)[0]), hr_c, crop_border=2, y_channel=True)


def test_curve_matches_zero_shot_sr():
    rng = np.random.default_rng(0)
    hr = (np.kron(rng.random((10, 10, 3)), np.ones((4, 4, 1))) * 255).astype(np.uint8)
    params = get_params(build_model())
    curve = psnr_curve(params, [hr], "g2.0", 2)
    assert curve.shape == (1, 3)
    for n in (0, 2):
        assert abs(curve[0, n] - _one_shot_psnr(params, hr, n)) < 0.02


def test_adam_curve_starts_at_the_same_point_and_takes_adam_steps():
    from mzsr_tf.evaluate.figure3 import _adam_steps

    rng = np.random.default_rng(1)
    hr = (np.kron(rng.random((10, 10, 3)), np.ones((4, 4, 1))) * 255).astype(np.uint8)
    params = get_params(build_model())
    gd = psnr_curve(params, [hr], "g2.0", 2)
    adam = psnr_curve(params, [hr], "g2.0", 2, optimizer="adam", adam_rate=1e-3)
    assert adam[0, 0] == gd[0, 0]
    assert adam[0, 1] != gd[0, 1]
    # Adam's first step moves each weight by at most its learning rate, and most weights by about that.
    _, lr = make_lr(hr, get_scenario("g2.0"))
    steps = _adam_steps(params, lr[None].astype(np.float32) / 255.0, 2, get_scenario("g2.0").kernel(), "direct", 1e-3)
    start, after = next(steps), next(steps)
    moves = np.concatenate([np.abs(np.asarray(a) - np.asarray(b)).ravel() for a, b in zip(after, start)])
    assert moves.max() <= 1e-3 * 1.001
    assert np.median(moves) > 0.9e-3


def test_unknown_optimizer_is_refused():
    import pytest

    with pytest.raises(ValueError, match="optimizer"):
        psnr_curve([], [], "g2.0", 1, optimizer="sgd")


def test_adam_curve_of_a_kernel_aware_network_tells_it_the_code():
    """The Adam baseline's son task carries the code: its steps differ from those of the same net told no blur."""
    from mzsr_tf.evaluate.figure3 import _adam_steps
    from mzsr_tf.kernel_code import code_for, fit_pca
    from mzsr_tf.model import add_code_inputs

    rng = np.random.default_rng(2)
    hr = (np.kron(rng.random((10, 10, 3)), np.ones((4, 4, 1))) * 255).astype(np.uint8)
    pca = fit_pca(2, 3, lambda_min=0.2, samples=500)[:2]
    params = add_code_inputs(get_params(build_model()), 3)
    w0 = np.asarray(params[0]).copy()
    w0[:, :, 3:] = rng.normal(0, 0.05, w0[:, :, 3:].shape)
    params = [ops.convert_to_tensor(w0)] + params[1:]
    curve = psnr_curve(params, [hr], "g2.0", 1, optimizer="adam", adam_rate=1e-3, kernel_pca=pca)
    gd = psnr_curve(params, [hr], "g2.0", 0, kernel_pca=pca)
    assert curve.shape == (1, 2) and curve[0, 0] == gd[0, 0]
    sc = get_scenario("g2.0")
    lr = make_lr(hr, sc)[1][None].astype(np.float32) / 255.0
    told = [next(s) and next(s) for s in (_adam_steps(params, lr, 2, sc.kernel(), "direct", 1e-3, code_for(pca, sc.kernel())),
                                           _adam_steps(params, lr, 2, sc.kernel(), "direct", 1e-3, code_for(pca, None)))]
    assert not np.allclose(np.asarray(told[0][0]), np.asarray(told[1][0]))


def test_curve_in_bfloat16_is_upscale_in_bfloat16():
    # Figure 3 runs at upscale's precision, so its step-0 point is evaluate's to the last digit.
    rng = np.random.default_rng(0)
    hr = (np.kron(rng.random((10, 10, 3)), np.ones((4, 4, 1))) * 255).astype(np.uint8)
    params = get_params(build_model())
    f32 = psnr_curve(params, [hr], "g2.0", 2)
    bf16 = psnr_curve(params, [hr], "g2.0", 2, compute_dtype="bfloat16")
    for n in (0, 2):
        assert abs(bf16[0, n] - _one_shot_psnr(params, hr, n, "bfloat16")) < (1e-6 if n == 0 else 0.02)
    assert bf16[0, 0] != f32[0, 0]
