"""mzsr_tf.tune: a smoke search (meta and steps modes), its best YAML trains, resume, bad input."""
import csv
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
import yaml

from mzsr_tf import tune

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny image folder, random-init weights and a smoke config pointing at both."""
    import keras
    from PIL import Image

    from mzsr_tf.model import build_model

    root = tmp_path_factory.mktemp("tune")
    imgs = root / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:56]
    for i in range(4):
        base = np.stack([x * 4 + 10 * i, y * 5, (x + y) * 2], -1) + rng.normal(0, 20, (48, 56, 3))
        Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(imgs / f"{i}.png")
    keras.utils.set_random_seed(0)
    weights = str(root / "init.weights.h5")
    build_model().save_weights(weights)
    cfg = root / "smoke.yaml"
    cfg.write_text(yaml.safe_dump({
        "preset": "smoke", "run_dir": str(root / "run"),
        "data": {"dirs": [str(imgs)]},
        # smaller graphs than the preset (1 task, 1 inner step): each trial traces its own meta step
        "meta": {"init_weights": weights, "tasks_per_batch": 1, "inner_steps": 1},
    }))
    return {"root": root, "config": str(cfg), "weights": weights}


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_smoke_search_writes_best_yaml_that_trains(setup, capsys):
    out = str(setup["root"] / "search")
    args = ["--config", setup["config"], "--tuner", "random", "--trials", "2", "--trial-iterations", "1",
            "--eval-steps", "1", "--val-kernels", "1", "--seed", "3", "--out", out]
    assert tune.main(args) == 0
    text = capsys.readouterr().out
    assert "[tune] trial 1/2" in text and "[tune] trial 2/2" in text  # a progress line per trial
    for name in ("best.yaml", "trials.csv", "objective.png", "keras_tuner/oracle.json", "references.json"):
        assert os.path.isfile(os.path.join(out, name)), name
    rows = _rows(os.path.join(out, "trials.csv"))
    done = [r for r in rows if r["status"] == "COMPLETED"]
    assert len(done) == 2 and any(r["trial"] == "init" for r in rows)
    for r in done:
        assert 1e-4 <= float(r["alpha"]) <= 1e-1 and 1e-5 <= float(r["beta"]) <= 1e-3
        assert np.isfinite(float(r["val_psnr"]))
    best_row = max(done, key=lambda r: float(r["val_psnr"]))

    # the best YAML is a train config as is: its alpha/beta are the best trial's
    from mzsr_tf.train import config as config_mod
    from mzsr_tf.train.command import main as train_main

    best = config_mod.load(os.path.join(out, "best.yaml"))
    assert best.meta.inner_step_size == pytest.approx(float(best_row["alpha"]), rel=1e-4)
    assert best.meta.meta_learning_rate == pytest.approx(float(best_row["beta"]), rel=1e-4)
    run_dir = str(setup["root"] / "trained")
    rc = train_main(["--config", os.path.join(out, "best.yaml"), "--stage", "meta", "--run-dir", run_dir, "--no-progress"])
    assert rc == 0
    assert os.path.isfile(os.path.join(run_dir, "meta", "final.weights.h5"))

    # resumable: the same command again finds the search done and runs no trial
    assert tune.main(args) == 0
    text = capsys.readouterr().out
    assert "[tune] trial" not in text and "best: trial" in text
    assert len([r for r in _rows(os.path.join(out, "trials.csv")) if r["status"] == "COMPLETED"]) == 2

    # ... but not with another search space in the same folder
    assert tune.main(args + ["--alpha", "1e-3,1e-2"]) == 2
    assert "other settings" in capsys.readouterr().err


def test_steps_mode_tunes_test_time_step_sizes(setup):
    out = str(setup["root"] / "steps")
    kind = "bayesian" if tune.has_sklearn() else "random"
    rc = tune.main(["--config", setup["config"], "--mode", "steps", "--weights", setup["weights"], "--tuner", kind,
                    "--trials", "2", "--eval-steps", "2", "--val-kernels", "1", "--out", out, "--quiet"])
    assert rc == 0
    with open(os.path.join(out, "best_step_sizes.yaml")) as f:
        best = yaml.safe_load(f)
    assert best["steps"] == 2 and len(best["step_sizes"]) == 2
    assert all(1e-4 <= s <= 1e-1 for s in best["step_sizes"])
    rows = _rows(os.path.join(out, "trials.csv"))
    assert sum(r["status"] == "COMPLETED" for r in rows) == 2 and rows[-1]["trial"] == "reference"
    assert os.path.isfile(os.path.join(out, "objective.png"))


def test_search_space_and_schedule_helpers():
    assert tune.parse_range("1e-4,1e-1", "alpha") == (1e-4, 1e-1)
    assert tune.parse_range("2:5", "inner-steps", integer=True) == (2, 5)
    for bad in ("1e-1,1e-4", "1e-2,1e-2", "0,1", "abc", "1,2,3"):
        with pytest.raises(tune.InputError):
            tune.parse_range(bad, "alpha")
    hp = tune.hyperparameters("meta", {**tune.DEFAULT_RANGES, "inner_steps": (1, 5)})
    assert set(hp.values) == {"alpha", "beta", "inner_steps"}
    assert set(tune.hyperparameters("steps", tune.DEFAULT_RANGES, eval_steps=1).values) == {"eta_first"}
    assert tune.step_sizes_from({"eta_first": 0.02, "eta_then": 0.01}, 3) == [0.02, 0.01, 0.01]


@pytest.mark.parametrize("extra, message", [
    (["--alpha", "1e-2,1e-3"], "low"),
    (["--beta", "1e-4,1e-4"], "low"),
    (["--inner-steps", "5,2"], "low"),
    (["--trials", "0"], "--trials"),
    (["--mode", "steps", "--tuner", "hyperband"], "hyperband"),
])
def test_bad_search_input_is_one_clear_error(setup, tmp_path, capsys, extra, message):
    assert tune.main(["--config", setup["config"], "--out", str(tmp_path / "o")] + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_bad_config_exits_non_zero_from_the_command_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("meta: [unclosed\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for cfg, message in ((str(tmp_path / "missing.yaml"), "cannot read config"), (str(bad), "not valid YAML")):
        p = subprocess.run([sys.executable, "-m", "mzsr_tf.tune", "--config", cfg, "--out", str(tmp_path / "o")],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 2 and message in p.stderr and "Traceback" not in p.stderr
