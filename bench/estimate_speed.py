"""Kernel estimation time against MZSR(10) on the same 256×256 LR image, side by side in one run.

    python bench/estimate_speed.py [--hr IMAGE] [--repeats 5]

The LR image is a 512×512 HR crop (a synthetic texture unless --hr is given) blurred with
g^d_2.0 and subsampled directly, rounded to uint8. Runs are interleaved (estimate, MZSR(10),
estimate, ...) after one warm-up of each, so load on the machine hits both alike; prints
the median seconds of each and their ratio.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hr", help="HR image (at least 512×512 is cropped; default: synthetic texture)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from keras import ops

    from mzsr_tf.adapt import step_size_schedule, zero_shot_sr
    from mzsr_tf.degrade import degrade
    from mzsr_tf.estimate import estimate_kernel
    from mzsr_tf.kernels import named_kernel
    from mzsr_tf.model import get_params
    from mzsr_tf.weights import load_model

    if args.hr:
        from PIL import Image

        hr = np.asarray(Image.open(args.hr).convert("RGB"), np.float32)[:512, :512] / 255.0
    else:
        from scipy import ndimage

        rng = np.random.default_rng(0)
        hr = sum(ndimage.gaussian_filter(rng.random((512, 512, 3)), (s, s, 0)) * s for s in (0.7, 2.0, 6.0))
        hr = ((hr - hr.min()) / (hr.max() - hr.min())).astype(np.float32)
    lr = ops.convert_to_numpy(degrade(hr[None], 2, named_kernel("g2.0"), round_uint8=True))
    params = get_params(load_model("mzsr_direct_x2", 2, "direct"))
    sizes = tuple(step_size_schedule(10, "direct", 2))

    def est():
        return estimate_kernel(lr[0], 2, "direct")

    def mzsr(k):
        return ops.convert_to_numpy(zero_shot_sr(params, lr, 2, kernel=k, subsampling="direct", step_sizes=sizes))

    k = est()
    mzsr(k)  # warm-up: compiles the adaptation graph
    te, tm = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        k = est()
        te.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        mzsr(k)
        tm.append(time.perf_counter() - t0)
    e, m = statistics.median(te), statistics.median(tm)
    print(f"LR {lr.shape[1]}×{lr.shape[2]}, {os.cpu_count()} CPU cores, median of {args.repeats} interleaved runs")
    print(f"estimate_kernel: {e:.3f} s   MZSR(10): {m:.3f} s   estimate / MZSR(10) = {e / m:.4f}")
    print(f"estimate + MZSR(10) with the estimate: {e + m:.3f} s ({(e + m) / m:.3f}× MZSR(10) alone)")


if __name__ == "__main__":
    main()
