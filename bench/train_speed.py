"""Prints pretraining steps/s and second-order meta-iterations/s on this machine.

Synthetic HR crops (no data needed), the given preset's shapes, the active
Keras backend (KERAS_BACKEND=jax for JAX). Median of timed steps after warm-up.

Usage: python bench/train_speed.py [--preset cpu] [--steps 5] [--first-order]
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--steps", type=int, default=5, help="timed steps per stage (after 2 warm-up steps)")
    p.add_argument("--first-order", action="store_true")
    p.add_argument("--learn-inner-step-sizes", action="store_true")
    p.add_argument("--scale", type=int, default=2)
    args = p.parse_args()

    import numpy as np

    from mzsr_tf import backend
    from mzsr_tf.data.sources import ImagePool
    from mzsr_tf.model import build_model, get_params
    from mzsr_tf.train import config as config_mod
    from mzsr_tf.train.stages import Meta, Pretrain

    cfg = config_mod.preset(args.preset)
    cfg.scale = args.scale
    cfg.meta.first_order = args.first_order
    cfg.meta.learn_inner_step_sizes = args.learn_inner_step_sizes
    rng = np.random.default_rng(0)
    pool = ImagePool([(rng.random((160, 160, 3)) * 255).astype(np.uint8) for _ in range(8)])
    params = get_params(build_model())

    def bench(stage):
        state = stage.init()
        it = stage.batches(0)
        times = []
        for i in range(args.steps + 2):
            batch = next(it)
            t = time.perf_counter()
            state, m = stage.step(state, batch, i)
            float(np.asarray(list(m.values())[0]))  # wait for the device
            times.append(time.perf_counter() - t)
        return statistics.median(times[2:])

    pre = bench(Pretrain(cfg, pool, [], init_params=params))
    pc = cfg.pretrain
    print(f"backend {backend.NAME}; preset {cfg.name}; scale x{cfg.scale}")
    print(f"pretraining: batch {pc.batch_size} x {pc.patch_size}^2: {pre:.3f} s/step = {1 / pre:.2f} steps/s")
    meta = bench(Meta(cfg, pool, [], params))
    m = cfg.meta
    kind = "first-order" if m.first_order else "second-order"
    print(
        f"meta ({kind}, {m.tasks_per_batch} tasks x {m.patches_per_task // 2}+{m.patches_per_task // 2} "
        f"patches {m.patch_size}^2, {m.inner_steps} inner steps): {meta:.2f} s/iteration = {1 / meta:.3f} it/s"
    )


if __name__ == "__main__":
    main()
