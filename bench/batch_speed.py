"""Images/s of ``python -m mzsr_tf.batch`` (DirectRunner, in-process and multi-processing)
against ``python -m mzsr_tf.upscale`` on the same folder, side by side in one run.

Usage::

    python bench/batch_speed.py [--images DIR | --count 16 --size 64] [--steps 10] [--kernel g2.0]

Each command runs as its own process, as a user would run it, once on the whole
folder and once on its first image. Two figures per command:

- end to end: images / wall seconds of the whole folder (start-up included:
  imports, weights, the SavedModel export and Beam's set-up for batch);
- per image: (wall(all) - wall(first image)) / (N - 1), the marginal cost of one
  more image, start-up cancelled out. Beam's overhead per image is that of batch
  over upscale (the issue's target: at most 15 %).

The runs alternate between the commands so that a change of machine load
affects all of them alike. A script that prints figures, not a test.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

MODES = {
    "upscale": lambda src, out, a: [sys.executable, "-m", "mzsr_tf.upscale", src, out, *a],
    "batch in-process": lambda src, out, a: [sys.executable, "-m", "mzsr_tf.batch", "--input", src,
                                             "--output", out, *a, "--direct_running_mode=in_memory"],
    "batch multi-processing x2": lambda src, out, a: [
        sys.executable, "-m", "mzsr_tf.batch", "--input", src, "--output", out, *a,
        "--direct_running_mode=multi_processing", "--direct_num_workers=2"],
}


def make_images(folder, count, size, seed=0):
    """``count`` smooth-plus-noise RGB PNGs of ``size``×``size`` pixels in ``folder``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    for i in range(count):
        base = np.stack([x * (i + 2), y * 3, (x + y) * 2], -1) % 256
        img = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(os.path.join(folder, f"img{i:04d}.png"))


def timed(cmd):
    """(wall seconds, stdout) of one command; exits on failure."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return wall, done.stdout


def main(argv=None):
    """Runs the comparison and prints one table.

    Args:
      argv: command-line arguments (see the module docstring).
    """
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", metavar="DIR", help="a folder of images (default: generated ones)")
    p.add_argument("--count", type=int, default=16, help="images to generate (default 16)")
    p.add_argument("--size", type=int, default=64, help="side of the generated images (default 64)")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--kernel", default="g2.0", help="one kernel for all (default g2.0; 'none' for no blur)")
    p.add_argument("--repeats", type=int, default=1, help="rounds of all runs; the fastest is kept")
    args = p.parse_args(argv)

    work = tempfile.mkdtemp(prefix="batch_speed_")
    try:
        src = args.images or os.path.join(work, "in")
        if not args.images:
            os.makedirs(src)
            make_images(src, args.count, args.size)
        names = sorted(n for n in os.listdir(src) if n.lower().endswith((".png", ".jpg", ".jpeg", ".bmp")))
        if len(names) < 2:
            sys.exit(f"{src}: need at least 2 images")
        one = os.path.join(work, "one")
        os.makedirs(one)
        shutil.copy(os.path.join(src, names[0]), one)
        common = ["--scale", str(args.scale), "--steps", str(args.steps)]
        if args.kernel != "none":
            common += ["--kernel", args.kernel]

        best = {}
        for r in range(args.repeats):
            for folder, n in ((src, len(names)), (one, 1)):
                for mode, cmd in MODES.items():
                    out = os.path.join(work, f"out_{r}_{n}_{len(best)}")
                    wall, stdout = timed(cmd(folder, out, common))
                    shutil.rmtree(out, ignore_errors=True)
                    m = re.search(r"seconds ([0-9.]+) \(in the model\)", stdout)
                    key = (mode, n)
                    if key not in best or wall < best[key][0]:
                        best[key] = (wall, float(m.group(1)) if m else None)
                    print(f"  {mode:<26} {n:>4} image(s): {wall:7.1f} s", flush=True)

        n = len(names)
        print(f"\n{n} images ({args.size}x{args.size} generated)" if not args.images else f"\n{n} images in {src}",
              f"x{args.scale}, {args.steps} steps, kernel {args.kernel}; {os.cpu_count()} CPUs")
        print(f"{'command':<26} {'wall s':>7} {'images/s':>9} {'s/image (marginal)':>19} {'vs upscale':>11}")
        base = None
        for mode in MODES:
            wall_n, model_s = best[(mode, n)]
            marginal = (wall_n - best[(mode, 1)][0]) / (n - 1)
            base = marginal if base is None else base
            rel = "" if mode == "upscale" else f"{100 * (marginal / base - 1):+.0f} %"
            print(f"{mode:<26} {wall_n:7.1f} {n / wall_n:9.2f} {marginal:19.3f} {rel:>11}"
                  + (f"   (model {model_s:.1f} s)" if model_s is not None else ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
