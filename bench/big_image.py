"""Time and peak memory of ``mzsr_tf.upscale`` on large images (×2, 10 steps, tiles and crops as planned).

    python bench/big_image.py [--sizes 0.5 2 12] [--max-memory 1G]

Each size runs in its own subprocess so that its peak resident memory (the
child's ``ru_maxrss``) is its own. The LR image is a synthetic RGB texture of
4:3 aspect (12 MP = 4000×3000). Prints one line per size: seconds, seconds per
megapixel, peak RSS, tiles and crops used.
"""
import argparse
import json
import math
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import numpy as np
from mzsr_tf import methods, tiling
mp, budget = float(sys.argv[1]), tiling.parse_memory(sys.argv[2])
w = int(round(math.sqrt(mp * 1e6 * 4 / 3))); h = int(round(w * 3 / 4))
rng = np.random.default_rng(0)
coarse = rng.random((h // 8 + 1, w // 8 + 1, 3), dtype=np.float32)
lr = np.kron(coarse, np.ones((8, 8, 1), np.float32))[:h, :w]
lr = np.clip(lr + 0.1 * rng.standard_normal((h, w, 3), dtype=np.float32), 0, 1)
img = np.round(lr * 255).astype(np.uint8); del lr, coarse
import mzsr_tf
t0 = time.perf_counter()
sr = mzsr_tf.upscale(img, scale=2, steps=10, max_memory=budget)
dt = time.perf_counter() - t0
p = tiling.plan(h, w, 2, budget)
print(json.dumps({"mp": h * w / 1e6, "h": h, "w": w, "seconds": dt, "sr": list(sr.shape),
                  "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "tiles": None if p.tile is None else len(tiling.tiles(h, w, p.tile, p.margin)),
                  "tile": p.tile, "crops": p.crops}))
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.5, 2.0, 12.0], help="LR megapixels")
    ap.add_argument("--max-memory", default="1G", help="the upscale budget (default 1G, the package default)")
    args = ap.parse_args(argv)
    print(f"{'LR MP':>6} {'LR size':>11} {'seconds':>8} {'s/MP':>6} {'peak RSS':>9}  plan", flush=True)
    for mp in args.sizes:
        r = subprocess.run([sys.executable, "-c", "import math\n" + CHILD, str(mp), args.max_memory],
                           capture_output=True, text=True)
        if r.returncode:
            print(f"{mp:>6}: failed (exit {r.returncode})\n{r.stderr[-2000:]}", flush=True)
            continue
        d = json.loads(r.stdout.strip().splitlines()[-1])
        plan = f"tiles {d['tiles']} of {d['tile']} px" if d["tiles"] else "one pass"
        plan += f", adapted on {d['crops'][1]} crops of {d['crops'][0]} px" if d["crops"] else ", adapted on the whole image"
        print(f"{d['mp']:>6.2f} {d['w']:>5}×{d['h']:<5} {d['seconds']:>8.1f} {d['seconds'] / d['mp']:>6.1f} "
              f"{d['peak_rss_gib']:>7.2f} GiB  {plan}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
