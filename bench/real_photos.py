"""The real-photo floor: photos shrunk ×2 (or ×4) by common resizers and saved as JPEG, upscaled back.

    python bench/real_photos.py [--hr-dir path/to/Set14] [--photos astronaut coffee ...]
        [--crop 192] [--scale 2] [--resizers pillow opencv_area matlab] [--qualities 75 95]
        [--candidates default bicubic_pre_0 ...] [--out docs/results/real_photos]

What a new user does: take a photo, shrink it ×2 with Pillow's ``Image.resize`` (its
default filter), OpenCV's ``INTER_AREA`` or MATLAB-style bicubic (``mzsr_tf.resize``),
save it as JPEG (quality 75 and 95), and upscale it without knowing anything about
kernels. Each HR image (scikit-image's bundled public-domain photos, none of them in our
training data, plus every image of ``--hr-dir``) is centre-cropped to ``--crop`` pixels a
side (0 = whole image), degraded that way (the JPEG read back), and upscaled by bicubic
interpolation and by each candidate for the no-``--kernel`` default, all through the
Python API ``mzsr_tf.upscale``. PSNR is the evaluation protocol's (Y, s pixels shaved,
grayscale files on their gray level: ``mzsr_tf.evaluate.protocol.measure``).

Prints one table per resizer × quality (mean PSNR, mean and worst per-image difference to
bicubic) and writes ``OUT.md`` (the tables) and ``OUT.json`` (every per-image number).
Needs scikit-image for ``--photos`` and opencv-python-headless for ``opencv_area``
(``pip install -e ".[photos]"``).
"""
import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mzsr_tf.cli import guarded  # noqa: E402
from mzsr_tf.data import photo  # noqa: E402
from mzsr_tf.errors import InputError  # noqa: E402

# scikit-image's colour photographs that ship inside the package (no download) and carry no
# copyright restrictions (public domain or CC0, per skimage.data's docstrings).
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field")
RESIZERS = ("pillow", "opencv_area", "matlab")
QUALITIES = (75, 95)

# The candidates for "no --kernel": keyword arguments of mzsr_tf.upscale besides scale.
# "default" is whatever the API does when given nothing: it measures the rule as shipped.
CANDIDATES = {
    "default": ("mzsr_tf.upscale(lr, scale=s), no options: bicubic subsampling, 10 steps, pretrain_photo_x{s} when "
                "the image shows JPEG compression, else pretrain_x{s}", {}),
    "direct_10": ("direct subsampling, no blur, mzsr_direct_x{s}, 10 steps (the default before #13)",
                  dict(subsampling="direct", steps=10, weights="mzsr_direct_x{s}")),
    "direct_0": ("direct subsampling, no blur, mzsr_direct_x{s}, 0 steps",
                 dict(subsampling="direct", steps=0, weights="mzsr_direct_x{s}")),
    "direct_all_10": ("direct subsampling, no blur, pretrain_all_x2 (x2 only), 10 steps",
                      dict(subsampling="direct", steps=10, weights="pretrain_all_x2")),
    "estimate_10": ("--kernel estimate (x2 direct only), mzsr_direct_x2, 10 steps",
                    dict(subsampling="direct", kernel="estimate", steps=10, weights="mzsr_direct_x2")),
    "aware_estimate_10": ("--kernel estimate (x2 direct only), kernel_aware_direct_x2 told the estimate, 10 steps",
                          dict(subsampling="direct", kernel="estimate", steps=10, weights="kernel_aware_direct_x2")),
    "aware_direct_10": ("direct subsampling, kernel_aware_direct_x2 told no blur, 10 steps",
                        dict(subsampling="direct", steps=10, weights="kernel_aware_direct_x2")),
    "aware_bicubic_0": ("bicubic subsampling, kernel_aware_bicubic_x{s} told no blur, 0 steps",
                        dict(subsampling="bicubic", steps=0, weights="kernel_aware_bicubic_x{s}")),
    "aware_bicubic_10": ("bicubic subsampling, kernel_aware_bicubic_x{s} told no blur, 10 steps",
                         dict(subsampling="bicubic", steps=10, weights="kernel_aware_bicubic_x{s}")),
    "bicubic_pre_10": ("bicubic subsampling, no blur, pretrain_x{s}, 10 steps",
                       dict(subsampling="bicubic", steps=10, weights="pretrain_x{s}")),
    "bicubic_pre_0": ("bicubic subsampling, no blur, pretrain_x{s}, 0 steps",
                      dict(subsampling="bicubic", steps=0, weights="pretrain_x{s}")),
    "photo_10": ("bicubic subsampling, no blur, pretrain_photo_x{s} (resizers + JPEG), 10 steps",
                 dict(subsampling="bicubic", steps=10, weights="pretrain_photo_x{s}")),
    "photo_0": ("bicubic subsampling, no blur, pretrain_photo_x{s} (resizers + JPEG), 0 steps",
                dict(subsampling="bicubic", steps=0, weights="pretrain_photo_x{s}")),
    "bicubic_pre_0_ens": ("bicubic subsampling, no blur, pretrain_x{s}, 0 steps, 8-way self-ensemble",
                          dict(subsampling="bicubic", steps=0, ensemble=True, weights="pretrain_x{s}")),
}
DEFAULT_CANDIDATES = ("default", "bicubic_pre_10", "photo_10", "direct_10", "estimate_10")


# ------------------------------------------------------------------ the test set


def skimage_photo(name, hint=""):
    """scikit-image's bundled photo ``name`` as uint8 H×W×3; InputError when it is missing or not RGB.

    Args:
      name: a function name in ``skimage.data`` (e.g. 'rocket').
      hint: added to the message when scikit-image is not installed.
    """
    try:
        from skimage import data
    except ImportError:
        raise InputError("scikit-image's photos need scikit-image (pip install -e \".[photos]\")" + hint) from None
    fn = getattr(data, name, None)
    if fn is None:
        raise InputError(f"scikit-image has no photo {name!r}")
    a = np.asarray(fn())
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise InputError(f"scikit-image's {name!r} is not an RGB photo ({a.shape} {a.dtype})")
    return a


def load_photos(names):
    """[(name, uint8 H×W×3, gray=False)] for scikit-image's bundled photos."""
    hint = "; pass --photos with no names to use --hr-dir alone"
    return [(name, skimage_photo(name, hint), False) for name in names]


def centre_crop(hr, side, scale):
    """The centre side×side crop (each axis only if larger), then a multiple of the scale."""
    h, w = hr.shape[:2]
    if side:
        top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
        hr = hr[top:top + side, left:left + side]
    return hr[: hr.shape[0] - hr.shape[0] % scale, : hr.shape[1] - hr.shape[1] % scale]


def downscale(hr, resizer, scale):
    """HR uint8 H×W×3 → uint8 (H/s)×(W/s)×3 as the named resizer does it."""
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    if resizer == "pillow":
        return photo.shrink(hr, scale, "bicubic")  # Image.resize's default filter, as a new user calls it
    if resizer == "opencv_area":
        try:
            import cv2
        except ImportError:
            raise InputError("the opencv_area resizer needs opencv-python-headless (pip install -e \".[photos]\")") from None
        return cv2.resize(hr, (w, h), interpolation=cv2.INTER_AREA)
    if resizer == "matlab":
        from keras import ops

        from mzsr_tf.resize import imresize
        from mzsr_tf.scenarios import to_uint8

        return to_uint8(ops.convert_to_numpy(imresize(hr[None].astype(np.float32) / 255.0, 1.0 / scale))[0])
    raise InputError(f"unknown resizer {resizer!r}; one of {', '.join(RESIZERS)}")


# ------------------------------------------------------------------ measuring


def upscale_with(lr, candidate, scale):
    """The candidate's SR image (uint8) through the Python API; bicubic for the baseline."""
    import mzsr_tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # weights-mismatch warnings are the point of some candidates
        if candidate == "bicubic":
            return mzsr_tf.upscale(lr, scale=scale, method="bicubic")
        kwargs = dict(CANDIDATES[candidate][1])
        if "weights" in kwargs:
            kwargs["weights"] = kwargs["weights"].format(s=scale)
        return mzsr_tf.upscale(lr, scale=scale, **kwargs)


def run(images, resizers, qualities, candidates, scale, log=print):
    """PSNR of every (resizer, quality, image, method); returns {condition: {method: {image: psnr}}} and seconds."""
    from mzsr_tf.evaluate.protocol import measure

    results, seconds = {}, {m: 0.0 for m in ("bicubic", *candidates)}
    for resizer in resizers:
        for q in qualities:
            cond = f"{resizer}/q{q}"
            table = results.setdefault(cond, {m: {} for m in ("bicubic", *candidates)})
            for name, hr, gray in images:
                lr = photo.jpeg_roundtrip(downscale(hr, resizer, scale), q)
                for m in table:
                    t0 = time.perf_counter()
                    sr = upscale_with(lr, m, scale)
                    seconds[m] += time.perf_counter() - t0
                    table[m][name] = float(measure(sr, hr, scale, gray)[0])
                line = "  ".join(f"{m} {table[m][name]:.2f}" for m in table)
                log(f"{cond} {name}: {line}", flush=True)
    return results, seconds


def summarise(results):
    """Per condition and method: mean PSNR, mean difference to bicubic, worst per-image difference (and image)."""
    out = {}
    for cond, table in results.items():
        base = table["bicubic"]
        row = {}
        for m, per in table.items():
            diffs = {n: per[n] - base[n] for n in per}
            worst = min(diffs, key=diffs.get)
            row[m] = {"mean": float(np.mean(list(per.values()))), "gain": float(np.mean(list(diffs.values()))),
                      "worst_gain": diffs[worst], "worst_image": worst}
        out[cond] = row
    return out


def floor_check(summary, method, floor=0.5):
    """Whether ``method`` is >= floor dB above bicubic on every condition's mean, and never below it per image."""
    means = min(r[method]["gain"] for r in summary.values())
    worst = min(r[method]["worst_gain"] for r in summary.values())
    return {"min_mean_gain": means, "min_image_gain": worst, "mean_floor_met": means >= floor,
            "never_below_bicubic": worst >= 0.0}


def markdown(summary, candidates, meta):
    """The tables as markdown: one row per condition, bicubic's mean PSNR, each candidate's gain."""
    head = "| resizer / JPEG quality | bicubic (dB) | " + " | ".join(f"`{m}` mean Δ / worst Δ" for m in candidates) + " |"
    lines = [f"Real-photo floor (`python bench/real_photos.py {meta['argv']}`): {meta['images']} "
             f"({meta['crop']}), ×{meta['scale']}; PSNR on Y ({meta['scale']} px shaved). Δ = candidate − bicubic "
             "interpolation in dB: mean over images, and the worst single image.", "",
             head, "|" + "---|" * (2 + len(candidates))]
    for cond, row in summary.items():
        cells = [f"{row[m]['gain']:+.2f} / {row[m]['worst_gain']:+.2f} ({row[m]['worst_image']})" for m in candidates]
        lines.append(f"| {cond} | {row['bicubic']['mean']:.2f} | " + " | ".join(cells) + " |")
    lines += ["", "| candidate | what it runs | min mean Δ | min image Δ | ≥ +0.5 dB on every mean | never below bicubic | s / image |",
              "|---|---|---|---|---|---|---|"]
    for m in candidates:
        f = meta["floor"][m]
        lines.append(f"| `{m}` | {CANDIDATES[m][0].format(s=meta['scale'])} | {f['min_mean_gain']:+.2f} | {f['min_image_gain']:+.2f} | "
                     f"{'yes' if f['mean_floor_met'] else 'no'} | {'yes' if f['never_below_bicubic'] else 'no'} | "
                     f"{meta['seconds_per_image'][m]:.2f} |")
    return "\n".join(lines) + "\n"


def print_tables(summary, candidates):
    for cond, row in summary.items():
        print(f"\n{cond}: bicubic {row['bicubic']['mean']:.2f} dB")
        for m in candidates:
            r = row[m]
            print(f"  {m:<18} {r['mean']:6.2f} dB  mean Δ {r['gain']:+.2f}  worst Δ {r['worst_gain']:+.2f} ({r['worst_image']})")


# ------------------------------------------------------------------ command line


def build_parser():
    p = argparse.ArgumentParser(
        prog="python bench/real_photos.py",
        description="Photos downscaled x2 by Pillow / OpenCV INTER_AREA / MATLAB-style bicubic and saved as "
        "JPEG, upscaled by bicubic interpolation and by candidates for the no---kernel default; PSNR (Y) per "
        "resizer x quality, mean and worst image against bicubic.",
        epilog="candidates: " + "; ".join(f"{k}: {v[0]}" for k, v in CANDIDATES.items()))
    p.add_argument("--hr-dir", action="append", default=[], metavar="DIR",
                   help="a folder of HR images to add (e.g. Set14); may be repeated")
    p.add_argument("--photos", nargs="*", default=list(PHOTOS), metavar="NAME",
                   help=f"scikit-image photos (default: {' '.join(PHOTOS)}); none: --hr-dir alone")
    p.add_argument("--crop", type=int, default=192, metavar="SIDE",
                   help="centre crop of each HR image, pixels a side (default 192; 0 = whole image)")
    p.add_argument("--scale", type=int, choices=(2, 4), default=2, help="shrink and upscale factor (default 2)")
    p.add_argument("--resizers", nargs="+", choices=RESIZERS, default=list(RESIZERS))
    p.add_argument("--qualities", nargs="+", type=int, default=list(QUALITIES), metavar="Q",
                   help="JPEG qualities 1..100 (default 75 95)")
    p.add_argument("--candidates", nargs="+", choices=list(CANDIDATES), default=list(DEFAULT_CANDIDATES),
                   metavar="NAME", help=f"what to measure besides bicubic (default: {' '.join(DEFAULT_CANDIDATES)})")
    p.add_argument("--out", default="docs/results/real_photos", metavar="PREFIX",
                   help="writes PREFIX.md and PREFIX.json (default docs/results/real_photos)")
    p.add_argument("--render", metavar="JSON", help="measure nothing: rewrite the .md beside this earlier .json")
    return p


def render(path):
    """Rewrites PREFIX.md from PREFIX.json (the tables again, with this script's candidate texts)."""
    try:
        with open(path) as f:
            saved = json.load(f)
        meta, summary, names = saved["meta"], saved["summary"], list(saved["candidates"])
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"{path}: not a bench/real_photos.py result ({e})") from None
    out = os.path.splitext(path)[0] + ".md"
    with open(out, "w") as f:
        f.write(markdown(summary, names, meta))
    print(f"wrote {out}")
    return 0


@guarded
def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.render:
        return render(args.render)
    if any(not 1 <= q <= 100 for q in args.qualities):
        raise InputError(f"JPEG qualities must be 1..100, got {args.qualities}")
    if args.crop < 0 or 0 < args.crop < 16 * args.scale:
        raise InputError(f"--crop must be 0 or at least {16 * args.scale}, got {args.crop}")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise InputError(f"{out_dir}: no such folder for --out")
    images = load_photos(args.photos)
    from mzsr_tf.evaluate.protocol import list_images

    for d in args.hr_dir:
        images += list_images(d, warn=lambda m: print(f"warning: {m}", file=sys.stderr))[0]
    if not images:
        raise InputError("no images: give --photos names or --hr-dir")
    images = [(n, centre_crop(hr, args.crop, args.scale), g) for n, hr, g in images]
    results, seconds = run(images, args.resizers, args.qualities, args.candidates, args.scale)
    summary = summarise(results)
    print_tables(summary, args.candidates)
    n = len(images) * len(results)
    sets = [f"scikit-image ({', '.join(args.photos)})"] if args.photos else []
    sets += [os.path.basename(os.path.normpath(d)) for d in args.hr_dir]  # the set's name, never its path
    # folders are recorded by their name (the set's name), never their path
    argv = " ".join(os.path.basename(os.path.normpath(a)) if os.path.isdir(a) else a
                    for a in (sys.argv[1:] if argv is None else argv))
    meta = {"argv": argv, "scale": args.scale, "images": f"{len(images)} images, " + " + ".join(sets),
            "crop": f"centre {args.crop}×{args.crop} crops" if args.crop else "whole images",
            "floor": {m: floor_check(summary, m) for m in args.candidates},
            "seconds_per_image": {m: seconds[m] / n for m in seconds}}
    text = markdown(summary, args.candidates, meta)
    with open(args.out + ".md", "w") as f:
        f.write(text)
    with open(args.out + ".json", "w") as f:
        json.dump({"meta": meta, "candidates": {m: CANDIDATES[m][0].format(s=args.scale) for m in args.candidates},
                   "summary": summary, "psnr": results}, f, indent=1)
    print(f"\nwrote {args.out}.md and {args.out}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
