"""Shared test fixtures: a small random weights file and tiny images (CPU, fast, no shared data)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Numerical checks compare against float32 references on every CPU; the machine's precision rule
# (bfloat16 where native) has tests of its own that set or clear this variable themselves.
os.environ.setdefault("MZSR_TF_PRECISION", "float32")

import numpy as np
import pytest


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory):
    """Path to a ``.weights.h5`` file of the network with seeded random weights."""
    import keras

    from mzsr_tf.model import build_model

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("weights") / "w.weights.h5"
    build_model().save_weights(str(path))
    return str(path)


@pytest.fixture
def rgb_uint8():
    """A 32×32×3 uint8 image (smooth gradient plus seeded noise)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:32, 0:32]
    base = np.stack([x * 8, y * 8, (x + y) * 4], axis=-1).astype(np.float64)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def png_file(tmp_path, rgb_uint8):
    """A 32×32 RGB PNG in tmp_path."""
    from PIL import Image

    path = tmp_path / "img.png"
    Image.fromarray(rgb_uint8).save(path)
    return str(path)


@pytest.fixture
def image_dir(tmp_path):
    """A folder of five 48×56 training images (blocky, so L1 training has something to learn)."""
    from PIL import Image

    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        base = rng.random((12, 14, 3))
        img = np.kron(base, np.ones((4, 4, 1)))[:48, :56]
        Image.fromarray((img * 255).astype(np.uint8)).save(d / f"{i}.png")
    return str(d)
