"""Kernel-aware networks: the kernel's PCA code, code maps, and the code carried through every path."""
import json
import os

import numpy as np
import pytest
from keras import ops

from mzsr_tf import kernel_code
from mzsr_tf.adapt import zero_shot_sr
from mzsr_tf.kernels import gaussian_kernel_np, named_kernel
from mzsr_tf.model import add_code_inputs, build_model, code_components, get_params, kernel_pca_of
from mzsr_tf.train.stages import save_weights
from mzsr_tf.weights import architecture, load_model


@pytest.fixture(scope="module")
def pca():
    mean, basis, explained = kernel_code.fit_pca(2, 6, lambda_min=0.2, samples=3000, size=15)
    return mean, basis, explained


def _aware_params(seed=0, components=6):
    """A kernel-aware network whose code weights are not zero (so the code changes the output)."""
    import keras

    keras.utils.set_random_seed(seed)
    params = add_code_inputs(get_params(build_model()), components)
    rng = np.random.default_rng(seed)
    w0 = np.asarray(params[0]).copy()
    w0[:, :, 3:] = rng.normal(0, 0.05, w0[:, :, 3:].shape)
    return [ops.convert_to_tensor(w0)] + params[1:]


def _lr(seed=0, h=24, w=28):
    return np.random.default_rng(seed).uniform(size=(1, h, w, 3)).astype(np.float32)


def test_basis_explains_the_training_kernels_and_separates_them(pca):
    mean, basis, explained = pca
    assert basis.shape == (6, 225) and mean.shape == (225,)
    assert explained > 0.995
    # Reconstruction of a kernel from the family through its code is close; an unrelated shape is not.
    k = gaussian_kernel_np(3.0, 1.2, 0.7, 15)
    unit = basis / np.linalg.norm(basis, axis=1, keepdims=True)
    recon = mean + unit.T @ (unit @ (k.ravel() - mean))
    assert np.abs(recon - k.ravel()).max() < 0.01
    codes = {n: np.asarray(kernel_code.code_for((mean, basis), named_kernel(n))) for n in ("g0.2", "g2.0", "gani")}
    none = np.asarray(kernel_code.code_for((mean, basis), None))
    assert np.linalg.norm(codes["g2.0"] - codes["gani"]) > 0.05
    assert np.linalg.norm(codes["g0.2"] - none) < np.linalg.norm(codes["g2.0"] - none)


def test_kernels_of_other_sizes_are_put_on_the_basis_grid(pca):
    mean, basis, _ = pca
    for side in (1, 7, 14, 21, 31):
        grid = np.asarray(kernel_code.on_grid(np.ones((side, side), np.float32) / side**2, 15))
        assert grid.shape == (15, 15) and grid.sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(np.asarray(kernel_code.on_grid([[1.0]], 15)), np.pad([[1.0]], 7))
    # The same Gaussian drawn on a 21x21 grid has (almost) the code of its 15x15 drawing.
    c15 = np.asarray(kernel_code.code_for((mean, basis), named_kernel("g2.0", 15)))
    c21 = np.asarray(kernel_code.code_for((mean, basis), named_kernel("g2.0", 21)))
    np.testing.assert_allclose(c21, c15, atol=2e-3)


def test_added_code_inputs_start_at_the_old_network_exactly(pca):
    import keras

    keras.utils.set_random_seed(3)
    old = get_params(build_model())
    new = add_code_inputs(old, 6)
    assert code_components(old) == 0 and code_components(new) == 6
    k, lr = named_kernel("gani"), _lr()
    a = np.asarray(zero_shot_sr(old, lr, 2, k, "direct", []))
    b = np.asarray(zero_shot_sr(new, lr, 2, k, "direct", [], kernel_pca=pca[:2]))
    np.testing.assert_array_equal(a, b)


def test_the_code_reaches_the_network_and_the_son_task(pca):
    params, lr = _aware_params(), _lr()
    outs = [np.asarray(zero_shot_sr(params, lr, 2, named_kernel(n), "direct", [0.01] * 2, kernel_pca=pca[:2]))
            for n in ("g2.0", "gani")]
    assert np.abs(outs[0] - outs[1]).mean() > 1e-4
    # One code for son and image: adapting with the code equals the loop written out by hand.
    from mzsr_tf.adapt import adapt, son_input, upscale_with

    k = named_kernel("gani")
    code = kernel_code.code_for(pca[:2], k)
    fast = adapt(params, son_input(ops.convert_to_tensor(lr), 2, k, "direct", code), ops.convert_to_tensor(lr),
                 [0.01, 0.01])
    by_hand = np.asarray(upscale_with(fast, ops.convert_to_tensor(lr), 2, code=code))
    np.testing.assert_allclose(outs[1], by_hand, atol=2e-5)


def test_weights_file_carries_the_basis_and_old_files_load_as_before(pca, tmp_path, weights_file):
    params = _aware_params()
    path = str(tmp_path / "aware.weights.h5")
    save_weights(params, path, pca[:2])
    assert architecture(path) == (6, 15) and architecture(weights_file) == (0, None)
    model = load_model(path)
    got = kernel_pca_of(model)
    np.testing.assert_array_equal(got[0], pca[0])
    np.testing.assert_array_equal(got[1], pca[1])
    for a, b in zip(get_params(model), params):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert kernel_pca_of(load_model(weights_file)) is None
    # The API runs it, the kernel given by name, and the estimate path gives the code of its estimate.
    import mzsr_tf

    img = (np.random.default_rng(1).uniform(size=(24, 24, 3)) * 255).astype(np.uint8)
    a = mzsr_tf.upscale(img, 2, kernel="g2.0", steps=1, weights=path)
    b = mzsr_tf.upscale(img, 2, kernel="gani", steps=1, weights=path)
    assert a.shape == (48, 48, 3) and np.abs(a.astype(int) - b.astype(int)).max() > 0


def test_ensemble_and_tiles_tell_each_variant_its_own_kernel(pca, tmp_path):
    """Tiled and whole-image runs agree; the ensemble's variants see their rotated kernels."""
    from mzsr_tf import methods
    from mzsr_tf.ensemble import super_resolve

    params = _aware_params(1)
    path = str(tmp_path / "aware.weights.h5")
    save_weights(params, path, pca[:2])
    lr = _lr(2, 160, 160)[0]
    k = gaussian_kernel_np(4.0, 1.0, 0.3, 15)
    opts = dict(scale=2, kernel=k, steps=0, weights=path)
    whole = methods.get("mzsr").run(lr, methods.Options(**opts))
    tiled_opts = methods.Options(**opts, max_memory=64 << 20)
    tiled = methods.get("mzsr").run(lr, tiled_opts)
    assert tiled_opts.notes.get("tiles", 0) > 1
    np.testing.assert_allclose(whole, tiled, atol=1e-4)
    plain = methods.get("mzsr").run(lr, methods.Options(**dict(opts, kernel=named_kernel("g0.2"))))
    assert np.abs(plain - whole).max() > 1e-3  # the tiles were told the kernel, not a default
    # For a network told only the kernel (image constant), the ensemble equals one pass when each
    # variant gets its transformed kernel; given the same code for all, it would not.
    flat = np.full((1, 20, 20, 3), 0.5, np.float32)
    one = np.asarray(super_resolve(params, flat, 2, "bicubic", kernel_pca=pca[:2], kernel=k))
    ens = np.asarray(super_resolve(params, flat, 2, "bicubic", ensemble=True, kernel_pca=pca[:2], kernel=k))
    inner = (slice(None), slice(10, -10), slice(10, -10))  # away from the zero padding's reach
    assert np.abs(one[inner] - ens[inner]).max() > 1e-4  # each variant was told its own (rotated) kernel
    same = np.asarray(super_resolve(params, flat, 2, "bicubic", ensemble=True, kernel_pca=pca[:2], kernel=np.eye(1)))
    one_none = np.asarray(super_resolve(params, flat, 2, "bicubic", kernel_pca=pca[:2], kernel=np.eye(1)))
    np.testing.assert_allclose(same[inner], one_none[inner], atol=1e-5)  # a symmetric kernel: all variants alike
    codes = [np.asarray(kernel_code.code_for(pca[:2], np.rot90(k, j))) for j in range(2)]
    assert np.abs(codes[0] - codes[1]).max() > 1e-3


def test_saved_model_projects_the_kernel_in_its_graph(pca, tmp_path):
    import tensorflow as tf

    from mzsr_tf.serve import export_saved_model

    params = _aware_params(2)
    out = str(tmp_path / "sm")
    meta = export_saved_model(out, [np.asarray(p) for p in params], 2, "direct", max_steps=3,
                              step_sizes=[0.01, 0.01, 0.01], kernel_pca=pca[:2])
    assert meta["kernel_code_components"] == 6
    loaded = tf.saved_model.load(out)
    img = (_lr(3, 24, 24) * 255).round().astype(np.uint8)
    for name in ("gani", "g2.0"):
        k = named_kernel(name, 21)  # another grid size than the basis's: projected in the graph
        got = loaded.signatures["serving_default"](image=tf.constant(img), kernel=tf.constant(k),
                                                   steps=tf.constant(2))["sr"].numpy()
        want = np.asarray(zero_shot_sr(params, img / 255.0, 2, k, "direct", [0.01, 0.01], kernel_pca=pca[:2]))
        assert np.abs(got.astype(float) - np.round(want * 255)).max() <= 1


def test_onnx_takes_the_code_as_a_second_input(pca, tmp_path):
    import onnxruntime as ort

    from mzsr_tf.adapt import upscale_sr
    from mzsr_tf.serve.onnx import export_onnx

    params = _aware_params(4)
    info = export_onnx([np.asarray(p) for p in params], str(tmp_path / "m.onnx"), scale=2)
    assert info["inputs"] == ["lr", "code"]
    sess = ort.InferenceSession(info["path"], providers=["CPUExecutionProvider"])
    lr = _lr(5)
    code = np.asarray(kernel_code.code_for(pca[:2], named_kernel("gani")), np.float32)
    got = sess.run(None, {"lr": lr, "code": code[None]})[0]
    want = np.asarray(upscale_sr(params, lr, 2, code=code))
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_kernel_aware_training_starts_from_the_old_weights_and_ships(image_dir, tmp_path):
    from mzsr_tf.train import checkpoint, command, ship
    from mzsr_tf.train import config as config_mod

    init = tmp_path / "init.weights.h5"
    build_model().save_weights(str(init))
    cfg = config_mod.preset("smoke")
    for s in (f"data.dirs=[{image_dir}]", "stages=[pretrain_all, meta]", f"pretrain_all.init_weights={init}",
              "kernel_aware.components=4", "kernel_aware.lambda_min=0.2", "kernel_aware.basis_samples=500",
              "kernel_aware.code_jitter=0.3", "val_every=5", "data.val_crop=40"):
        config_mod.set_override(cfg, s)
    cfg.run_dir = str(tmp_path / "run")
    assert command.run(cfg.validate(), progress=False) == 0
    with np.load(os.path.join(cfg.run_dir, "kernel_pca.npz")) as z:
        basis, explained = z["basis"], float(z["explained"])
    # Held-out validation also runs the network as --kernel estimate does.
    metrics = open(os.path.join(cfg.run_dir, "meta", "logs", "metrics.csv")).read()
    assert "val/psnr_estimated_step10" in metrics and "val/psnr_noblur_step10" in metrics
    assert basis.shape == (4, cfg.meta.kernel_size**2)
    ck = checkpoint.load(os.path.join(cfg.run_dir, "meta", "checkpoint.npz"))
    assert ck["params"][0].shape == (3, 3, 7, 64)
    final = load_model(os.path.join(cfg.run_dir, "meta", "final.weights.h5"))
    np.testing.assert_array_equal(kernel_pca_of(final)[1], basis)
    into = tmp_path / "weights"
    into.mkdir()
    assert ship.main([os.path.join(cfg.run_dir, "meta"), "kernel_aware_direct_x2", "--kind", "meta",
                      "--into", str(into), "--default-for", "kernel"]) == 0
    entry = json.loads((into / "index.json").read_text())["kernel_aware_direct_x2"]
    assert entry["kernel_code"]["components"] == 4 and entry["kernel_code"]["lambda_min"] == 0.2
    assert entry["kernel_code"]["explained_variance"] == round(explained, 6) and 0.9 < explained <= 1.0
    assert entry["default_with_kernel"] is True and "default_without_kernel" not in entry
    # Weights fine-tuned from shipped ones keep the card of what they started from, even when they
    # replace them under the same name.
    config_mod.set_override(cfg, "pretrain_all.init_weights=kernel_aware_direct_x2")
    config_mod.dump(cfg, os.path.join(cfg.run_dir, "pretrain_all", "config.yaml"))
    assert ship.main([os.path.join(cfg.run_dir, "pretrain_all"), "kernel_aware_direct_x2", "--kind", "pretrain_all",
                      "--into", str(into), "--overwrite"]) == 0
    entry = json.loads((into / "index.json").read_text())["kernel_aware_direct_x2"]
    assert entry["from"] == "kernel_aware_direct_x2" and entry["kind"] == "pretrain_all"
    assert entry["from_card"] == {"kind": "meta", "config": "smoke", "steps": 3, "hours": entry["from_card"]["hours"]}
    # Another kernel-aware entry shipped as the default for a case takes it over: one entry per case.
    assert ship.main([os.path.join(cfg.run_dir, "meta"), "kernel_aware_estimated_direct_x2", "--kind", "meta",
                      "--into", str(into), "--default-for", "estimate", "--default-for", "kernel"]) == 0
    idx = json.loads((into / "index.json").read_text())
    assert "default_with_kernel" not in idx["kernel_aware_direct_x2"]
    assert idx["kernel_aware_estimated_direct_x2"]["default_with_estimate"] is True
    from mzsr_tf.weights import card_default

    assert card_default(idx, 2, "direct", "default_with_estimate") == "kernel_aware_estimated_direct_x2"
    assert card_default(idx, 2, "bicubic", "default_with_estimate") is None
    # A config that asks for another number of code maps than the weights have is refused clearly.
    from mzsr_tf.errors import InputError
    from mzsr_tf.train.stages import initial_params

    final_path = os.path.join(cfg.run_dir, "meta", "final.weights.h5")
    config_mod.set_override(cfg, f"meta.init_weights={final_path}")
    assert len(initial_params(cfg, cfg.run_dir, "meta")) == 16  # its own basis: accepted
    np.savez(os.path.join(cfg.run_dir, "kernel_pca.npz"), mean=np.zeros(basis.shape[1], np.float32), basis=basis * 2)
    with pytest.raises(InputError, match="kernel basis differs"):
        initial_params(cfg, cfg.run_dir, "meta")
    config_mod.set_override(cfg, "kernel_aware.components=5")
    with pytest.raises(InputError, match="kernel code maps"):
        initial_params(cfg, cfg.run_dir, "meta")


def test_default_weights_follow_the_card(monkeypatch):
    from mzsr_tf import weights

    real = weights.index()
    fake = {name: entry for name, entry in real.items() if "kernel_code" not in entry}
    fake["kernel_aware_direct_x2"] = {"scale": 2, "subsampling": "direct", "default_with_kernel": True}
    monkeypatch.setattr(weights, "index", lambda: fake)
    assert weights.default_name(2, "direct", blurred=True) == "kernel_aware_direct_x2"
    assert weights.default_name(2, "direct", blurred=False) == "mzsr_direct_x2"
    assert weights.default_name(2, "bicubic", blurred=True) == "mzsr_bicubic_x2"
    # An estimated kernel is a case of its own: a network told the kernel pays more for its errors.
    assert weights.default_name(2, "direct", blurred=True, estimated=True) == "mzsr_direct_x2"
    fake["kernel_aware_direct_x2"].update(default_with_estimate=True, default_without_kernel=True)
    assert weights.default_name(2, "direct", blurred=True, estimated=True) == "kernel_aware_direct_x2"
    assert weights.default_name(2, "direct", blurred=False) == "kernel_aware_direct_x2"


def test_the_api_routes_estimated_kernels_by_their_own_card_entry(monkeypatch):
    """``upscale(kernel='estimate')`` marks its kernel as estimated; the method's default follows the card."""
    from mzsr_tf import methods, weights

    seen = []
    real = methods.default_weights
    monkeypatch.setattr(methods, "default_weights", lambda lr, o: seen.append(o.kernel_estimated) or real(lr, o))
    import mzsr_tf

    img = (np.random.default_rng(4).uniform(size=(48, 48, 3)) * 255).astype(np.uint8)
    mzsr_tf.upscale(img, 2, kernel="estimate", steps=0)
    mzsr_tf.upscale(img, 2, kernel="g2.0", steps=0)
    assert seen == [True, False]
    opts = methods.Options(scale=2, kernel=named_kernel("g2.0"), subsampling="direct", kernel_estimated=True)
    assert methods.default_weights(_lr()[0], opts) == weights.default_name(2, "direct", True, estimated=True)


def test_told_kernels_are_off_like_an_estimate_and_leave_the_images_alone(image_dir, pca):
    from PIL import Image

    from mzsr_tf.data import pipeline
    from mzsr_tf.data.sources import ImagePool
    from mzsr_tf.estimate import kernel_error
    from mzsr_tf.kernels import gaussian_kernel_np

    pool = ImagePool([np.asarray(Image.open(os.path.join(image_dir, f))) for f in sorted(os.listdir(image_dir))])
    hr, kp, blurred, noise, seed = pipeline.sample_tasks(pool, 3, 0, 8, 2, 16, 2, no_blur_fraction=0.5,
                                                         lambda_min=0.2)
    told, off = pipeline.sample_told_kernels(3, 0, kp, blurred, 0.3, 0.5)
    again = pipeline.sample_told_kernels(3, 0, kp, blurred, 0.3, 0.5)
    np.testing.assert_array_equal(told, again[0])
    assert set(off.tolist()) == {0.0, 1.0} and set(blurred.tolist()) == {0.0, 1.0}  # this seed draws every kind
    unblurred = blurred == 0
    assert np.all((told[unblurred, :2] >= 0.05) & (told[unblurred, :2] <= 0.3))
    ratio = told[~unblurred, :2] / kp[~unblurred, :2]
    assert np.all((ratio > np.exp(-1.5)) & (ratio < np.exp(1.5))) and not np.allclose(ratio, 1.0)
    # Over many draws the told kernel of a blurred task is off by about what the estimator's card reports (0.23).
    rng = np.random.default_rng(1)
    many = np.stack([rng.uniform(0.2, 5.0, 400), rng.uniform(0.2, 1.0, 400), rng.uniform(0, np.pi, 400)], 1)
    many[:, 1] *= many[:, 0]
    t, _ = pipeline.sample_told_kernels(0, 0, many.astype(np.float32), np.ones(400, np.float32), 0.3, 1.0)
    errors = [kernel_error(gaussian_kernel_np(*a, 15), gaussian_kernel_np(*b, 15)) for a, b in zip(t, many)]
    assert 0.12 < np.mean(errors) < 0.35
    # Only the code maps change, and only where a task is told another kernel.
    exact = pipeline.degrade_tasks(hr, kp, blurred, noise, seed, 2, "direct", 15, 8, pca[:2])[0].numpy()
    jittered = pipeline.degrade_tasks(hr, kp, blurred, noise, seed, 2, "direct", 15, 8, pca[:2], told, off)[0].numpy()
    np.testing.assert_array_equal(exact[..., :3], jittered[..., :3])
    for t_i in range(8):
        same = np.array_equal(exact[t_i, ..., 3:], jittered[t_i, ..., 3:])
        assert same == (off[t_i] == 0)
        if off[t_i]:
            want = kernel_code.code_for(pca[:2], gaussian_kernel_np(*told[t_i], 15))
            np.testing.assert_allclose(jittered[t_i, 0, 0, 0, 3:], np.asarray(want), atol=1e-5)


def test_kernel_aware_run_told_wrong_kernels_stops_and_resumes_to_the_same_weights(image_dir, tmp_path):
    from mzsr_tf.train import checkpoint, command
    from mzsr_tf.train import config as config_mod

    init = tmp_path / "init.weights.h5"
    build_model().save_weights(str(init))

    def cfg(run_dir, steps):
        c = config_mod.preset("smoke")
        for s in (f"data.dirs=[{image_dir}]", "stages=[pretrain_all]", f"pretrain_all.init_weights={init}",
                  f"pretrain_all.steps={steps}", "checkpoint_every=100", "kernel_aware.components=4",
                  "kernel_aware.lambda_min=0.2", "kernel_aware.basis_samples=500", "kernel_aware.code_jitter=0.3"):
            config_mod.set_override(c, s)
        c.run_dir = str(run_dir)
        return c.validate()

    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert command.run(cfg(whole, 4), progress=False) == 0
    assert command.run(cfg(parts, 2), progress=False) == 0
    assert checkpoint.load(os.path.join(parts, "pretrain_all", "checkpoint.npz"))["step"] == 2
    assert command.run(cfg(parts, 4), progress=False) == 0
    a = checkpoint.load(os.path.join(whole, "pretrain_all", "checkpoint.npz"))["params"]
    b = checkpoint.load(os.path.join(parts, "pretrain_all", "checkpoint.npz"))["params"]
    assert a[0].shape == (3, 3, 7, 64)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)
    assert not np.allclose(a[0][:, :, 3:], 0.0)  # the code weights were trained
