"""The same algorithm under Keras' TensorFlow and JAX backends (JAX's CPU build).

Each backend runs in its own process (Keras fixes its backend at import); the
JAX runs block TensorFlow's import, as on the lent GPU machines that have none.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("jax")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _env(tmp_path, backend):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    if backend == "jax":
        block = tmp_path / "notf"
        block.mkdir(exist_ok=True)
        (block / "sitecustomize.py").write_text("import sys\nsys.modules['tensorflow'] = None\n")
        env["PYTHONPATH"] = f"{block}{os.pathsep}{ROOT}"
    return env


def _run(tmp_path, backend, args):
    out = subprocess.run([sys.executable] + args, env=_env(tmp_path, backend), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("backends")
    imgs = tmp / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray((np.kron(rng.random((12, 14, 3)), np.ones((4, 4, 1))) * 255).astype(np.uint8)).save(imgs / f"{i}.png")
    import keras

    from mzsr_tf.model import build_model

    keras.utils.set_random_seed(0)
    weights = tmp / "init.weights.h5"
    build_model().save_weights(str(weights))
    return tmp, str(weights), str(imgs)


def test_one_meta_iteration_gives_the_same_loss_under_tf_and_jax(setup):
    tmp, weights, imgs = setup
    res = {}
    for b in ("tensorflow", "jax"):
        line = _run(tmp, b, [os.path.join(HERE, "backend_probe.py"), weights, imgs]).strip().splitlines()[-1]
        res[b] = json.loads(line)
        assert res[b]["backend"] == b
    tf_, jx = res["tensorflow"], res["jax"]
    assert abs(tf_["meta_loss"] - jx["meta_loss"]) < 1e-4
    np.testing.assert_allclose(tf_["meta_after_step"], jx["meta_after_step"], atol=1e-4)
    assert abs(tf_["pretrain_loss"] - jx["pretrain_loss"]) < 1e-4
    # The updated weights agree too (the JAX run loaded weights saved under TF). Adam's
    # first step moves each weight by ~lr·sign(g), so a gradient within rounding of 0
    # may move either way: compare the sum of 1,728 weights loosely.
    assert abs(tf_["meta_param0_sum"] - jx["meta_param0_sum"]) < 1e-2
    assert abs(tf_["pretrain_param0_sum"] - jx["pretrain_param0_sum"]) < 1e-2


def test_training_under_jax_writes_checkpoints_and_weights_tf_reads(setup):
    tmp, weights, imgs = setup
    run = tmp / "jaxrun"
    _run(tmp, "jax", ["-m", "mzsr_tf.train", "--preset", "smoke", "--set", f"data.dirs=[{imgs}]", "--run-dir", str(run), "--no-progress"])
    from mzsr_tf.model import get_params
    from mzsr_tf.train import checkpoint
    from mzsr_tf.weights import load_model

    ck = checkpoint.load(str(run / "meta" / "checkpoint.npz"))
    assert ck["stage"] == "meta" and ck["step"] == 3
    model = load_model(str(run / "meta" / "final.weights.h5"))
    for a, b in zip(get_params(model), ck["params"]):
        np.testing.assert_array_equal(np.asarray(a), b)
    # No TensorFlow there, so the logs are CSV.
    assert (run / "meta" / "logs" / "metrics.csv").exists()
