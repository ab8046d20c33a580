"""Prints training speed: supervised steps/s and meta-iterations/s, per lever.

Synthetic HR crops (no data needed), the shapes of a preset or a run config,
the active Keras backend (KERAS_BACKEND=jax for JAX).

Default mode: median time of a Pre-train step and of a meta-iteration.

``--levers``: the training levers of issue-style comparisons, side by side in
one process. Each variant's step is timed in interleaved rounds (one step of
each per round, after warm-up), so machine load hits all alike; it prints wall
and CPU seconds per step, the ratio to the first variant (by default the float32
second-order meta-iteration),
and tasks per CPU-hour (the samples a meta-gradient sees per unit of compute).

Usage:
  python bench/train_speed.py [--preset cpu] [--steps 5] [--first-order]
  python bench/train_speed.py --levers --config configs/cpu_x2_direct.yaml --steps 3 \\
      --variants reference,first_order,fewer_tasks,pretrain_all
  python bench/train_speed.py --levers --config configs/cpu_x2_direct.yaml --steps 1 \\
      --variants reference,bfloat16 --set meta.tasks_per_batch=1   # bf16 is slow where it is emulated
"""
import argparse
import copy
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _timed(stage, state, batch, step):
    import numpy as np

    wall, cpu = time.perf_counter(), time.process_time()
    state, metrics = stage.step(state, batch, step)
    float(np.asarray(list(metrics.values())[0]))  # wait for the device
    return state, time.perf_counter() - wall, time.process_time() - cpu


def _single(stage, steps):
    state, it, times = stage.init(), stage.batches(0), []
    for i in range(steps + 2):
        state, wall, _ = _timed(stage, state, next(it), i)
        times.append(wall)
    return statistics.median(times[2:])


def lever_variants(cfg):
    """{name: (label, config, stage kind, tasks per step)} of each lever, the reference first."""
    from mzsr_tf.train import config as config_mod

    def variant(*assignments):
        c = copy.deepcopy(cfg)
        for assignment in assignments:
            config_mod.set_override(c, assignment)
        return c

    m = cfg.meta
    fewer = max(1, m.tasks_per_batch // 2)
    return {
        "reference": ("meta, float32, second order (reference)", variant(), "meta", m.tasks_per_batch),
        "first_order": ("meta, first order", variant("meta.first_order=true"), "meta", m.tasks_per_batch),
        "fewer_tasks": (f"meta, {fewer} tasks per batch", variant(f"meta.tasks_per_batch={fewer}"), "meta", fewer),
        "bfloat16": ("meta, bfloat16 convolutions", variant("compute_dtype=bfloat16"), "meta", m.tasks_per_batch),
        "pretrain_all": ("Pre-train (All) step", variant(), "pretrain_all", cfg.pretrain_all.kernels_per_batch),
    }


def levers(chosen, pool, params, steps):
    """Times the chosen lever variants in interleaved rounds and prints one row each.

    Args:
      chosen: {name: (label, config, stage kind, tasks per step)}, from ``lever_variants``; ratios
        are to the first.
      pool: the image pool the stages sample from.
      params: the starting weights.
      steps: timed rounds after warm-up.
    """
    from mzsr_tf.train.stages import Meta, PretrainAll

    runs = []
    for label, c, kind, tasks in chosen.values():
        stage = (Meta if kind == "meta" else PretrainAll)(c, pool, [], params)
        state, it = stage.init(), stage.batches(0)
        for i in range(2):  # trace and warm up
            state, _, _ = _timed(stage, state, next(it), i)
        runs.append({"label": label, "stage": stage, "state": state, "it": it, "tasks": tasks, "wall": [], "cpu": []})
        print(f"  warmed up: {label}", flush=True)
    for r in range(steps):
        for run in runs:
            run["state"], wall, cpu = _timed(run["stage"], run["state"], next(run["it"]), 2 + r)
            run["wall"].append(wall)
            run["cpu"].append(cpu)
    ref = statistics.median(runs[0]["cpu"])  # ratios are to the first variant
    print(f"\n{'variant':44s} {'wall s':>8s} {'CPU s':>8s} {'CPU ratio':>10s} {'tasks/CPU-h':>12s}")
    for run in runs:
        wall, cpu = statistics.median(run["wall"]), statistics.median(run["cpu"])
        print(f"{run['label']:44s} {wall:8.2f} {cpu:8.2f} {cpu / ref:10.3f} {run['tasks'] * 3600 / cpu:12.0f}")
    print("(medians of interleaved rounds" + ("; Pre-train (All)'s 'tasks' are its kernels per batch)"
                                              if "pretrain_all" in chosen else ")"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--config", help="a run config YAML (its shapes replace the preset's)")
    p.add_argument("--steps", type=int, default=5, help="timed steps per stage or rounds per lever (after warm-up)")
    p.add_argument("--levers", action="store_true", help="time every training lever side by side")
    p.add_argument("--variants", default="reference,first_order,fewer_tasks,bfloat16,pretrain_all",
                   help="with --levers: which, comma-separated; ratios are to the first one (default: all)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field (e.g. meta.tasks_per_batch=1), as in mzsr_tf.train")
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

    cfg = config_mod.load(args.config) if args.config else config_mod.preset(args.preset)
    if not args.config:
        cfg.scale = args.scale
    for assignment in args.set:
        config_mod.set_override(cfg, assignment)
    cfg.meta.first_order = cfg.meta.first_order or args.first_order
    cfg.meta.learn_inner_step_sizes = cfg.meta.learn_inner_step_sizes or args.learn_inner_step_sizes
    rng = np.random.default_rng(0)
    pool = ImagePool([(rng.random((160, 160, 3)) * 255).astype(np.uint8) for _ in range(8)])
    params = get_params(build_model())
    print(f"backend {backend.NAME}; config {args.config or cfg.name}; scale x{cfg.scale}")

    if args.levers:
        m = cfg.meta
        print(f"meta-batch: {m.tasks_per_batch} tasks x {m.patches_per_task // 2}+{m.patches_per_task // 2} patches "
              f"{m.patch_size}^2, {m.inner_steps} inner steps; {args.steps} interleaved rounds")
        variants, names = lever_variants(cfg), args.variants.split(",")
        unknown = sorted(set(names) - set(variants))
        if unknown:
            p.error(f"--variants: unknown {unknown}; known: {', '.join(variants)}")
        levers({n: variants[n] for n in names}, pool, params, args.steps)
        return

    pre = _single(Pretrain(cfg, pool, [], init_params=params), args.steps)
    pc = cfg.pretrain
    print(f"pretraining: batch {pc.batch_size} x {pc.patch_size}^2: {pre:.3f} s/step = {1 / pre:.2f} steps/s")
    meta = _single(Meta(cfg, pool, [], params), args.steps)
    m = cfg.meta
    kind = "first-order" if m.first_order else "second-order"
    print(
        f"meta ({kind}, {m.tasks_per_batch} tasks x {m.patches_per_task // 2}+{m.patches_per_task // 2} "
        f"patches {m.patch_size}^2, {m.inner_steps} inner steps): {meta:.2f} s/iteration = {1 / meta:.3f} it/s"
    )


if __name__ == "__main__":
    main()
