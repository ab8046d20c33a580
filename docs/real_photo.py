"""The docs' real-photo figure (docs/guide/photos.md): a public-domain photo upscaled ×2 as it is, three ways, and the estimated kernel.

    python docs/real_photo.py [--photo rocket] [--box 242,95,160] [--show 80] [--out docs/real_photo.png]
        [--save-input rocket_crop.png]

The photo is one of scikit-image's bundled photographs (default: ``rocket``, SpaceX's
launch photo of DSCOVR, released into the public domain; a JPEG as scikit-image ships
it). No synthetic degradation: a square region of it (``--box X,Y,SIDE`` in photo
pixels) is upscaled ×2 as it is with the commands' defaults, through the Python API:

- bicubic interpolation (``--method bicubic``),
- MZSR with no kernel (the command with no options: bicubic subsampling, ``pretrain_x2``),
- MZSR with ``--kernel estimate`` (×2 direct, ``mzsr_direct_x2``, 10 steps),

and the middle ``--show`` × ``--show`` LR pixels of each result are drawn side by side
(pixels enlarged 2× more, nearest neighbour, so the upscalers' differences are visible),
with the kernel the estimator found. There is no ground truth, so nothing is measured
here; ``bench/real_photos.py`` measures. ``--save-input`` writes the region as a PNG, so
the same results come from ``python -m mzsr_tf.upscale`` (docs/guide/photos.md).
"""
import argparse
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mzsr_tf.cli import guarded  # noqa: E402
from mzsr_tf.errors import InputError  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
from real_photos import skimage_photo  # noqa: E402  (one loader for the figure and the measurement)

SCALE = 2  # the shipped estimator is ×2 direct


def parse_box(text):
    try:
        x, y, side = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y,SIDE (integers), got {text!r}") from None
    if min(x, y) < 0 or side < 32:
        raise argparse.ArgumentTypeError(f"X and Y must be >= 0 and SIDE >= 32, got {text!r}")
    return x, y, side


def load_region(name, box):
    """The photo's region as uint8 SIDE×SIDE×3."""
    photo = skimage_photo(name)
    x, y, side = box
    if y + side > photo.shape[0] or x + side > photo.shape[1]:
        raise InputError(f"--box {x},{y},{side} leaves the {photo.shape[1]}×{photo.shape[0]} photo")
    return photo[y:y + side, x:x + side]


def upscale_three(lr, steps):
    """(bicubic, MZSR no kernel, MZSR estimated kernel) uint8 results and the estimated kernel with its variances."""
    import mzsr_tf
    from mzsr_tf.estimate import estimate_kernel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bicubic = mzsr_tf.upscale(lr, scale=SCALE, method="bicubic")
        plain = mzsr_tf.upscale(lr, scale=SCALE, steps=steps)  # the no-kernel default
        blind = mzsr_tf.upscale(lr, scale=SCALE, kernel="estimate", steps=steps)
    kernel, info = estimate_kernel(lr, SCALE, "direct", return_info=True)  # the one upscale used (deterministic)
    return (bicubic, plain, blind), kernel, (info["lambda1"], info["lambda2"])


def draw(lr, results, kernel, lambdas, show, out, title):
    """One PNG: the region (with the shown square), three SR crops, the kernel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    side = lr.shape[0]
    top = (side - show) // 2
    crops = [r[SCALE * top:SCALE * (top + show), SCALE * top:SCALE * (top + show)] for r in results]
    names = ["bicubic interpolation", "MZSR, no --kernel\n(default: bicubic subsampling, pretrain_x2)",
             "MZSR, --kernel estimate\n(direct, mzsr_direct_x2)"]
    fig, axes = plt.subplots(1, 5, figsize=(17, 4.3), gridspec_kw={"width_ratios": [1, 1.4, 1.4, 1.4, 1]})
    axes[0].imshow(lr, interpolation="nearest")
    axes[0].add_patch(plt.Rectangle((top - 0.5, top - 0.5), show, show, fill=False, color="yellow", lw=1.5))
    axes[0].set_title(f"input region ({side}×{side}, as it is)", fontsize=10)
    for ax, crop, name in zip(axes[1:4], crops, names):
        ax.imshow(crop, interpolation="nearest")
        ax.set_title(f"{name}\n×{SCALE}, yellow square", fontsize=10)
    axes[4].imshow(kernel, cmap="magma", interpolation="nearest")
    axes[4].set_title(f"estimated kernel (15×15)\nvariances {lambdas[0]:.2f}, {lambdas[1]:.2f}", fontsize=10)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))  # room for the title above the panel titles
    fig.savefig(out, dpi=80)
    plt.close(fig)


@guarded
def main(argv=None):
    ap = argparse.ArgumentParser(prog="python docs/real_photo.py", description=__doc__.split("\n")[0])
    ap.add_argument("--photo", default="rocket", help="a scikit-image RGB photo (default rocket)")
    ap.add_argument("--box", type=parse_box, default=(242, 95, 160), metavar="X,Y,SIDE",
                    help="the region upscaled, in photo pixels (default 242,95,160)")
    ap.add_argument("--show", type=int, default=80, metavar="N", help="LR pixels a side drawn from each result (default 80)")
    ap.add_argument("--steps", type=int, default=10, help="adaptation steps (default 10, the commands' default)")
    ap.add_argument("--out", default="docs/real_photo.png", help="the figure (default docs/real_photo.png)")
    ap.add_argument("--save-input", metavar="PNG", help="also write the region as a PNG (the commands' input)")
    args = ap.parse_args(argv)
    if not 8 <= args.show <= args.box[2]:
        raise InputError(f"--show must be between 8 and the box side {args.box[2]}, got {args.show}")
    lr = load_region(args.photo, args.box)
    if args.save_input:
        from PIL import Image

        Image.fromarray(lr).save(args.save_input)
        print(f"wrote {args.save_input}")
    results, kernel, lambdas = upscale_three(lr, args.steps)
    x, y, side = args.box
    draw(lr, results, kernel, lambdas, args.show, args.out,
         f"scikit-image '{args.photo}' (public domain), region {side}×{side} at ({x}, {y}), upscaled ×{SCALE} as it is")
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1024:.0f} kB); estimated variances "
          f"{lambdas[0]:.2f}, {lambdas[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
