"""The paper's Figure 3: mean PSNR on a benchmark vs. number of adaptation steps.

Compares the meta-learned weights with the bicubic-pretrained ones (both adapted
by plain gradient descent with the reference step sizes).

Usage: python docs/figure3.py --hr-dir PATH/TO/Set5 \
          --scenario g2.0 --weights mzsr_direct_x2 pretrain_x2 --out docs/figure3.png
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
    p.add_argument("--out", default="docs/figure3.png")
    args = p.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    from mzsr_tf.evaluate.figure3 import psnr_curve
    from mzsr_tf.model import get_params
    from mzsr_tf.weights import load_model

    files = sorted(f for f in os.listdir(args.hr_dir) if f.lower().endswith(".png"))
    hrs = [np.asarray(Image.open(os.path.join(args.hr_dir, f)).convert("RGB")) for f in files]
    curves = {}
    for w in args.weights:
        c = psnr_curve(get_params(load_model(w)), hrs, args.scenario, args.max_steps).mean(0)
        curves[w] = c.tolist()
        print(w, " ".join(f"{v:.2f}" for v in c))
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
        json.dump({"scenario": args.scenario, "hr_dir": os.path.basename(os.path.normpath(args.hr_dir)), "curves": curves}, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
