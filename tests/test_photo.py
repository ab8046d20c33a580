"""Photo degradations (ordinary resizers, JPEG) and pretraining on them."""
import os

import numpy as np
import pytest
from keras import ops

from mzsr_tf.data import photo, pipeline
from mzsr_tf.data.sources import ImagePool
from mzsr_tf.errors import InputError
from mzsr_tf.resize import imresize
from mzsr_tf.train import checkpoint, command
from mzsr_tf.train import config as config_mod


def test_box_shrink_is_the_block_mean(rgb_uint8):
    hr = rgb_uint8[:32, :32]
    blocks = hr.astype(np.float64).reshape(16, 2, 16, 2, 3).mean(axis=(1, 3))
    diff = np.abs(photo.shrink(hr, 2, "box").astype(np.float64) - blocks)
    assert diff.max() <= 0.5 + 1e-9


def test_bicubic_shrink_is_close_to_matlab_imresize():
    rng = np.random.default_rng(0)
    hr = (np.kron(rng.random((16, 16, 3)), np.ones((4, 4, 1))) * 255).astype(np.uint8)
    ref = ops.convert_to_numpy(imresize(hr[None].astype(np.float32) / 255.0, 0.5))[0] * 255
    diff = np.abs(photo.shrink(hr, 2, "bicubic").astype(np.float64) - ref)[4:-4, 4:-4]
    assert diff.mean() < 1.0 and diff.max() <= 3.0


def test_jpeg_roundtrip_is_lossy_and_keeps_the_shape(rgb_uint8):
    out = photo.jpeg_roundtrip(rgb_uint8, 60)
    assert out.shape == rgb_uint8.shape and out.dtype == np.uint8
    assert not np.array_equal(out, rgb_uint8)
    assert np.mean(np.abs(out.astype(float) - rgb_uint8)) > np.mean(
        np.abs(photo.jpeg_roundtrip(rgb_uint8, 98).astype(float) - rgb_uint8))


def test_photo_batches_are_a_function_of_the_step_and_share_the_bicubic_crops(image_dir):
    pool = ImagePool.from_config(config_mod.DataConfig(dirs=[image_dir], val_images=0), 16)[0]
    args = (pool, 7, 3, 4, 16, 2, ["box", "bicubic"], [60, 90], 0.5)
    lr, hr = pipeline.sample_photo_pretrain(*args)
    lr2, hr2 = pipeline.sample_photo_pretrain(*args)
    assert lr.shape == (4, 8, 8, 3) and lr.dtype == np.uint8
    assert np.array_equal(lr, lr2) and np.array_equal(hr, hr2)
    assert np.array_equal(hr, pipeline.sample_pretrain(pool, 7, 3, 4, 16))
    ilr, hr_f = pipeline.degrade_photo_pretrain(lr, hr, 2)
    assert tuple(ops.shape(ilr)) == (4, 16, 16, 3) and tuple(ops.shape(hr_f)) == (4, 16, 16, 3)


def test_photo_options_are_validated():
    cfg = config_mod.preset("smoke")
    cfg.pretrain.resizers = ["nearest"]
    with pytest.raises(InputError, match="resizers"):
        cfg.validate()
    cfg.pretrain.resizers = ["box"]
    cfg.pretrain.jpeg_quality = [90, 60]
    with pytest.raises(InputError, match="jpeg_quality"):
        cfg.validate()
    cfg.pretrain.resizers, cfg.pretrain.jpeg_quality = [], [60, 90]
    with pytest.raises(InputError, match="needs pretrain.resizers"):
        cfg.validate()


def test_photo_pretraining_fine_tunes_given_weights(image_dir, tmp_path, weights_file):
    cfg = config_mod.preset("smoke")
    cfg.data.dirs, cfg.data.val_images, cfg.run_dir = [image_dir], 1, str(tmp_path / "run")
    cfg.val_every = 2
    for a in ("pretrain.init_weights=" + weights_file, "pretrain.resizers=[box,lanczos]",
              "pretrain.jpeg_quality=[70,90]", "pretrain.jpeg_fraction=0.5", "pretrain.steps=2"):
        config_mod.set_override(cfg, a)
    assert command.run(cfg.validate(), "pretrain", progress=False) == 0
    params = checkpoint.load(os.path.join(cfg.run_dir, "pretrain", "checkpoint.npz"))["params"]
    from mzsr_tf.model import get_params
    from mzsr_tf.weights import load_model

    start = get_params(load_model(weights_file))
    # fine-tuned: the same network moved a little from the given weights, not re-initialised
    moved = [np.max(np.abs(np.asarray(p) - ops.convert_to_numpy(s))) for p, s in zip(params, start)]
    assert 0 < max(moved) < 0.05
    with open(os.path.join(cfg.run_dir, "pretrain", "logs", "metrics.csv")) as f:
        assert "val/psnr_photo" in f.read()


def _textured(n=128, seed=0):
    """A smooth random field plus stripes and slight noise, uint8 n×n×3 (photo-like, lossless)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    base = gaussian_filter(rng.random((n, n, 3)), (3, 3, 0))
    base = (base - base.min()) / (base.max() - base.min())
    y, x = np.mgrid[0:n, 0:n]
    img = base * 0.7 + 0.3 * ((x + 2 * y) % 37 < 18)[..., None] + rng.normal(0, 0.02, base.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


@pytest.mark.parametrize("seed", [0, 1])
def test_jpeg_evidence_separates_jpeg_from_lossless(seed):
    img = _textured(seed=seed)
    assert photo.jpeg_evidence(img) < photo.JPEG_THRESHOLD
    assert photo.jpeg_evidence(img / 255.0) == pytest.approx(photo.jpeg_evidence(img))  # float [0, 1] the same
    for q in (60, 75, 85):
        assert photo.jpeg_evidence(photo.jpeg_roundtrip(img, q)) > photo.JPEG_THRESHOLD + 0.3
    assert not photo.looks_like_jpeg(photo.jpeg_roundtrip(img, 75)[:64, :64])  # too small to tell: no
