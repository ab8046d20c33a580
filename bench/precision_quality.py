"""Which parts of zero-shot SR can run in bfloat16 at no cost in PSNR: measured on held-out photos.

    pip install -e ".[photos]"    # scikit-image, whose photos these are
    python bench/precision_quality.py [--photos astronaut coffee chelsea rocket] [--hr-dir SET5_DIR]
        [--steps 0 1 10] [--json out.json]

Each HR photo (scikit-image's bundled photos, in no training set here, whole,
cut to a multiple of the scale; plus every image of ``--hr-dir``) is blurred by
g^d_2.0 and by a kernel drawn from p(k) (fixed seed), subsampled ×2 (direct),
rounded to uint8, and super-resolved with the shipped ``mzsr_direct_x2`` at
each step count in four precisions, all against the same float32 run:

- ``float32``: today's whole-image path (``adapt.zero_shot_sr``), the reference;
- ``upscale bf16``: adaptation in float32, the final upscale pass in bfloat16;
- ``adapt bf16``: adaptation's convolutions (forward and gradient) in bfloat16
  with float32 weights, updates and loss; the final pass in float32;
- ``all bf16``: both.

Prints PSNR (Y, ``scale`` pixels shaved, outputs rounded to uint8 as the API
returns them) of the reference and each variant's difference to it, per image
and as means per image set, kernel and step count, and which variants stay
within ``--tolerance`` dB (0.02) at every step count on the photos. On CPUs
without native bfloat16 (no ``avx512_bf16`` / ``amx_bf16``) it still runs, only
slowly: TensorFlow emulates bfloat16 there.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
SCALE = 2
WEIGHTS = "mzsr_direct_x2"
PK_SEED = 11  # the p(k) kernel docs/compare_weights.py draws first
# (adaptation dtype, final pass dtype) per variant; None is float32.
VARIANTS = {"upscale bf16": (None, "bfloat16"), "adapt bf16": ("bfloat16", None), "all bf16": ("bfloat16", "bfloat16")}


def kernels():
    """{name: [k, k] float32}: g^d_2.0 and one p(k) draw."""
    from mzsr_tf.kernels import named_kernel, random_kernel_np

    return {"g2.0": np.asarray(named_kernel("g2.0"), np.float32),
            f"p(k) #{PK_SEED}": np.asarray(random_kernel_np(SCALE, np.random.default_rng(PK_SEED)), np.float32)}


def images(photos, hr_dir):
    """[(set name, image name, HR uint8 H×W×3)], cut to multiples of SCALE."""
    out = []
    if photos:
        import skimage.data

        out += [("photos", n, getattr(skimage.data, n)()[..., :3]) for n in photos]
    if hr_dir:
        from mzsr_tf.io import read_image

        for name in sorted(os.listdir(hr_dir)):
            im = read_image(os.path.join(hr_dir, name))[0]
            out.append((os.path.basename(os.path.normpath(hr_dir)), os.path.splitext(name)[0],
                        np.round(np.asarray(im, np.float32)[..., :3] * 255).astype(np.uint8)))
    return [(s, n, im[: im.shape[0] // SCALE * SCALE, : im.shape[1] // SCALE * SCALE]) for s, n, im in out]


def low_res(hr, kernel):
    """HR uint8 → LR float32 [1, h, w, 3] on the uint8 grid (blur, direct ×SCALE, rounding)."""
    from keras import ops

    from mzsr_tf.degrade import degrade

    lr = degrade(hr[None].astype(np.float32) / 255.0, SCALE, kernel=kernel, subsampling="direct", round_uint8=True)
    return np.asarray(ops.convert_to_numpy(lr), np.float32)


def super_resolve(params, lr, kernel, sizes, adapt_dtype, final_dtype):
    """SR uint8 of one precision variant; (None, None) is the reference whole-image path."""
    from keras import ops

    from mzsr_tf import adapt

    if adapt_dtype is None and final_dtype is None:
        sr = adapt.zero_shot_sr(params, lr, SCALE, kernel, "direct", sizes)
    else:
        fast = adapt.adapted_params(params, lr, SCALE, kernel, "direct", sizes, adapt_dtype)
        sr = adapt.upscale_sr(fast, lr, SCALE, final_dtype)
    return np.round(np.asarray(ops.convert_to_numpy(sr))[0] * 255).astype(np.uint8)


def measure(items, ks, step_counts):
    """{set: {kernel: {steps: {variant: [PSNR per image]}}}} with the reference under 'float32'."""
    from mzsr_tf.methods import load_params
    from mzsr_tf.metrics import psnr
    from mzsr_tf.weights import step_sizes

    params, _ = load_params(WEIGHTS, SCALE, "direct")
    res = {}
    for set_name, name, hr in items:
        t0 = time.perf_counter()
        line = []
        for kname, k in ks.items():
            lr = low_res(hr, k)
            for n in step_counts:
                sizes = step_sizes(WEIGHTS, n, "direct", SCALE)
                row = res.setdefault(set_name, {}).setdefault(kname, {}).setdefault(n, {})
                for variant, dtypes in {"float32": (None, None), **VARIANTS}.items():
                    sr = super_resolve(params, lr, k, sizes, *dtypes)
                    row.setdefault(variant, []).append(psnr(sr, hr, crop_border=SCALE))
                ref = row["float32"][-1]
                line.append(f"{kname}/{n}: {ref:.2f} " + " ".join(f"{row[v][-1] - ref:+.3f}" for v in VARIANTS))
        print(f"{set_name}/{name} {hr.shape[1]}x{hr.shape[0]} ({time.perf_counter() - t0:.0f} s): "
              + "; ".join(line), flush=True)
    return res


def summarize(res, tolerance, step_counts):
    """Prints mean PSNR and mean / worst per-image difference per set, kernel and step count.

    Returns:
      {set: {variant: largest |mean difference| over kernels and step counts}}.
    """
    worst = {}
    print(f"\nmean PSNR (dB) of float32 and each variant's mean difference [worst image]; {WEIGHTS}, x{SCALE} direct")
    print(f"{'set':8s} {'kernel':10s} {'steps':>5s} {'float32':>8s} " + " ".join(f"{v:>22s}" for v in VARIANTS))
    for set_name, by_kernel in res.items():
        for kname, by_steps in by_kernel.items():
            for n in step_counts:
                row = by_steps[n]
                ref = np.asarray(row["float32"])
                cells = []
                for v in VARIANTS:
                    d = np.asarray(row[v]) - ref
                    worst.setdefault(set_name, {}).setdefault(v, 0.0)
                    worst[set_name][v] = max(worst[set_name][v], abs(float(d.mean())))
                    cells.append(f"{d.mean():+8.4f} [{d[np.argmax(np.abs(d))]:+.4f}]")
                print(f"{set_name:8s} {kname:10s} {n:5d} {ref.mean():8.2f} " + " ".join(f"{c:>22s}" for c in cells))
    print(f"\nwithin {tolerance} dB (|mean difference|) at every kernel and step count:")
    for set_name, by_variant in worst.items():
        for v, w in by_variant.items():
            print(f"  {set_name:8s} {v:14s} largest |mean difference| {w:.4f} dB: "
                  f"{'holds' if w < tolerance else 'DOES NOT hold'}")
    return worst


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", nargs="*", default=list(PHOTOS), help="scikit-image photo names (default: %(default)s)")
    ap.add_argument("--hr-dir", help="also every image of this folder (e.g. Set5's HR images)")
    ap.add_argument("--steps", type=int, nargs="+", default=[0, 1, 10], help="step counts (default 0 1 10)")
    ap.add_argument("--tolerance", type=float, default=0.02, help="dB a variant may move the mean PSNR (default 0.02)")
    ap.add_argument("--json", help="also write every per-image PSNR to this JSON file")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from mzsr_tf.speed.cpu import cpu_summary

    print(cpu_summary(), flush=True)
    items = images(args.photos, args.hr_dir)
    res = measure(items, kernels(), args.steps)
    worst = summarize(res, args.tolerance, args.steps)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"psnr": res, "largest_mean_difference": worst, "weights": WEIGHTS, "scale": SCALE}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
