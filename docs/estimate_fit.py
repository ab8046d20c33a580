"""Fits the blind kernel estimator (mzsr_tf.estimate) on synthetic LR images from training photos.

    python docs/estimate_fit.py --train-dir TRAIN/BSD200 TRAIN/T91 TRAIN/SunHays80 \\
        [--per-image 10] [--sharp-per-image 2] [--scale 2] [--subsampling direct] [--write]

Each training photo gives ``--per-image`` random HR crops (≤ 320² pixels), each
blurred with its own kernel (λ1, λ2 ~ U(0.05, 6) independently, Θ ~ U(0, π), in
half of them each tap times U(0.75, 1.25): broader than the ``rk`` test set), and
``--sharp-per-image`` more with λ1, λ2 ~ U(0.05, 0.6) (U(0.05, 6) alone puts <1% of
kernels there, and the estimate for g^d_0.2 came out too wide); each is subsampled
and rounded to uint8. Every fifth photo is held out to pick the ridge penalty (by
the mean kernel error on the held-out U(0.05, 6) crops; the error on held-out
kernels with λ1, λ2 < 0.5 is reported too); the model is then refitted on all
photos and, with ``--write``, saved with its card to
``mzsr_tf/weights/kernel_estimator_<subsampling>_x<scale>.json``.
"""
import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np
from PIL import Image
from scipy import signal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from mzsr_tf.estimate import core, kernel_error  # noqa: E402
from mzsr_tf.kernels import gaussian_kernel_np  # noqa: E402

RIDGES = (30.0, 100.0, 300.0, 1000.0)
SHARP = 0.5  # λ1, λ2 below this: the 'sharp' held-out subset


def training_kernel(rng, size=15, high=6.0):
    l1, l2 = rng.uniform(0.05, high, 2)
    k = gaussian_kernel_np(l1, l2, rng.uniform(0, math.pi), size).astype(np.float64)
    if rng.random() < 0.5:
        k *= rng.uniform(0.75, 1.25, k.shape)
    return k / k.sum()


def degrade_np(hr, k, scale, subsampling):
    """Correlation with symmetric padding, then subsampling, rounded to uint8 (as scenarios.make_lr)."""
    p = k.shape[0] // 2
    x = np.pad(hr, ((p, p), (p, p), (0, 0)), mode="symmetric")
    y = np.stack([signal.fftconvolve(x[..., c], k[::-1, ::-1], mode="valid") for c in range(3)], -1)
    if subsampling == "direct":
        y = y[::scale, ::scale]
    else:
        from keras import ops

        from mzsr_tf.resize import imresize

        y = ops.convert_to_numpy(imresize(y[None].astype(np.float32), 1.0 / scale))[0]
    return np.round(np.clip(y, 0, 1) * 255) / 255


def make_data(files, per_image, scale, subsampling, seed, high=6.0):
    rng = np.random.default_rng(seed)
    feats, kernels, groups = [], [], []
    for i, path in enumerate(files):
        hr = np.asarray(Image.open(path).convert("RGB"), np.float64) / 255.0
        for _ in range(per_image):
            h, w = min(320, hr.shape[0]), min(320, hr.shape[1])
            top, left = rng.integers(0, hr.shape[0] - h + 1), rng.integers(0, hr.shape[1] - w + 1)
            k = training_kernel(rng, high=high)
            lr = degrade_np(hr[top:top + h, left:left + w], k, scale, subsampling)
            feats.append(core.features(core.luma(lr)))
            kernels.append(k)
            groups.append(i)
    return np.array(feats), kernels, np.array(groups)


def errors(model, feats, kernels):
    return np.array([kernel_error(core.gaussian_from_covariance(core.predict_covariance(model, f)), k)
                     for f, k in zip(feats, kernels)])


def evaluate(model, feats, kernels, broad):
    """(mean, median) kernel error over the U(0.05, 6) crops, and the mean over sharp kernels."""
    e = errors(model, feats, kernels)
    sharp = np.array([np.linalg.eigvalsh(core.kernel_moments(k)).max() < SHARP for k in kernels])
    return float(np.mean(e[broad])), float(np.median(e[broad])), float(np.mean(e[sharp]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-dir", nargs="+", required=True)
    ap.add_argument("--per-image", type=int, default=10)
    ap.add_argument("--sharp-per-image", type=int, default=2)
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--subsampling", default="direct")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    files = sorted(os.path.join(d, n) for d in args.train_dir for n in os.listdir(d)
                   if n.lower().endswith((".png", ".jpg", ".bmp")))
    t0 = time.time()
    feats, kernels, groups = make_data(files, args.per_image, args.scale, args.subsampling, args.seed)
    broad = np.ones(len(feats), bool)
    if args.sharp_per_image:
        sf, sk, sg = make_data(files, args.sharp_per_image, args.scale, args.subsampling, args.seed + 1, high=0.6)
        feats, kernels, groups = np.concatenate([feats, sf]), kernels + sk, np.concatenate([groups, sg])
        broad = np.concatenate([broad, np.zeros(len(sf), bool)])
    print(f"{len(feats)} samples from {len(files)} photos in {time.time() - t0:.0f} s")
    held = groups % 5 == 0
    fit_k = [k for k, h in zip(kernels, held) if not h]
    val_k = [k for k, h in zip(kernels, held) if h]
    scores = {}
    for ridge in RIDGES:
        m = core.fit(feats[~held], fit_k, ridge)
        scores[ridge] = evaluate(m, feats[held], val_k, broad[held])
        print(f"ridge {ridge:g}: held-out kernel error mean {scores[ridge][0]:.4f}, median {scores[ridge][1]:.4f}, "
              f"sharp (λ < {SHARP}) {scores[ridge][2]:.4f}")
    best = min(scores, key=lambda r: scores[r][0])
    model = core.fit(feats, kernels, best)
    print(f"chosen ridge {best:g}; training-set error {evaluate(model, feats, kernels, broad)[0]:.3f}")
    if args.write:
        card = {
            "what": "ridge regression (quadratic features) from LR directional statistics to kernel variances",
            "scale": args.scale, "subsampling": args.subsampling,
            "data": [os.path.basename(os.path.normpath(d)) for d in args.train_dir],
            "samples": int(len(feats)), "photos": len(files), "ridge": best,
            "held_out_kernel_error": {"mean": round(scores[best][0], 4), "median": round(scores[best][1], 4),
                                      f"sharp_lambda_below_{SHARP:g}": round(scores[best][2], 4),
                                      "photos": int(len(set(groups[held])))},
            "kernels": "λ1, λ2 ~ U(0.05, 6) (--per-image) or U(0.05, 0.6) (--sharp-per-image), Θ ~ U(0, π), "
                       "half with ±25% tap noise; 15×15",
            "command": "python docs/estimate_fit.py --train-dir " + " ".join(
                "TRAIN/" + os.path.basename(os.path.normpath(d)) for d in args.train_dir)
            + f" --per-image {args.per_image} --sharp-per-image {args.sharp_per_image} --scale {args.scale} --subsampling {args.subsampling} --write",
            "hardware": f"{os.cpu_count()} CPU cores ({platform.machine()})",
            "seconds": round(time.time() - t0, 1),
        }
        out = {"card": card, "coef": model["coef"].round(6).tolist(), "mean": model["mean"].tolist(),
               "std": model["std"].tolist()}
        path = core.model_path(args.scale, args.subsampling)
        with open(path, "w") as f:
            json.dump(out, f)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
