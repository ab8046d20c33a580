"""FiLM against code maps: two ways to tell the network the kernel, trained alike and measured alike.

    python docs/film_trial.py --run training/kernel_aware_x2_direct --data-dir PATH/TO/train \
        [--steps 2000] [--val-every 500] [--out docs/results/film_trial]

The shipped kernel-aware network concatenates the kernel's code as constant maps
to the ILR at the first convolution (``mzsr_tf.kernel_code``). The alternative
is per-layer affine modulation (FiLM, Perez et al. 2018): after each hidden
convolution the 64 features are scaled and shifted, ``h·(1 + γ_i(c)) + β_i(c)``,
with γ_i, β_i linear in the code ``c``; the first convolution sees the image
only. Its modulation weights start at zero, so step 0 is ``pretrain_x2``
exactly, as the code maps' run started.

This script trains the FiLM network with the run's own Pre-train (All) settings
on the run's own batches (same seed, images, kernels, codes, learning rate),
and validates it on the run's held-out crops and kernels, PSNR after 0 and 10
steps of Algorithm 2 with the reference step sizes (the FiLM forward is this
script's own, so it adapts here too). The code maps' curve is read from the
run's log (``val/psnr_step{0,10}``); both start from the same point, which the
script checks. It prints and writes the two curves (JSON and Markdown) and the
seconds per training step of each on this machine.
"""
import argparse
import csv
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mzsr_tf.cli import guarded  # noqa: E402


def film_forward(params, x, channels=3):
    """ILR + f(ILR) with FiLM: ``params`` = conv [w0, b0, ..., w7, b7] + [A], A float [t, 2·(L−1)·W].

    ``x`` is the ILR with the code as constant maps after its channels (as the
    pipeline and ``son_input`` make it); the code is read from pixel (0, 0).
    """
    from keras import ops

    from mzsr_tf import backend

    conv, mod = params[:-1], params[-1]
    image, code = x[..., :channels], x[:, 0, 0, channels:]
    layers = len(conv) // 2
    width = int(conv[0].shape[-1])
    gamma_beta = ops.reshape(ops.matmul(code, mod), (-1, layers - 1, 2, width))
    h = image
    for i in range(layers):
        h = backend.bias_add(backend.conv_same(h, conv[2 * i]), conv[2 * i + 1])
        if i < layers - 1:
            h = h * (1.0 + gamma_beta[:, i, 0, None, None, :]) + gamma_beta[:, i, 1, None, None, :]
            h = ops.relu(h)
    return image + h


def film_l1(params, x, y, compute_dtype=None):
    """L1 of the FiLM network, in the loss signature ``mzsr_tf.adapt`` takes (float32 here)."""
    from keras import ops

    return ops.mean(ops.abs(film_forward(params, x) - y))


def train_step():
    from mzsr_tf import backend
    from mzsr_tf.train.optim import adam_update

    def step(params, opt, x, y, rate):
        loss, grads = backend.value_and_grad(film_l1, params, x, y)
        params, opt = adam_update(params, grads, opt, rate)
        return params, opt, loss

    return backend.compile_fn(step)


def adapt_and_upscale(params, lr, scale, kernel, subsampling, code, sizes):
    """Algorithm 2 (``mzsr_tf.adapt``) with the FiLM loss: ``len(sizes)`` steps on ILR(son) → LR, then SR of LR."""
    from keras import ops

    from mzsr_tf.adapt import adapt, son_input
    from mzsr_tf.kernel_code import with_code
    from mzsr_tf.resize import imresize

    fast = adapt(params, son_input(lr, scale, kernel, subsampling, code), lr, list(sizes), loss=film_l1)
    return ops.clip(film_forward(fast, with_code(imresize(lr, float(scale)), code)), 0.0, 1.0)


def validate(params, cfg, val, kernels, kernel_pca, steps=(0, 10)):
    """{'psnr_step{n}': ..., 'psnr_noblur_step{n}': ...} on the run's held-out crops (its validate_blind's data)."""
    from keras import ops

    from mzsr_tf.adapt import step_size_schedule
    from mzsr_tf.degrade import degrade
    from mzsr_tf.kernel_code import code_for
    from mzsr_tf.train.validation import psnr_y, val_crops

    out = {}
    for hr, k in zip(val_crops(val, cfg.data.val_crop, cfg.scale), kernels):
        hr_t = ops.convert_to_tensor(hr[None].astype(np.float32) / 255.0)
        for tag, kernel in (("", k), ("noblur_", None)):
            lr = degrade(hr_t, cfg.scale, kernel=kernel, subsampling=cfg.subsampling, round_uint8=True)
            kt = None if kernel is None else ops.convert_to_tensor(kernel, "float32")
            for n in steps:
                sizes = step_size_schedule(n, cfg.subsampling, cfg.scale)
                sr = adapt_and_upscale(params, lr, cfg.scale, kt, cfg.subsampling, code_for(kernel_pca, kernel), sizes)
                out.setdefault(f"psnr_{tag}step{n}", []).append(psnr_y(sr, hr, cfg.scale))
    return {k: float(np.mean(v)) for k, v in out.items()}


def logged_curve(run_dir):
    """{step: {metric: value}} of the run's Pre-train (All) validation, and its CPU seconds per step."""
    curve, cpu = {}, {}
    with open(os.path.join(run_dir, "pretrain_all", "logs", "metrics.csv")) as f:
        for row in csv.DictReader(f):
            step, name, value = int(row["step"]), row["name"], float(row["value"])
            if name.startswith("val/psnr_") and not name.endswith("step1"):
                curve.setdefault(step, {})[name.removeprefix("val/")] = value
            if name == "time/cpu_hours":
                cpu[step] = value
    a, b = sorted(cpu)[len(cpu) // 10], sorted(cpu)[-1]
    return curve, (cpu[b] - cpu[a]) * 3600.0 / (b - a)


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("--run", required=True, help="a kernel-aware run directory (its config, basis and log)")
    p.add_argument("--data-dir", required=True, nargs="+", help="the run's training image folders")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--out", default="docs/results/film_trial", help="writes OUT.json and OUT.md")
    return p


@guarded
def main(argv=None):
    args = build_parser().parse_args(argv)
    import keras
    from keras import ops

    from mzsr_tf.data.sources import ImagePool
    from mzsr_tf.errors import InputError
    from mzsr_tf.model import code_components, get_params
    from mzsr_tf.speed.cpu import cpu_summary
    from mzsr_tf.train import config as config_mod
    from mzsr_tf.train.optim import adam_init
    from mzsr_tf.train.stages import run_kernel_pca, task_batches
    from mzsr_tf.train.validation import validation_kernels
    from mzsr_tf.weights import load_model

    cfg = config_mod.load(os.path.join(args.run, "config.yaml"))
    if not cfg.kernel_aware.components or not os.path.isfile(os.path.join(args.run, "kernel_pca.npz")):
        raise InputError(f"{args.run}: not a kernel-aware run (no kernel_aware.components or kernel_pca.npz)")
    cfg.data.dirs = list(args.data_dir)
    kernel_pca = run_kernel_pca(cfg)
    logged, concat_seconds = logged_curve(args.run)
    pool, val = ImagePool.from_config(cfg.data, cfg.meta.patch_size, warn=lambda m: print(m, file=sys.stderr))
    kernels = validation_kernels(cfg, len(val))
    conv = get_params(load_model(cfg.pretrain_all.init_weights, cfg.scale, cfg.subsampling))
    if code_components(conv):
        raise InputError(f"{cfg.pretrain_all.init_weights}: the FiLM trial starts from weights without code inputs")
    layers, width, t = len(conv) // 2, int(conv[0].shape[-1]), cfg.kernel_aware.components
    params = conv + [ops.zeros((t, 2 * (layers - 1) * width))]
    keras.utils.set_random_seed(cfg.seed)
    opt, step_fn = adam_init(params), train_step()
    p = cfg.pretrain_all
    batches = task_batches(cfg, pool, 0, p.kernels_per_batch, p.patches_per_kernel, p.patch_size, p.noise_sigma,
                           p.no_blur_fraction, flatten=True, kernel_pca=kernel_pca)
    rate = ops.convert_to_tensor(p.learning_rate, "float32")
    curve, seconds = {0: validate(params, cfg, val, kernels, kernel_pca)}, []
    print(f"step 0: FiLM {curve[0]} | code maps (log) {logged.get(0)}", flush=True)
    if 0 in logged and abs(curve[0]["psnr_step0"] - logged[0]["psnr_step0"]) > 0.01:
        raise RuntimeError("the FiLM network's start differs from the run's: not the same start or validation")
    for step in range(1, args.steps + 1):
        x, y = next(batches)
        t0 = time.process_time()
        params, opt, loss = step_fn(params, opt, x, y, rate)
        float(ops.convert_to_numpy(loss))
        seconds.append(time.process_time() - t0)
        if step % args.val_every == 0:
            curve[step] = validate(params, cfg, val, kernels, kernel_pca)
            print(f"step {step}: loss {float(ops.convert_to_numpy(loss)):.4f} FiLM {curve[step]} | "
                  f"code maps (log) {logged.get(step)}", flush=True)
    film_seconds = float(np.median(seconds[10:] or seconds))
    result = {"run": args.run, "cpu": cpu_summary(), "steps": args.steps, "film": curve,
              "code_maps": {s: logged[s] for s in curve if s in logged},
              "cpu_seconds_per_step": {"film (median, this run)": film_seconds, "code maps (run log)": concat_seconds}}
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=1)
    lines = [f"FiLM against code maps (`python docs/film_trial.py --run {args.run} --steps {args.steps}`), "
             f"{result['cpu']}. Held-out PSNR (dB) on the run's crops: p(k) kernels and unblurred, after 0 / 10 steps.",
             "", "| step | code maps, p(k) 0 / 10 | FiLM, p(k) 0 / 10 | code maps, unblurred 0 / 10 | FiLM, unblurred 0 / 10 |",
             "|---|---|---|---|---|"]
    for s in sorted(curve):
        c, f_ = logged.get(s, {}), curve[s]
        get = lambda d, k: f"{d[k]:.2f}" if k in d else "–"  # noqa: E731
        lines.append(f"| {s} | {get(c, 'psnr_step0')} / {get(c, 'psnr_step10')} | {get(f_, 'psnr_step0')} / "
                     f"{get(f_, 'psnr_step10')} | {get(c, 'psnr_noblur_step0')} / {get(c, 'psnr_noblur_step10')} | "
                     f"{get(f_, 'psnr_noblur_step0')} / {get(f_, 'psnr_noblur_step10')} |")
    lines += ["", f"CPU seconds per training step: FiLM {film_seconds:.2f} (median, this run), "
              f"code maps {concat_seconds:.2f} (the run's log, which shared its machine with other work)."]
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
