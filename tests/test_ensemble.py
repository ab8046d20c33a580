"""Self-ensemble: dihedral transforms, their inverses, direct-grid registration, back-projection."""
import numpy as np
import pytest
from keras import ops

from mzsr_tf import ensemble
from mzsr_tf.degrade import degrade
from mzsr_tf.model import build_model, get_params


def _np(x):
    return np.asarray(ops.convert_to_numpy(x))


@pytest.fixture(scope="module")
def img():
    rng = np.random.default_rng(0)
    return rng.random((1, 6, 10, 3)).astype(np.float32)  # non-square on purpose


def test_eight_distinct_transforms_and_inverses(img):
    outs = [_np(ensemble.transform(img, k)) for k in range(8)]
    flat = {o.tobytes() for o in outs}
    assert len(flat) == 8
    for k in range(8):
        back = _np(ensemble.inverse(ensemble.transform(img, k), k))
        np.testing.assert_array_equal(back, img)


def _runs_backwards(index_image):
    """Whether the original axis encoded in ``index_image`` (H', W') runs backwards after a transform."""
    along_rows = np.ptp(index_image[:, 0]) > 0  # it varies down the output's rows
    line = index_image[:, 0] if along_rows else index_image[0, :]
    return bool(line[-1] < line[0])


def test_reversed_axes_table():
    h, w = 6, 10
    rows = np.broadcast_to(np.arange(h, dtype=np.float32)[None, :, None, None], (1, h, w, 1))
    cols = np.broadcast_to(np.arange(w, dtype=np.float32)[None, None, :, None], (1, h, w, 1))
    for k in range(8):
        r = _np(ensemble.transform(rows, k))[0, :, :, 0]
        c = _np(ensemble.transform(cols, k))[0, :, :, 0]
        assert ensemble.REVERSED[k] == (_runs_backwards(r), _runs_backwards(c)), k


@pytest.mark.parametrize("reduce", ["mean", "median"])
def test_identity_network_returns_input(img, reduce):
    out = _np(ensemble.self_ensemble(lambda x: x, img, scale=1, reduce=reduce))
    np.testing.assert_allclose(out, img, atol=1e-7)


def test_identity_network_bicubic_scale2(img):
    # A "network" that is the identity at the HR size: an ensemble of it returns the input.
    out = _np(ensemble.self_ensemble(lambda x: x, img, scale=2, subsampling="bicubic"))
    np.testing.assert_allclose(out, img, atol=1e-7)


def _direct_oracle(x, s=2):
    """An oracle for direct subsampling: HR pixel (s·m, s·n) gets LR pixel (m, n), the rest 0."""
    x = _np(x)
    out = np.zeros((x.shape[0], s * x.shape[1], s * x.shape[2], x.shape[3]), np.float32)
    out[:, ::s, ::s] = x
    return ops.convert_to_tensor(out)


@pytest.mark.parametrize("s", [2, 3])
def test_direct_subsampling_is_reregistered(img, s):
    # Every orientation agrees with the oracle's own registration once re-registered.
    out = _np(ensemble.self_ensemble(lambda x: _direct_oracle(x, s), img, scale=s, subsampling="direct"))
    # (the last s - 1 rows and columns repeat the edge after the shift)
    e = s - 1
    np.testing.assert_allclose(out[:, :-e, :-e], _np(_direct_oracle(img, s))[:, :-e, :-e], atol=1e-6)
    # Without the correction the variants with a reversed axis land s - 1 pixels off.
    plain = _np(ensemble.self_ensemble(lambda x: _direct_oracle(x, s), img, scale=s, subsampling="bicubic"))
    # Only k = 0 and k = 7 (a transpose) reverse no axis: 2 of 8 variants hit the grid.
    np.testing.assert_allclose(plain[:, ::s, ::s], img * 2 / 8, atol=1e-6)


def test_back_projection_fixed_point_and_contraction():
    rng = np.random.default_rng(1)
    hr = rng.random((1, 16, 16, 3)).astype(np.float32) * 0.8 + 0.1
    k = np.full((3, 3), 1 / 9, np.float32)
    lr = degrade(hr, 2, k, "bicubic")
    same = _np(ensemble.back_project(ops.convert_to_tensor(hr), lr, 2, k, "bicubic", iters=3))
    np.testing.assert_allclose(same, hr, atol=1e-5)
    start = np.full_like(hr, 0.5)
    before = np.abs(_np(degrade(start, 2, k, "bicubic")) - _np(lr)).mean()
    bp = ensemble.back_project(ops.convert_to_tensor(start), lr, 2, k, "bicubic", iters=5)
    after = np.abs(_np(degrade(bp, 2, k, "bicubic")) - _np(lr)).mean()
    assert after < 0.5 * before


def test_mzsr_ensemble_shapes_and_zero_steps():
    params = get_params(build_model())
    rng = np.random.default_rng(2)
    lr = rng.random((1, 12, 16, 3)).astype(np.float32)
    sr = _np(ensemble.zero_shot_sr_ensemble(params, lr, 2, None, "bicubic", step_sizes=()))
    assert sr.shape == (1, 24, 32, 3)
    assert sr.min() >= 0.0 and sr.max() <= 1.0
    fast = ensemble.adapted_params(params, lr, 2, np.full((3, 3), 1 / 9, np.float32), "direct", (0.01,))
    assert len(fast) == len(params)
    assert not np.allclose(_np(fast[0]), _np(params[0]))


def test_rot90_matches_numpy(img):
    for k in range(-3, 5):
        np.testing.assert_array_equal(_np(ensemble.rot90(img, k)), np.rot90(img, k, axes=(1, 2)))


def test_evaluate_mzsr_ensemble(tmp_path, capsys, weights_file):
    import json

    from PIL import Image

    from mzsr_tf import evaluate

    d = tmp_path / "hr"
    d.mkdir()
    rng = np.random.default_rng(5)
    Image.fromarray((rng.random((20, 24, 3)) * 255).astype(np.uint8)).save(d / "a.png")
    js = tmp_path / "r.json"
    rc = evaluate.main(["--hr-dir", str(d), "--scenario", "g2.0", "--method", "mzsr", "--steps", "1",
                        "--weights", weights_file, "--ensemble", "--json", str(js)])
    out = capsys.readouterr().out
    assert rc == 0 and "with --ensemble" in out and "Table 4" not in out
    assert np.isfinite(json.loads(js.read_text())["table2"]["g2.0"]["mzsr(1)"]["psnr"])


def test_bfloat16_compute_close_to_float32_and_trains_float32_weights():
    import keras

    from mzsr_tf import backend
    from mzsr_tf.adapt import l1_loss, zero_shot_sr
    from mzsr_tf.model import forward

    keras.utils.set_random_seed(3)
    params = get_params(build_model())  # Glorot weights: a residual far from zero
    rng = np.random.default_rng(6)
    x = rng.random((1, 12, 12, 3)).astype(np.float32)
    a, b = _np(forward(params, x)), _np(forward(params, x, "bfloat16"))
    assert b.dtype == np.float32
    assert np.abs(a - b).max() < 0.02 * max(1.0, np.abs(a - x).max()) and not np.array_equal(a, b)
    _, grads = backend.value_and_grad(l1_loss, params, x, x, "bfloat16")
    assert all("float32" in str(g.dtype) for g in grads)
    sr = _np(zero_shot_sr(params, x, 2, None, "bicubic", (0.01,), compute_dtype="bfloat16"))
    ref = _np(zero_shot_sr(params, x, 2, None, "bicubic", (0.01,)))
    assert sr.shape == ref.shape == (1, 24, 24, 3) and np.abs(sr - ref).mean() < 0.01
