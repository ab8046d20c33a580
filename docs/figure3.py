"""The paper's Figure 3: mean PSNR on a benchmark vs. number of adaptation steps.

Each --weights entry is a shipped weights name, optionally with ``:adam`` or
``:adam:RATE``: plain names adapt by gradient descent with the weights' own step
sizes (their card's, else the reference table: Algorithm 2 as ``upscale`` runs
it); ``:adam`` ones with Adam at RATE (default --adam-rate), as the paper adapts
its Pre-train baselines. Pick each rate on held-out images, not on the benchmark
the figure shows.

Usage: python docs/figure3.py --hr-dir PATH/TO/Set5 --scenario g2.0 \
          --weights mzsr_direct_x2 pretrain_all_x2 pretrain_all_x2:adam:1e-4 pretrain_x2:adam:3e-4 --out docs/figure3.png
"""
import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hr-dir", required=True)
    p.add_argument("--scenario", default="g2.0")
    p.add_argument("--weights", nargs="+", default=["mzsr_direct_x2", "pretrain_x2"])
    p.add_argument("--max-steps", type=int, default=20)
    p.add_argument("--adam-rate", type=float, default=1e-4, help="Adam's learning rate for :adam entries")
    p.add_argument("--compute-dtype", choices=("float32", "bfloat16"), default=None,
                   help="precision of the adaptation steps and the upscale (default: as upscale and evaluate, "
                        "bfloat16 where the CPU has it natively, else float32)")
    p.add_argument("--out", default="docs/figure3.png")
    args = p.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    from mzsr_tf.evaluate.figure3 import psnr_curve
    from mzsr_tf.model import get_params, kernel_pca_of
    from mzsr_tf.scenarios import get_scenario
    from mzsr_tf.speed.precision import default_compute_dtype
    from mzsr_tf.weights import load_model, step_sizes

    files = sorted(f for f in os.listdir(args.hr_dir) if f.lower().endswith(".png"))
    hrs = [np.asarray(Image.open(os.path.join(args.hr_dir, f)).convert("RGB")) for f in files]
    curves = {}
    sc = get_scenario(args.scenario)
    dtype = args.compute_dtype or default_compute_dtype()  # upscale's rule (mzsr_tf.methods)
    for entry in args.weights:
        name, optimizer, rate = (entry.split(":") + ["", ""])[:3]
        rate = float(rate) if rate else args.adam_rate
        sizes = step_sizes(name, args.max_steps, sc.subsampling, sc.scale)  # the weights' own, as upscale uses
        model = load_model(name)
        c = psnr_curve(get_params(model), hrs, sc, args.max_steps, step_sizes=sizes,
                       optimizer=optimizer or "gd", adam_rate=rate, kernel_pca=kernel_pca_of(model),
                       compute_dtype=dtype).mean(0)
        label = f"{name} (Adam {rate:g})" if optimizer == "adam" else f"{name} (GD)"
        curves[label] = c.tolist()
        print(label, " ".join(f"{v:.2f}" for v in c), flush=True)
    plt.figure(figsize=(6, 4))
    for w, c in curves.items():
        plt.plot(range(len(c)), c, marker="o", ms=3, label=w)
    plt.xlabel("gradient steps at test time")
    plt.ylabel(f"mean PSNR (dB, Y) on {os.path.basename(os.path.normpath(args.hr_dir))}")
    plt.title(f"Adaptation curve, scenario {args.scenario}")
    plt.grid(alpha=0.3)
    plt.legend()
    plt.tight_layout()
    plt.savefig(args.out, dpi=110)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump({"scenario": args.scenario, "compute_dtype": dtype or "float32", "hr_dir": os.path.basename(os.path.normpath(args.hr_dir)), "curves": curves}, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
