"""ZSSR baseline: fathers and sons, augmentation, Adam, the learning-rate policy, a short run."""
import numpy as np
import pytest
import keras
from keras import ops

from mzsr_tf.adapt import l1_loss, son_input
from mzsr_tf.train.optim import adam_init, adam_update
from mzsr_tf import zssr
from mzsr_tf.degrade import blur
from mzsr_tf.ensemble import transform
from mzsr_tf.kernels import named_kernel
from mzsr_tf.model import count_params
from mzsr_tf.resize import imresize


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


def _smooth_image(h, w, seed=0):
    """A small structured test image (sums of random sinusoids) in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        for _ in range(4):
            fy, fx, ph = rng.uniform(0.05, 0.6), rng.uniform(0.05, 0.6), rng.uniform(0, 6.3)
            img[..., c] += np.sin(fy * y + fx * x + ph)
    img = (img - img.min()) / (img.max() - img.min())
    return img[None].astype(np.float32)


def test_init_params_seeded_and_sized():
    a, b, c = zssr.init_params(3), zssr.init_params(3), zssr.init_params(4)
    assert count_params(a) == 225_091
    np.testing.assert_array_equal(_np(a[0]), _np(b[0]))
    assert not np.allclose(_np(a[0]), _np(c[0]))
    assert all(np.all(_np(p) == 0) for p in a[1::2])
    # N(0, 0.1 / fan_in): the 64→64 layers have std sqrt(0.1 / 576) ≈ 0.0132
    assert abs(_np(a[2]).std() - np.sqrt(0.1 / 576)) < 0.001


def test_fathers_are_image_and_downscaled_copies():
    lr = _smooth_image(40, 30)
    fathers, probs = zssr.make_fathers(lr, 2, father_scales=(1.0, 0.75, 0.5), crop_size=16)
    assert [f.shape for f in fathers] == [(40, 30, 3), (30, 23, 3), (20, 15, 3)]
    np.testing.assert_array_equal(fathers[0], lr[0])
    np.testing.assert_allclose(fathers[2], np.clip(_np(imresize(lr, 0.5))[0], 0, 1), atol=1e-6)
    areas = np.array([40 * 30, 30 * 23, 20 * 15], np.float64)
    np.testing.assert_allclose(probs, areas / areas.sum())
    # A copy too small to have a son at this crop size is dropped.
    fathers, probs = zssr.make_fathers(lr, 2, father_scales=(1.0, 0.1), crop_size=16)
    assert len(fathers) == 1 and probs.tolist() == [1.0]


def test_crops_are_square_multiples_of_scale_inside_the_father():
    fathers, probs = zssr.make_fathers(_smooth_image(40, 31), 2, (1.0, 0.5), crop_size=16)
    rng = np.random.default_rng(0)
    seen_k, seen_f = set(), set()
    for _ in range(200):
        crop, (i, top, left, k) = zssr.sample_crop(fathers, probs, 16, 2, rng)
        side = zssr.crop_side(fathers[i].shape, 16, 2)
        assert crop.shape == (1, side, side, 3) and side % 2 == 0
        assert top + side <= fathers[i].shape[0] and left + side <= fathers[i].shape[1]
        raw = fathers[i][None, top : top + side, left : left + side]
        np.testing.assert_array_equal(crop, _np(transform(raw, k)))
        seen_k.add(k)
        seen_f.add(i)
    assert seen_k == set(range(8)) and seen_f == {0, 1}
    # A father with a side under the crop size gets the largest even square that fits.
    assert zssr.crop_side((20, 15, 3), 16, 2) == 14 and zssr.crop_side((9, 40, 3), 16, 3) == 9


def test_sampling_is_seeded():
    fathers, probs = zssr.make_fathers(_smooth_image(40, 40), 2, (1.0, 0.8, 0.6), crop_size=16)
    draws = []
    for _ in range(2):
        rng = np.random.default_rng(7)
        draws.append([zssr.sample_crop(fathers, probs, 16, 2, rng)[1] for _ in range(20)])
    assert draws[0] == draws[1]


@pytest.mark.parametrize("subsampling", ["direct", "bicubic"])
def test_son_is_the_father_degraded_with_the_kernel(subsampling):
    hr = _smooth_image(16, 16)
    k = named_kernel("g2.0")
    x = _np(son_input(hr, 2, k, subsampling))
    blurred = _np(blur(hr, k))
    son = blurred[:, ::2, ::2] if subsampling == "direct" else _np(imresize(blurred, 0.5))
    assert x.shape == hr.shape
    np.testing.assert_allclose(x, _np(imresize(son, 2.0, out_hw=(16, 16))), atol=1e-5)


def test_adam_matches_keras_adam():
    w0 = np.array([1.0, -2.0, 0.5], np.float32)
    target = np.array([0.3, 0.1, -0.4], np.float32)
    params = [ops.convert_to_tensor(w0)]
    state = adam_init(params)
    var = keras.Variable(w0)
    opt = keras.optimizers.Adam(learning_rate=0.05, epsilon=1e-8)
    for _ in range(5):
        g_ours = [2 * (params[0] - target)]
        params, state = adam_update(params, g_ours, state, ops.convert_to_tensor(0.05))
        opt.apply_gradients([(ops.convert_to_tensor(2 * (_np(var.value) - target)), var)])
    np.testing.assert_allclose(_np(params[0]), _np(var.value), atol=1e-6)


def _policy(**kw):
    cfg = zssr.ZSSRConfig(**kw)
    return zssr.LRPolicy(cfg), cfg


def _run_policy(policy, cfg, error_at, iters):
    for it in range(iters):
        if policy.done:
            return it
        if (it + 1) % cfg.test_every == 0:
            policy.record(it, error_at(it))
        policy.step(it)
    return iters


def test_lr_policy_keeps_rate_while_error_falls_clearly():
    policy, cfg = _policy()
    _run_policy(policy, cfg, lambda it: 1.0 - 1e-4 * it, 1500)
    assert policy.rate == 1e-3 and policy.changes == []


def test_lr_policy_drops_on_plateau_and_stops_at_floor():
    policy, cfg = _policy()
    rng = np.random.default_rng(0)
    stopped_at = _run_policy(policy, cfg, lambda it: 0.5 + 1e-3 * rng.standard_normal(), 3000)
    assert len(policy.changes) == 3 and policy.done
    assert policy.rate == pytest.approx(1e-6)
    # Drops only at check points, and never within min_iters of the last one.
    starts = [0] + policy.changes[:-1]
    for prev, c in zip(starts, policy.changes):
        assert (c + 1) % cfg.check_every == 0 and c - prev > cfg.min_iters
    assert stopped_at == policy.changes[-1] + 1 < 3000


def test_lr_policy_rule_on_a_fit():
    policy, _ = _policy()
    for t, e in [(49, 1.0), (99, 0.9), (149, 0.8), (199, 0.7), (249, 0.6)]:
        policy.record(t, e)
    b, std = policy.slope(299)
    assert b == pytest.approx(-0.002) and std == pytest.approx(0.0, abs=1e-9)
    # A noisy, non-falling set: std of the slope beats 1.5 × (−slope): drop.
    policy, _ = _policy()
    for t, e in [(49, 0.5), (99, 0.52), (149, 0.49), (199, 0.51), (249, 0.5)]:
        policy.record(t, e)
    b, std = policy.slope(299)
    assert -1.5 * b < std
    assert policy.step(299) and policy.rate == pytest.approx(1e-4)


def test_short_run_lowers_loss_and_output():
    lr = _smooth_image(24, 24, seed=1)
    k = named_kernel("g2.0", size=7)
    cfg = zssr.ZSSRConfig(max_iters=60, crop_size=16, test_every=20, father_scales=(1.0, 0.8), ensemble=False)
    x = son_input(lr, 2, k, "direct")  # the whole image's son → the image itself
    before = float(l1_loss(zssr.init_params(0), x, lr))
    params, hist = zssr.train(lr, 2, k, "direct", cfg, seed=0)
    after = float(l1_loss(params, x, lr))
    assert hist["iterations"] == 60 and hist["stopped"] == "max_iters" and len(hist["errors"]) == 3
    assert after < 0.85 * before
    sr = _np(zssr.super_resolve(params, lr, 2, k, "direct", ensemble=True, back_projection_iters=2))
    assert sr.shape == (1, 48, 48, 3) and sr.min() >= 0 and sr.max() <= 1


def test_zssr_seeded_and_capped():
    lr = _smooth_image(16, 16, seed=2)
    cfg = zssr.ZSSRConfig(max_iters=5, crop_size=16, ensemble=False)
    a, ia = zssr.zssr(lr, 2, None, "bicubic", cfg, seed=5)
    b, ib = zssr.zssr(lr, 2, None, "bicubic", cfg, seed=5)
    assert ia["iterations"] == 5
    np.testing.assert_allclose(ia["losses"], ib["losses"], rtol=1e-5)
    np.testing.assert_allclose(_np(a), _np(b), atol=1e-5)


# --------------------------------------------------------------------------- commands and tables


def _hr_dir(tmp_path, name="hr"):
    from PIL import Image

    d = tmp_path / name
    d.mkdir()
    img = (_smooth_image(24, 28, seed=3)[0] * 255).round().astype(np.uint8)
    Image.fromarray(img).save(d / "a.png")
    return d


def test_evaluate_zssr_prints_table2(tmp_path, capsys):
    import json

    from mzsr_tf import evaluate

    js = tmp_path / "r.json"
    rc = evaluate.main(["--hr-dir", str(_hr_dir(tmp_path, "Set5")), "--scenario", "g2.0", "--method", "bicubic", "zssr",
                        "--zssr-iters", "3", "--no-ensemble", "--no-table4", "--json", str(js)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Table 2 (Set5)" in out and "[28.73]" in out and "[34.90]" in out  # paper g^d_2.0 bicubic, ZSSR
    assert "Table 4" not in out
    rep = json.loads(js.read_text())
    col = rep["scenarios"]["g2.0"]["columns"]["zssr"]
    assert col["runs"][0]["iterations"] == 3 and col["max_iters"] == 3 and col["ensemble"] is False
    assert set(rep["table2"]["g2.0"]) == {"bicubic", "zssr"}


def test_table_formatting():
    from mzsr_tf.evaluate import paper_tables as comparison

    res = {"g0.2": {"bicubic": {"mean": {"psnr": 30.0, "ssim": 0.9}}, "mzsr(1)": {"mean": {"psnr": 33.0, "ssim": 0.95}}}}
    t2 = comparison.format_table2(res, "set5")
    assert "30.00/0.9000 [30.24]" in t2 and "33.00/0.9500 [33.14]" in t2
    assert "[  -  ]" in comparison.format_table2(res, None)
    t4 = comparison.format_table4([("zssr", "zssr", 300.0), ("mzsr(1)", "mzsr", 0.5), ("bicubic", "bicubic", 0.01)], "x")
    assert "600x" in t4 and "142.72 s" in t4 and "225,091" in t4
    assert comparison.parameters("zssr") == count_params(zssr.init_params(0))
    assert comparison.paper_set("/data/benchmark/Set5/") == "set5" and comparison.paper_set("/x/mine") is None


def test_upscale_api_zssr():
    import mzsr_tf

    img = (_smooth_image(16, 20, seed=4)[0] * 255).round().astype(np.uint8)
    sr = mzsr_tf.upscale(img, scale=2, kernel="g2.0", method="zssr", zssr_iters=2, ensemble=False)
    assert sr.shape == (32, 40, 3) and sr.dtype == np.uint8
    from mzsr_tf.errors import InputError

    with pytest.raises(InputError, match="method"):
        mzsr_tf.upscale(img, method="srcnn")
