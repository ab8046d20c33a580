"""Calibrates how much the estimated kernel's covariance is shrunk before MZSR adapts to it.

    python docs/estimate_shrink.py --train-dir TRAIN/BSD200 TRAIN/T91 TRAIN/SunHays80 \\
        [--crops 48] [--factors 0.6 0.7 0.8 0.9 1.0 1.1] [--steps 10] [--json OUT.json]

Why ask: the cost of a kernel error looks lopsided. Adapting to a kernel wider
than the true one over-sharpens (on Set5 g^d_2.0, baby estimated at variance 3.5
instead of 2 lost 3.1 dB); adapting to a narrower one under-sharpens a little. If
that held on average, scaling the estimated covariance by a factor f < 1 would
trade kernel error for PSNR. This script measures it on data that is not Set5.

How: crops of the photos the estimator held out (every fifth, as in
``docs/estimate_fit.py``; never a benchmark image) are blurred, three in four
with an ``rk`` kernel (``kernels.rk_kernel``: λ ~ U(0.35, 5), tap noise) and one
in four with a sharp Gaussian (λ ~ U(0.05, 0.6)), subsampled directly ×2 and
rounded. Each is upscaled by MZSR with the shipped default weights and their
step sizes, once per factor f (kernel = Gaussian of f·Σ̂) and once with the
true kernel; PSNR on Y, border 2. It prints the mean per factor and the best
one; the per-crop numbers go to ``--json``. Result
(``docs/results/estimate_shrink.txt``, 19 crops): f = 1.1 29.78 dB, 1.0 29.73,
0.9 29.62, 0.8 29.46, true kernel 29.72. Shrinking loses on held-out crops, so
the estimator ships unscaled.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mzsr_tf  # noqa: E402
from mzsr_tf.estimate import core  # noqa: E402
from mzsr_tf.kernels import gaussian_kernel_np, rk_kernel  # noqa: E402
from mzsr_tf.metrics import psnr  # noqa: E402

SCALE = 2
SHARP_EVERY = 4  # one crop in four has a sharp kernel


def held_out_photos(train_dirs):
    files = sorted(os.path.join(d, n) for d in train_dirs for n in os.listdir(d)
                   if n.lower().endswith((".png", ".jpg", ".bmp")))
    return [f for i, f in enumerate(files) if i % 5 == 0]


def crop_kernel(i, rng):
    """Crop i's true kernel: rk (seeded from i) or, every ``SHARP_EVERY``-th crop, a sharp Gaussian."""
    if i % SHARP_EVERY == SHARP_EVERY - 1:
        l1, l2 = rng.uniform(0.05, 0.6, 2)
        return gaussian_kernel_np(l1, l2, rng.uniform(0, math.pi))
    return rk_kernel(10_000 + i)


def make_crops(photos, count, size, seed):
    """(hr uint8 [size, size, 3], lr uint8, true kernel, sharp or not) for up to ``count`` crops cycling
    through ``photos`` (photos smaller than ``size`` are passed over)."""
    from mzsr_tf.degrade import degrade
    from keras import ops

    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        hr = np.asarray(Image.open(photos[i % len(photos)]).convert("RGB"))
        if min(hr.shape[:2]) < size:
            continue
        top, left = rng.integers(0, hr.shape[0] - size + 1), rng.integers(0, hr.shape[1] - size + 1)
        hr = hr[top:top + size, left:left + size]
        k = crop_kernel(i, rng)
        lr = degrade(hr[None].astype(np.float32) / 255.0, SCALE, kernel=k, subsampling="direct")
        lr = np.round(np.clip(ops.convert_to_numpy(lr)[0], 0, 1) * 255).astype(np.uint8)
        out.append((hr, lr, k, i % SHARP_EVERY == SHARP_EVERY - 1))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-dir", nargs="+", required=True)
    ap.add_argument("--crops", type=int, default=48)
    ap.add_argument("--size", type=int, default=256, help="HR crop side")
    ap.add_argument("--factors", type=float, nargs="+", default=[0.6, 0.7, 0.8, 0.9, 1.0, 1.1])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="write per-crop PSNRs here")
    args = ap.parse_args()
    t0 = time.time()
    crops = make_crops(held_out_photos(args.train_dir), args.crops, args.size, args.seed)
    model = core.load_model(SCALE, "direct")
    columns = [f"f={f:g}" for f in args.factors] + ["true kernel"]
    table = {c: [] for c in columns}
    for n, (hr, lr, k, _) in enumerate(crops):
        cov = core.predict_covariance(model, core.features(core.luma(lr.astype(np.float32) / 255.0)))
        kernels = [core.gaussian_from_covariance(cov * f) for f in args.factors] + [k]
        for c, kern in zip(columns, kernels):
            sr = mzsr_tf.upscale(lr, SCALE, kernel=kern, steps=args.steps)
            table[c].append(psnr(sr, hr, crop_border=SCALE))
        print(f"{n + 1}/{len(crops)} " + " ".join(f"{c} {table[c][-1]:.2f}" for c in columns), flush=True)
    means = {c: float(np.mean(v)) for c, v in table.items()}
    sharp = [c[3] for c in crops]
    print(f"\n{len(crops)} held-out crops ({sum(sharp)} sharp), MZSR({args.steps}), mean PSNR (dB):")
    for c in columns:
        v = np.asarray(table[c])
        print(f"  {c:12s} {means[c]:.3f}   rk {v[~np.array(sharp)].mean():.3f}   sharp {v[np.array(sharp)].mean():.3f}")
    best = max(args.factors, key=lambda f: means[f"f={f:g}"])
    print(f"best factor {best:g} ({time.time() - t0:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"factors": args.factors, "psnr": table, "sharp": sharp}, f)


if __name__ == "__main__":
    main()
