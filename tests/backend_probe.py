"""Runs one pretraining step and one meta-iteration under the active Keras backend.

Used by tests/test_backends.py in a subprocess per backend (Keras reads
KERAS_BACKEND once, at import). Prints one JSON line.

Usage: python tests/backend_probe.py WEIGHTS.weights.h5 IMAGE_DIR
"""
import json
import sys

import numpy as np


def main(weights, image_dir):
    import keras

    from mzsr_tf import backend
    from mzsr_tf.data.sources import ImagePool, list_images, load_images
    from mzsr_tf.model import get_params
    from mzsr_tf.train import config as config_mod
    from mzsr_tf.train.stages import Meta, Pretrain
    from mzsr_tf.weights import load_model

    cfg = config_mod.preset("smoke")
    cfg.data.dirs = [image_dir]
    pool = ImagePool(load_images(list_images([image_dir]), 16))
    params = get_params(load_model(weights))
    meta = Meta(cfg, pool, [], params)
    state = meta.init()
    batch = next(meta.batches(0))
    state, m = meta.step(state, batch, 0)
    pre = Pretrain(cfg, pool, [], init_params=params)
    pstate = pre.init()
    pstate, pm = pre.step(pstate, next(pre.batches(0)), 0)
    to_f = lambda v: float(np.asarray(keras.ops.convert_to_numpy(v)))
    print(json.dumps({
        "backend": backend.NAME,
        "meta_loss": to_f(m["loss/meta"]),
        "meta_after_step": [to_f(m[f"loss/after_step_{j + 1}"]) for j in range(cfg.meta.inner_steps)],
        "meta_param0_sum": to_f(keras.ops.sum(state["params"][0])),
        "pretrain_loss": to_f(pm["loss/l1"]),
        "pretrain_param0_sum": to_f(keras.ops.sum(pstate["params"][0])),
    }))


if __name__ == "__main__":
    main(*sys.argv[1:3])
