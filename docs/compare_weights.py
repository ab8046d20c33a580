"""Compares weights on photos that are neither training data nor benchmark images, under several kernels.

    pip install -e ".[photos]"    # scikit-image, whose photos these are
    python docs/compare_weights.py --weights OLD.weights.h5 mzsr_bicubic_x2 --subsampling bicubic

The photos are scikit-image's astronaut, coffee, chelsea, rocket and
hubble_deep_field (centre 256×256 crops), which are in no training set here.
Each is blurred with isotropic Gaussians of variance 1.0, 1.3 and 2.0 and with
two kernels drawn from the training distribution p(k) (fixed seeds), subsampled
×2, rounded to uint8, and upscaled by MZSR with each of the weights (their own
step sizes; ``--steps``). It prints PSNR on Y (border 2) per photo and the mean
per kernel: a check beside the training run's own validation before new
weights are shipped.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field")
CROP = 256


def kernels(scale, wide=False):
    """The comparison kernels; ``wide`` adds kernels outside p(k) (λ < 1, no blur) and a steep anisotropic one."""
    from mzsr_tf.kernels import delta_kernel, gaussian_kernel_np, random_kernel_np

    out = {f"iso {v:g}": gaussian_kernel_np(v, v, 0.0) for v in (1.0, 1.3, 2.0)}
    for seed in (11, 12):
        out[f"p(k) #{seed}"] = random_kernel_np(scale, np.random.default_rng(seed))
    if wide:
        out.update({"iso 0.3": gaussian_kernel_np(0.3, 0.3, 0.0), "iso 0.6": gaussian_kernel_np(0.6, 0.6, 0.0),
                    "ani 4.5/0.8": gaussian_kernel_np(4.5, 0.8, 1.1), "none": delta_kernel()})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", nargs="+", required=True, help="shipped names or .weights.h5 paths")
    ap.add_argument("--subsampling", choices=("direct", "bicubic"), default="direct")
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--wide", action="store_true",
                    help="also kernels outside p(k): variance 0.3 and 0.6, no blur (a delta kernel given as "
                    "the kernel) and an anisotropic 4.5/0.8 (for kernel-aware weights, told every kernel)")
    ap.add_argument("--estimate", action="store_true",
                    help="upscale with --kernel estimate (the kernel estimated from each LR image) instead of "
                    "the kernel that made it")
    a = ap.parse_args(argv)
    import skimage.data
    from keras import ops

    import mzsr_tf
    from mzsr_tf.degrade import degrade
    from mzsr_tf.metrics import psnr

    ks = kernels(a.scale, a.wide)
    res = {w: {k: [] for k in ks} for w in a.weights}
    for name in PHOTOS:
        im = getattr(skimage.data, name)()[..., :3]
        top, left = (im.shape[0] - CROP) // 2, (im.shape[1] - CROP) // 2
        hr = im[top:top + CROP, left:left + CROP]
        for kname, k in ks.items():
            lr = degrade(hr[None].astype(np.float32) / 255.0, a.scale, kernel=k, subsampling=a.subsampling,
                         round_uint8=True)
            lr = np.round(np.asarray(ops.convert_to_numpy(lr))[0] * 255).astype(np.uint8)
            for w in a.weights:
                sr = mzsr_tf.upscale(lr, a.scale, kernel="estimate" if a.estimate else k, steps=a.steps,
                                     subsampling=a.subsampling, weights=w)
                res[w][kname].append(psnr(sr, hr, crop_border=a.scale))
        print(name, "  ".join(f"{os.path.basename(w)}: " + " ".join(f"{res[w][k][-1]:.2f}" for k in ks)
                               for w in a.weights), flush=True)
    told = "estimated kernels" if a.estimate else "the true kernels"
    print(f"\nmean PSNR (dB), MZSR({a.steps}), x{a.scale} {a.subsampling}, {told}; kernels: " + ", ".join(ks))
    for w in a.weights:
        means = [float(np.mean(res[w][k])) for k in ks]
        print(f"{os.path.basename(w):32s} " + " ".join(f"{m:6.2f}" for m in means) + f"   all {np.mean(means):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
