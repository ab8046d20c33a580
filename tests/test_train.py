"""Training: the task pipeline, learning-rate schedules, resume, the smoke preset end to end."""
import json
import os

import numpy as np
import pytest
from keras import ops
from PIL import Image

from mzsr_tf.data import pipeline
from mzsr_tf.data.sources import ImagePool
from mzsr_tf.train import checkpoint, command
from mzsr_tf.train import config as config_mod


def test_supervised_stage_rates_anneal_along_a_half_cosine(capsys):
    from mzsr_tf.train.stages import annealed_learning_rate

    rates = [annealed_learning_rate(2e-4, 1e-5, 100, 300, s) for s in range(301)]
    assert rates[:200] == [2e-4] * 200
    assert np.all(np.diff(rates[200:]) < 0)
    np.testing.assert_allclose([rates[250], rates[300]], [(2e-4 + 1e-5) / 2, 1e-5], rtol=1e-9)
    assert annealed_learning_rate(2e-4, 0.0, 0, 300, 299) == 2e-4
    # Bicubic pretraining halves its rate, then anneals from the rate the anneal's first step has.
    from mzsr_tf.train.stages import pretrain_learning_rate

    cfg = config_mod.preset("cpu")
    cfg.pretrain.steps, cfg.pretrain.learning_rate_halve_every, cfg.pretrain.anneal_steps = 100, 30, 40
    cfg.pretrain.learning_rate, cfg.pretrain.learning_rate_floor = 4e-4, 1e-5
    rates = [pretrain_learning_rate(cfg, s) for s in range(101)]
    assert rates[29] == 4e-4 and rates[30] == 2e-4 and rates[60] == 1e-4 and rates[100] == 0.0
    assert np.all(np.diff(rates[60:]) < 0) and rates[80] == pytest.approx(0.5e-4)
    assert command.main(["--preset", "smoke", "--set", "pretrain_all.steps=10", "--set", "pretrain_all.anneal_steps=11"]) == 2
    assert "pretrain_all.anneal_steps must be in 0..pretrain_all.steps" in capsys.readouterr().err


def test_task_pipeline_is_deterministic_under_a_seed(image_dir):
    pool = ImagePool([np.asarray(Image.open(os.path.join(image_dir, f))) for f in sorted(os.listdir(image_dir))])
    a = pipeline.sample_tasks(pool, 7, 3, 2, 4, 16, 2)
    b = pipeline.sample_tasks(pool, 7, 3, 2, 4, 16, 2)
    c = pipeline.sample_tasks(pool, 7, 4, 2, 4, 16, 2)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    kp = a[1]
    assert np.all((kp[:, 0] >= 1) & (kp[:, 0] <= 5)) and np.all((kp[:, 1] >= 1) & (kp[:, 1] <= kp[:, 0]))
    sample = lambda i: pipeline.sample_tasks(pool, 7, i, 2, 4, 16, 2, noise_sigma=0.01)
    deg = lambda hr, kp, bl, nz, ns: pipeline.degrade_tasks(hr, kp, bl, nz, ns, 2, "direct", 7, 2)
    run1 = [tuple(t.numpy() for t in b) for b in pipeline.tf_dataset(sample, deg, 5).take(2)]
    run2 = [tuple(t.numpy() for t in b) for b in pipeline.tf_dataset(sample, deg, 5).take(2)]
    resumed = [tuple(t.numpy() for t in b) for b in pipeline.tf_dataset(sample, deg, 6).take(1)]
    for r1, r2 in zip(run1, run2):
        for x, y in zip(r1, r2):
            np.testing.assert_array_equal(x, y)
    for x, y in zip(run1[1], resumed[0]):
        np.testing.assert_array_equal(x, y)
    ilr, hr = run1[0]
    assert ilr.shape == hr.shape == (2, 4, 16, 16, 3)


def test_data_seed_draws_new_batches_but_keeps_the_held_out_kernels(image_dir):
    from mzsr_tf.train.stages import task_batches
    from mzsr_tf.errors import InputError
    from mzsr_tf.train.validation import validation_kernels

    pool = ImagePool([np.asarray(Image.open(os.path.join(image_dir, f))) for f in sorted(os.listdir(image_dir))])
    cfgs = {}
    for name, seed in (("run", None), ("same", 0), ("new", 5)):
        cfg = config_mod.preset("smoke")
        if seed is not None:
            config_mod.set_override(cfg, f"data.seed={seed}")
        cfgs[name] = cfg.validate()
    first = {n: [t.numpy() for t in next(task_batches(c, pool, 3, 2, 2, 16, 0.0, 0.2))] for n, c in cfgs.items()}
    for x, y in zip(first["run"], first["same"]):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(first["run"][1], first["new"][1])
    for a, b in zip(validation_kernels(cfgs["run"], 3), validation_kernels(cfgs["new"], 3)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(InputError, match="data.seed"):
        config_mod.from_dict({"data": {"seed": -1}}).validate()


def test_unblurred_tasks_are_plain_subsampling(image_dir):
    """A task drawn without blur is the HR crop decimated (direct) and brought back up: no kernel at all."""
    from mzsr_tf.degrade import degrade
    from mzsr_tf.resize import imresize

    pool = ImagePool([np.asarray(Image.open(os.path.join(image_dir, f))) for f in sorted(os.listdir(image_dir))])
    hr, kp, blurred, noise, seed = pipeline.sample_tasks(pool, 3, 0, 6, 2, 16, 2, no_blur_fraction=0.5)
    assert set(blurred.tolist()) == {0.0, 1.0}  # this seed draws both kinds
    ilr, hr_f = pipeline.degrade_tasks(hr, kp, blurred, noise, seed, 2, "direct", 7, 6)
    t = int(np.argmin(blurred))
    want = imresize(np.round(np.asarray(hr_f[t])[:, ::2, ::2] * 255) / 255, 2.0, out_hw=(16, 16))
    np.testing.assert_allclose(np.asarray(ilr[t]), np.asarray(want), atol=1e-6)
    b = int(np.argmax(blurred))
    assert np.abs(np.asarray(ilr[b]) - np.asarray(imresize(degrade(hr_f[b], 2), 2.0, out_hw=(16, 16)))).max() > 1e-3
    # Without unblurred tasks the data stream is the one runs had before the option existed.
    a = pipeline.sample_tasks(pool, 3, 0, 6, 2, 16, 2)
    np.testing.assert_array_equal(a[0], hr)
    np.testing.assert_array_equal(a[1], kp)
    assert np.all(a[2] == 1.0)


def smoke_cfg(image_dir, run_dir, **overrides):
    cfg = config_mod.preset("smoke")
    cfg.data.dirs = [image_dir]
    cfg.run_dir = str(run_dir)
    for k, v in overrides.items():
        config_mod.set_override(cfg, f"{k}={v}")
    return cfg.validate()


def final_params(run_dir, stage):
    return checkpoint.load(os.path.join(run_dir, stage, "checkpoint.npz"))["params"]


def test_smoke_preset_trains_both_stages_and_writes_config(image_dir, tmp_path):
    run = tmp_path / "run"
    rc = command.main(["--config", _smoke_yaml(tmp_path, image_dir), "--run-dir", str(run), "--no-progress"])
    assert rc == 0
    for stage in ("pretrain", "meta"):
        assert (run / stage / "final.weights.h5").exists()
        assert (run / stage / "config.yaml").exists()
        assert list((run / stage / "logs").glob("events.out.tfevents*"))
    resolved = config_mod.load(str(run / "meta" / "config.yaml"))
    assert resolved.data.dirs == [image_dir] and resolved.meta.inner_steps == 2
    # The finished run becomes shipped weights with a model-card entry.
    from mzsr_tf.train import ship

    into = tmp_path / "weights"
    into.mkdir()
    assert ship.main([str(run / "meta"), "mzsr_direct_x2", "--kind", "meta", "--into", str(into),
                      "--step-sizes", "0.03,0.01,2,0.004"]) == 0
    entry = json.loads((into / "index.json").read_text())["mzsr_direct_x2"]
    assert "unblurred_default" not in entry
    assert entry["kind"] == "meta" and entry["scale"] == 2 and entry["steps"] == 3
    assert entry["no_blur"] is False  # what weights.default_name reads: no unblurred tasks in this run
    assert entry["step_sizes"] == [0.03, 0.01, 2, 0.004]
    from mzsr_tf.adapt import step_size_schedule

    assert step_size_schedule(5, rule=entry["step_sizes"]) == pytest.approx([0.03, 0.01, 0.01, 0.004, 0.004])
    assert entry["settings"]["inner_steps"] == 2 and entry["hours"] >= 0
    assert (into / "mzsr_direct_x2.weights.h5").stat().st_size > 800_000
    # Shipping again without --overwrite is refused, the file left alone.
    from mzsr_tf.errors import InputError

    with pytest.raises(InputError, match="exists"):
        ship.main([str(run / "meta"), "mzsr_direct_x2", "--kind", "meta", "--into", str(into)])
    # --average ships the mean of checkpoints' weights (here those of the two stages) and says which.
    cks = [str(run / stage / "checkpoint.npz") for stage in ("pretrain", "meta")]
    assert ship.main([str(run / "meta"), "mzsr_direct_x2", "--kind", "meta", "--into", str(into), "--overwrite",
                      "--average", *cks]) == 0
    entry = json.loads((into / "index.json").read_text())["mzsr_direct_x2"]
    assert entry["averaged_steps"] == sorted(checkpoint.load(c)["step"] for c in cks)
    from mzsr_tf.model import get_params
    from mzsr_tf.weights import load_model

    shipped = get_params(load_model(str(into / "mzsr_direct_x2.weights.h5")))
    both = [final_params(str(run), stage) for stage in ("pretrain", "meta")]
    for got, a, b in zip(shipped, *both):
        np.testing.assert_allclose(np.asarray(got), (a + b) / 2, rtol=1e-6, atol=1e-7)
    assert np.abs(both[0][0] - both[1][0]).max() > 1e-4  # the two differ, so the mean is a real check
    with pytest.raises(InputError, match="no such checkpoint"):
        ship.main([str(run / "meta"), "x", "--kind", "meta", "--into", str(into), "--average", str(tmp_path / "none.npz")])


def test_a_card_follows_its_weights_back_through_unshipped_runs(tmp_path):
    """A run started from another run's final weights, not shipped, is on the card as that run, then as
    the shipped weights that one started from."""
    from mzsr_tf.model import build_model
    from mzsr_tf.train import ship

    into = tmp_path / "weights"
    into.mkdir()
    first = {"kind": "pretrain", "config": "first", "steps": 10, "hours": 0.1}
    (into / "index.json").write_text(json.dumps({"pretrain_x2": dict(first, scale=2, subsampling="bicubic")}))
    start = "pretrain_x2"
    for name, steps in (("second", 5), ("third", 7)):
        cfg = config_mod.preset("smoke")
        cfg.name, cfg.run_dir = name, str(tmp_path / name)
        config_mod.set_override(cfg, f"pretrain_all.init_weights={start}")
        stage = os.path.join(cfg.run_dir, "pretrain_all")
        os.makedirs(stage)
        config_mod.dump(cfg, os.path.join(stage, "config.yaml"))
        checkpoint.save(os.path.join(stage, "checkpoint.npz"), stage="pretrain_all", step=steps, params=[],
                        opt_state={"m": [], "v": [], "t": np.zeros(())})
        build_model().save_weights(os.path.join(stage, "final.weights.h5"))
        start = os.path.join(stage, "final.weights.h5")
    assert ship.main([os.path.dirname(start), "kernel_aware_direct_x2", "--kind", "pretrain_all",
                      "--into", str(into)]) == 0
    entry = json.loads((into / "index.json").read_text())["kernel_aware_direct_x2"]
    second = os.path.join(str(tmp_path), "second", "pretrain_all", "final.weights.h5")
    assert entry["config"] == "third" and entry["from"] == second
    assert entry["from_card"] == {"kind": "pretrain_all", "config": "second", "steps": 5, "hours": 0.0,
                                  "from": "pretrain_x2", "from_card": first}


def _smoke_yaml(tmp_path, image_dir):
    p = tmp_path / "smoke.yaml"
    p.write_text(f"preset: smoke\ndata:\n  dirs: [{image_dir}]\n")
    return str(p)


@pytest.mark.parametrize("stage", ["pretrain", "meta"])
def test_interrupted_and_resumed_run_ends_with_the_same_weights(image_dir, tmp_path, stage):
    from mzsr_tf.model import build_model

    init = tmp_path / "init.weights.h5"
    build_model().save_weights(str(init))
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    steps_key = "pretrain.steps" if stage == "pretrain" else "meta.iterations"
    # The MSL schedule is fixed explicitly: a resumed run repeats the same command,
    # so nothing but the step count may differ between the two halves here.
    args = {steps_key: 4, "checkpoint_every": 100, "meta.msl_iterations": 4, "meta.init_weights": str(init)}
    assert command.run(smoke_cfg(image_dir, whole, **args), stage, progress=False) == 0
    # Stop half-way (as a time limit or kill would), then resume with the same command.
    assert command.run(smoke_cfg(image_dir, parts, **dict(args, **{steps_key: 2})), stage, progress=False) == 0
    assert checkpoint.load(os.path.join(parts, stage, "checkpoint.npz"))["step"] == 2
    assert command.run(smoke_cfg(image_dir, parts, **args), stage, progress=False) == 0
    assert checkpoint.load(os.path.join(parts, stage, "checkpoint.npz"))["step"] == 4
    a, b = final_params(whole, stage), final_params(parts, stage)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)


def test_committed_run_state_resumes_from_a_copy(image_dir, tmp_path):
    """Pre-train (All) then meta: stopped after one step, the run folder copied (as a clone has it), resumed
    there with --resume, it ends with the weights of an uninterrupted run."""
    import shutil

    from mzsr_tf.model import build_model

    init = tmp_path / "init.weights.h5"
    build_model().save_weights(str(init))
    yaml_path = _smoke_yaml(tmp_path, image_dir)
    sets = ["--set", "stages=[pretrain_all, meta]", "--set", f"pretrain_all.init_weights={init}",
            "--set", "pretrain_all.steps=3", "--set", "meta.iterations=2", "--set", "meta.msl_iterations=2",
            "--set", "pretrain_all.no_blur_fraction=0.5", "--set", "checkpoint_every=100", "--no-progress"]
    whole, first = tmp_path / "whole", tmp_path / "first"
    assert command.main(["--config", yaml_path, "--run-dir", str(whole)] + sets) == 0
    assert command.main(["--config", yaml_path, "--run-dir", str(first), "--max-minutes", "1e-6"] + sets) == 3
    ck = checkpoint.load(os.path.join(first, "pretrain_all", "checkpoint.npz"))
    assert ck["step"] == 1 and ck["clock"][1] > 0
    clone = tmp_path / "clone" / "training" / "run"
    shutil.copytree(first, clone)
    shutil.rmtree(first)
    assert command.main(["--resume", str(clone), "--no-progress"]) == 0
    assert checkpoint.load(os.path.join(clone, "pretrain_all", "checkpoint.npz"))["step"] == 3
    assert checkpoint.load(os.path.join(clone, "meta", "checkpoint.npz"))["step"] == 2
    for a, b in zip(final_params(whole, "meta"), final_params(clone, "meta")):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert command.main(["--resume", str(tmp_path / "nowhere")]) == 2


def test_time_limit_stops_cleanly_with_a_checkpoint(image_dir, tmp_path):
    run = tmp_path / "run"
    cfg = smoke_cfg(image_dir, run, **{"pretrain.steps": 50, "checkpoint_every": 1000})
    rc = command.run(cfg, "pretrain", max_minutes=1e-6, progress=False)
    assert rc == 3
    ck = checkpoint.load(os.path.join(run, "pretrain", "checkpoint.npz"))
    assert 1 <= ck["step"] < 50 and ck["stage"] == "pretrain"
    assert len(ck["opt_state"]["m"]) == 16 and float(ck["opt_state"]["t"]) == ck["step"]


def test_bad_config_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("meta: {inner_lr: [1, 2}\n")
    assert command.main(["--config", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    bad.write_text("meta: {no_such_key: 1}\n")
    assert command.main(["--config", str(bad)]) == 2
    assert "unknown key 'meta.no_such_key'" in capsys.readouterr().err
    assert command.main(["--preset", "smoke", "--set", "scale=3"]) == 2
    assert command.main(["--config", str(tmp_path / "missing.yaml")]) == 2


def test_configs_with_the_old_learning_rate_names_still_load(tmp_path):
    """Run folders and checkpoints written before the rename (``lr`` now means only a low-resolution
    image) resume with the same values under the new names."""
    old = tmp_path / "old.yaml"
    old.write_text("pretrain: {lr: 0.001, lr_halve_every: 10, lr_floor: 0.0002}\npretrain_all: {lr: 0.0003}\n"
                   "meta: {inner_lr: 0.02, meta_lr: 0.0003, learn_inner_lr: true}\n")
    cfg = config_mod.load(str(old))
    assert (cfg.pretrain.learning_rate, cfg.pretrain.learning_rate_halve_every, cfg.pretrain.learning_rate_floor) == (
        0.001, 10, 0.0002)
    assert cfg.pretrain_all.learning_rate == 0.0003
    assert (cfg.meta.inner_step_size, cfg.meta.meta_learning_rate, cfg.meta.learn_inner_step_sizes) == (0.02, 0.0003, True)
    config_mod.set_override(cfg, "meta.inner_lr=0.005")
    assert cfg.meta.inner_step_size == 0.005
    assert "lr" not in config_mod.to_yaml(cfg).replace("learning_rate", "")  # written back with the new names only


def test_a_config_may_start_from_another_file(tmp_path, capsys):
    """``base: FILE`` takes every value of that file (and of its own base or preset), then this file's."""
    (tmp_path / "runs").mkdir()
    (tmp_path / "first.yaml").write_text("preset: cpu\nname: first\nscale: 4\ndata: {seed: 1, val_images: 3}\n")
    (tmp_path / "runs" / "second.yaml").write_text("base: ../first.yaml\nname: second\ndata: {seed: 2}\n")
    (tmp_path / "third.yaml").write_text("base: runs/second.yaml\npretrain_all: {steps: 7}\n")
    cfg = config_mod.load(str(tmp_path / "third.yaml"))
    cpu = config_mod.preset("cpu")
    assert (cfg.name, cfg.scale, cfg.data.seed, cfg.data.val_images, cfg.pretrain_all.steps) == ("second", 4, 2, 3, 7)
    assert cfg.pretrain.steps == cpu.pretrain.steps and cfg.pretrain.steps != config_mod.Config().pretrain.steps

    (tmp_path / "loop_a.yaml").write_text("base: loop_b.yaml\n")
    (tmp_path / "loop_b.yaml").write_text("base: loop_a.yaml\n")
    (tmp_path / "both.yaml").write_text("base: first.yaml\npreset: smoke\n")
    (tmp_path / "orphan.yaml").write_text("base: gone.yaml\n")
    for name, message in (("loop_a", "chain comes back"), ("both", "not both"), ("orphan", "cannot read config")):
        assert command.main(["--config", str(tmp_path / f"{name}.yaml")]) == 2
        assert message in capsys.readouterr().err


def test_every_shipped_config_loads_and_validates():
    folder = os.path.join(os.path.dirname(__file__), os.pardir, "configs")
    paths = sorted(os.path.join(root, f) for root, _, files in os.walk(folder) for f in files if f.endswith(".yaml"))
    assert len(paths) > 10
    for path in paths:
        config_mod.load(path).validate()


def test_learnable_inner_step_sizes_are_meta_trained(image_dir):
    from mzsr_tf.model import build_model, get_params
    from mzsr_tf.train.stages import Meta

    cfg = smoke_cfg(image_dir, "unused", **{"meta.learn_inner_step_sizes": True})
    pool = ImagePool([np.asarray(Image.open(os.path.join(image_dir, f))) for f in sorted(os.listdir(image_dir))])
    meta = Meta(cfg, pool, [], get_params(build_model()))
    state = meta.init()
    lrs0 = np.asarray(state["extra"]["inner_step_sizes"][0])
    assert lrs0.shape == (cfg.meta.inner_steps, 16) and np.all(lrs0 == cfg.meta.inner_step_size)
    state, metrics = meta.step(state, next(meta.batches(0)), 0)
    lrs1 = np.asarray(state["extra"]["inner_step_sizes"][0])
    assert not np.allclose(lrs0, lrs1) and np.isfinite(float(metrics["loss/meta"]))


def test_shard_is_plain_numpy_and_feeds_training(image_dir, tmp_path):
    from mzsr_tf.data import shard

    out = tmp_path / "crops.npz"
    assert shard.main(["--dirs", image_dir, "--out", str(out), "--count", "6", "--size", "16", "--val", "1"]) == 0
    with np.load(out, allow_pickle=False) as z:  # readable without TensorFlow
        assert z["crops"].shape == (6, 16, 16, 3) and z["crops"].dtype == np.uint8
        assert z["val"].shape == (1, 32, 32, 3)
    assert shard.main(["--dirs", image_dir, "--out", str(out)]) == 2  # never overwrites
    cfg = smoke_cfg(image_dir, tmp_path / "run", **{"data.shard": str(out)})
    pool, val = ImagePool.from_config(cfg.data, 16)
    assert len(pool.images) == 6 and len(val) == 1
    assert pipeline.sample_pretrain(pool, 0, 0, 2, 16).shape == (2, 16, 16, 3)


def test_bfloat16_meta_gradient_agrees_with_float32(image_dir):
    """bf16 convolutions in meta-training: the second-order meta-gradient keeps its direction.

    Stated tolerance: cosine similarity >= 0.98 and relative error <= 0.2 of the float32 gradient
    (measured with the shipped x2 weights on smooth crops: 0.995 and 0.10); Adam follows the direction.
    """
    from mzsr_tf import backend
    from mzsr_tf.model import get_params
    from mzsr_tf.train.stages import Meta
    from mzsr_tf.weights import load_model

    pool = ImagePool([np.asarray(Image.open(os.path.join(image_dir, f))) for f in sorted(os.listdir(image_dir))])
    params = get_params(load_model("mzsr_direct_x2"))
    grads = {}
    for dtype in ("float32", "bfloat16"):
        cfg = smoke_cfg(image_dir, "unused", compute_dtype=dtype, **{"meta.inner_steps": 2})
        meta = Meta(cfg, pool, [], params)
        ilr, hr = next(meta.batches(0))
        _, g = backend.value_and_grad(meta.meta_loss, list(params), ilr, hr, ops.convert_to_tensor([0.0, 1.0]),
                                      False, has_aux=True)
        grads[dtype] = np.concatenate([np.ravel(ops.convert_to_numpy(x)) for x in g])
    a, b = grads["float32"], grads["bfloat16"]
    assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) >= 0.98
    assert np.linalg.norm(a - b) / np.linalg.norm(a) <= 0.2


def test_first_order_warm_up_then_second_order(image_dir):
    from mzsr_tf.model import build_model, get_params
    from mzsr_tf.train.stages import Meta

    cfg = smoke_cfg(image_dir, "unused", **{"meta.first_order_iterations": 1})
    pool = ImagePool([np.asarray(Image.open(os.path.join(image_dir, f))) for f in sorted(os.listdir(image_dir))])
    meta = Meta(cfg, pool, [], get_params(build_model()))
    state = meta.init()
    it = meta.batches(0)
    orders = []
    for step in range(2):
        state, metrics = meta.step(state, next(it), step)
        orders.append(metrics["meta/second_order"])
    assert orders == [0.0, 1.0]


def test_running_average_of_the_weights_survives_resume_and_ships(image_dir, tmp_path):
    """meta.average_from/average_every: the mean of the weights after iterations 2 and 4, kept in the
    checkpoint across a resume, validated as val_avg/..., written by finish() and shipped by ship."""
    from mzsr_tf.model import build_model, get_params
    from mzsr_tf.train import ship
    from mzsr_tf.train.stages import Meta
    from mzsr_tf.weights import load_model

    init = tmp_path / "init.weights.h5"
    build_model().save_weights(str(init))
    args = {"meta.iterations": 5, "meta.msl_iterations": 5, "meta.init_weights": str(init), "checkpoint_every": 100,
            "meta.average_from": 2, "meta.average_every": 2}
    pool = ImagePool([np.asarray(Image.open(os.path.join(image_dir, f))) for f in sorted(os.listdir(image_dir))])
    cfg = smoke_cfg(image_dir, "unused", **args)
    meta = Meta(cfg, pool, [pool.images[0]], get_params(load_model(str(init))))
    state, it, after = meta.init(), meta.batches(0), []
    for step in range(5):
        state, _ = meta.step(state, next(it), step)
        after.append([np.asarray(p) for p in state["params"]])
        assert ("average" in state["extra"]) == (step >= 1)
    assert float(state["extra"]["average_count"][0]) == 2.0
    for got, a, b in zip(state["extra"]["average"], after[1], after[3]):
        np.testing.assert_allclose(np.asarray(got), (a + b) / 2, rtol=1e-5, atol=1e-7)
    assert np.abs(after[1][0] - after[3][0]).max() > 1e-5  # the mean is not one of them
    res = meta.validate(state, 5, None)
    assert res["val_avg/count"] == 2.0 and np.isfinite(res["val_avg/psnr_step10"]) and "val/psnr_step10" in res
    # Stopped after 3 iterations and resumed: the same average as the uninterrupted run.
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert command.run(smoke_cfg(image_dir, whole, **args), "meta", progress=False) == 0
    assert command.run(smoke_cfg(image_dir, parts, **dict(args, **{"meta.iterations": 3})), "meta", progress=False) == 0
    assert command.run(smoke_cfg(image_dir, parts, **args), "meta", progress=False) == 0
    averages = [checkpoint.load(os.path.join(r, "meta", "checkpoint.npz"))["extra"]["average"] for r in (whole, parts)]
    for a, b in zip(*averages):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert (parts / "meta" / "average.weights.h5").exists()
    into = tmp_path / "weights"
    into.mkdir()
    assert ship.main([str(parts / "meta"), "avg", "--kind", "meta", "--into", str(into), "--running-average",
                      "--keep-pretrained-for-unblurred"]) == 0
    entry = json.loads((into / "index.json").read_text())["avg"]
    assert entry["running_average"] == {"to_step": 5, "count": 2, "from_step": 2, "every": 2}
    assert entry["unblurred_default"] is False  # what weights.default_name reads for unblurred bicubic inputs
    for got, want in zip(get_params(load_model(str(into / "avg.weights.h5"))), averages[1]):
        np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=1e-7)
    from mzsr_tf.errors import InputError

    plain = tmp_path / "plain"
    plain_args = dict(args, **{"meta.iterations": 1, "meta.average_from": 0})
    assert command.run(smoke_cfg(image_dir, plain, **plain_args), "meta", progress=False) == 0
    with pytest.raises(InputError, match="keeps no running average"):
        ship.main([str(plain / "meta"), "x", "--kind", "meta", "--into", str(into), "--running-average"])
