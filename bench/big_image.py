"""Time, peak memory and arithmetic rate of ``mzsr_tf.upscale`` on large images (×2, 10 steps, tiles and crops as planned).

    python bench/big_image.py [--sizes 0.5 2 12] [--max-memory 1G] [--matmul 2048]

Each size runs in its own subprocess so that its peak resident memory (the
child's ``ru_maxrss``) is its own. The LR image is a synthetic RGB texture of
4:3 aspect (12 MP = 4000×3000). Prints the CPU model and flags, then one line
per size: seconds, seconds per megapixel, peak RSS, tiles and crops used, and
the tiled upscaling pass's own seconds and GFLOP/s (the network's
multiply-adds over every padded tile, resizes not counted) against the same
process's float32 (and, where native, bfloat16) matrix-product GFLOP/s,
measured just before the image on ``--matmul``-sided square matrices.
"""
import argparse
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

CHILD = r"""
import json, math, resource, statistics, sys, time
import numpy as np
from mzsr_tf import methods, tiling
from mzsr_tf.model import DEPTH, WIDTH, CHANNELS
from mzsr_tf.speed.cpu import native_bf16
mp, budget, side = float(sys.argv[1]), tiling.parse_memory(sys.argv[2]), int(sys.argv[3])
w = int(round(math.sqrt(mp * 1e6 * 4 / 3))); h = int(round(w * 3 / 4))
rng = np.random.default_rng(0)
coarse = rng.random((h // 8 + 1, w // 8 + 1, 3), dtype=np.float32)
lr = np.kron(coarse, np.ones((8, 8, 1), np.float32))[:h, :w]
lr = np.clip(lr + 0.1 * rng.standard_normal((h, w, 3), dtype=np.float32), 0, 1)
img = np.round(lr * 255).astype(np.uint8); del lr, coarse

import tensorflow as tf
def matmul_gflops(dtype, n=side, repeats=5):
    a = tf.random.uniform((n, n), dtype=tf.float32); b = tf.random.uniform((n, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    f = tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32)))
    f().numpy(); ts = []
    for _ in range(repeats):
        t0 = time.perf_counter(); f().numpy(); ts.append(time.perf_counter() - t0)
    return 2 * n ** 3 / min(ts) / 1e9
rates = {"float32": matmul_gflops(tf.float32)}
if native_bf16():
    rates["bfloat16"] = matmul_gflops(tf.bfloat16)

# The network's FLOPs per output pixel: 2 per multiply-add, 3x3 taps, every layer's in x out channels.
chans = [CHANNELS] + [WIDTH] * (DEPTH - 1) + [CHANNELS]
flop_per_px = 2 * 9 * sum(a * b for a, b in zip(chans[:-1], chans[1:]))
tile_s, tile_flop = [], [0.0]
run_tiled = tiling.run_tiled
def timed_run_tiled(fn, lr, scale, tile, pad, progress=None):
    # Wraps each tile's call (the package's own function runs unchanged) to time the pass alone.
    def timed(x):
        t0 = time.perf_counter(); out = np.asarray(fn(x)); tile_s.append(time.perf_counter() - t0)
        tile_flop[0] += flop_per_px * scale * scale * x.shape[1] * x.shape[2]
        return out
    return run_tiled(timed, lr, scale, tile, pad, progress)
tiling.run_tiled = timed_run_tiled

import mzsr_tf
t0 = time.perf_counter()
sr = mzsr_tf.upscale(img, scale=2, steps=10, max_memory=budget)
dt = time.perf_counter() - t0
p = tiling.plan(h, w, 2, budget)
pass_s = sum(tile_s)
print(json.dumps({"mp": h * w / 1e6, "h": h, "w": w, "seconds": dt, "sr": list(sr.shape),
                  "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "tiles": None if p.tile is None else len(tiling.tiles(h, w, p.tile, p.margin)),
                  "tile": p.tile, "crops": p.crops, "pass_s": pass_s,
                  "pass_first_tile_s": tile_s[0] if tile_s else None,
                  "pass_gflops": tile_flop[0] / pass_s / 1e9 if pass_s else None,
                  "pass_tflop": tile_flop[0] / 1e12, "matmul_gflops": rates}))
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.5, 2.0, 12.0], help="LR megapixels")
    ap.add_argument("--max-memory", default="1G", help="the upscale budget (default 1G, the package default)")
    ap.add_argument("--matmul", type=int, default=2048, help="side of the matrices of the GFLOP/s yardstick")
    ap.add_argument("--json", help="also write every figure to this JSON file")
    args = ap.parse_args(argv)
    from mzsr_tf.speed.cpu import cpu_summary

    print(cpu_summary())
    print(f"load average at start {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    print(f"{'LR MP':>6} {'LR size':>11} {'seconds':>8} {'s/MP':>6} {'peak RSS':>9} {'pass s':>7} "
          f"{'pass GFLOP/s':>12} {'matmul f32':>10} {'bf16':>6} {'pass/f32':>8}  plan", flush=True)
    rows = []
    for mp in args.sizes:
        r = subprocess.run([sys.executable, "-c", CHILD, str(mp), args.max_memory, str(args.matmul)],
                           capture_output=True, text=True)
        if r.returncode:
            print(f"{mp:>6}: failed (exit {r.returncode})\n{r.stderr[-2000:]}", flush=True)
            continue
        d = json.loads(r.stdout.strip().splitlines()[-1])
        rows.append(d)
        plan = f"tiles {d['tiles']} of {d['tile']} px" if d["tiles"] else "one pass"
        plan += f", adapted on {d['crops'][1]} crops of {d['crops'][0]} px" if d["crops"] else ", adapted on the whole image"
        m = d["matmul_gflops"]
        rate = d["pass_gflops"]
        print(f"{d['mp']:>6.2f} {d['w']:>5}×{d['h']:<5} {d['seconds']:>8.1f} {d['seconds'] / d['mp']:>6.1f} "
              f"{d['peak_rss_gib']:>7.2f} GiB {d['pass_s']:>7.1f} {rate or math.nan:>12.1f} {m['float32']:>10.1f} "
              f"{m.get('bfloat16', math.nan):>6.1f} {(rate or math.nan) / m['float32']:>8.2f}  {plan}", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.2f} (other jobs on the machine slow every figure alike)")
    print("pass GFLOP/s counts the network's multiply-adds over every padded tile (0.45 TFLOP per output MP); "
          "a size without tiles has no tiled pass to time")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
