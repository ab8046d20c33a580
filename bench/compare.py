"""Table 4 of the MZSR paper on this machine: ZSSR vs MZSR(1) vs MZSR(10), one run, one image.

    python bench/compare.py [--image HR.png] [--scenario g2.0] [--zssr-iters 3000]
                            [--weights NAME|PATH] [--repeats 5] [--ensemble] [--json out.json]

Builds a 256×256 LR image ×2 (from ``--image``, by default Set5's baby.png from
the shared data when present, else a synthetic image), then times, in this one
process and on the same input:

* bicubic, MZSR(1) and MZSR(10), in float32 and with bfloat16 convolutions
  (``compute_dtype``; weights float32): after an untimed compiling call, ``--repeats``
  calls before and ``--repeats`` after the ZSSR run; the median of all of them
  (load from other processes on a shared machine drifts during a long ZSSR run);
* ZSSR: one full run (its own stopping rule or the iteration cap) after a
  1-iteration untimed warm-up that traces its compiled steps; with
  ``--zssr-fixed`` a second run that ignores the learning-rate floor and does
  exactly ``--zssr-iters`` iterations (the paper's "3000 iterations").

Prints the Table 4 rows and the ratios ZSSR / MZSR(1) and ZSSR / MZSR(10).
MZSR's speed does not depend on the weights' values: without shipped weights
it runs with random ones (said in the output).
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

GOAL = 300.0  # ZSSR / MZSR(1) on CPU (the paper: ~1100x on a Titan XP)


def _hr_image(path):
    from PIL import Image

    if path:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB")), os.path.basename(path)
    from scipy import ndimage

    x = np.random.default_rng(0).uniform(0, 255, (512, 512, 3))
    x = ndimage.gaussian_filter(x, (3, 3, 0))
    x = (x - x.min()) / (x.max() - x.min()) * 255
    return np.round(x).astype(np.uint8), "synthetic 512x512"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image", help="HR image (cropped/padded to 512x512 around its centre)")
    p.add_argument("--scenario", default="g2.0", help="x2 degradation (default g2.0)")
    p.add_argument("--zssr-iters", type=int, default=3000)
    p.add_argument("--weights", default=None, help="MZSR weights (default: shipped, else random)")
    p.add_argument("--repeats", type=int, default=5, help="timed MZSR/bicubic calls before and after ZSSR")
    p.add_argument("--ensemble", action="store_true", help="also time MZSR(1)/(10) with the 8-way self-ensemble")
    p.add_argument("--no-zssr-ensemble", action="store_true", help="ZSSR without its self-ensemble")
    p.add_argument("--zssr-fixed", action="store_true",
                   help="also time ZSSR for exactly --zssr-iters iterations (no learning-rate-floor stop)")
    p.add_argument("--zssr-dtype", choices=("float32", "bfloat16"), default="float32",
                   help="precision of ZSSR's convolutions (default float32, as ZSSR)")
    p.add_argument("--json", help="write the figures as JSON")
    args = p.parse_args(argv)

    import dataclasses

    from mzsr_tf import evaluate
    from mzsr_tf.evaluate import paper_tables as comparison
    from mzsr_tf.evaluate.protocol import prepare
    from mzsr_tf.scenarios import get_scenario

    sc = get_scenario(args.scenario)
    if sc.scale != 2:
        p.error("Table 4 is for x2")
    hr, source = _hr_image(args.image)
    name, lr = comparison.table4_input([(source, hr, False)], sc, evaluate.DEFAULT_KERNEL_SIZE)
    weights, note = args.weights, ""
    if weights is None:
        from mzsr_tf import weights as W

        try:
            W.default_name(2, sc.subsampling)
        except Exception:
            from mzsr_tf.model import build_model

            weights = os.path.join(tempfile.mkdtemp(), "random.weights.h5")
            build_model().save_weights(weights)
            note = "MZSR ran with random weights (no shipped weights yet); its speed does not depend on them"
    ctx = evaluate.EvalContext(weights=weights, zssr_iters=args.zssr_iters, ensemble=None)
    ens_ctx = dataclasses.replace(ctx, ensemble=True)
    bf = dataclasses.replace(ctx, compute_dtype="bfloat16")
    cols = [("bicubic", "bicubic", None, ctx), ("mzsr(1)", "mzsr", 1, ctx), ("mzsr(10)", "mzsr", 10, ctx),
            ("mzsr(1) bf16", "mzsr", 1, bf), ("mzsr(10) bf16", "mzsr", 10, bf)]
    if args.ensemble:
        cols += [("mzsr(1)+ens", "mzsr", 1, ens_ctx), ("mzsr(10)+ens", "mzsr", 10, ens_ctx)]
    print(f"input: {name} -> LR {lr.shape[1]}x{lr.shape[0]}, scenario {sc.name}", flush=True)
    times = {label: [] for label, *_ in cols}

    def fast_round():
        for label, m, n, c in cols:
            prepare(m, sc, c)
            times[label].append(comparison.time_column(m, lr, sc, n, c, repeats=args.repeats, warm=not times[label]))

    fast_round()
    print("before ZSSR: " + ", ".join(f"{k} {v[0]:.3f} s" for k, v in times.items()), flush=True)
    from mzsr_tf import zssr as Z

    x = lr[None].astype(np.float32) / 255.0
    base = Z.ZSSRConfig(max_iters=args.zssr_iters, ensemble=not args.no_zssr_ensemble,
                        compute_dtype=None if args.zssr_dtype == "float32" else args.zssr_dtype)
    Z.zssr(x, 2, sc.kernel(), sc.subsampling, dataclasses.replace(base, max_iters=1))  # trace the compiled steps
    zruns = [("zssr", base)]
    if args.zssr_fixed:
        zruns.append((f"zssr({args.zssr_iters} it)", dataclasses.replace(base, min_learning_rate=0.0)))
    zres = {}
    for label, cfg in zruns:
        t0 = time.perf_counter()
        _, info = Z.zssr(x, 2, sc.kernel(), sc.subsampling, cfg, seed=0)
        zres[label] = (time.perf_counter() - t0, info)
        print(f"{label}: {zres[label][0]:.1f} s, {info['iterations']} iterations, stopped by {info['stopped']}",
              flush=True)
    zssr_s, run = zres["zssr"]
    fast_round()
    print("after ZSSR:  " + ", ".join(f"{k} {v[1]:.3f} s" for k, v in times.items()), flush=True)

    sec = {k: float(np.mean(v)) for k, v in times.items()}  # mean of the two medians
    rows = [(label, "zssr", t) for label, (t, _) in zres.items()] + [(label, m, sec[label]) for label, m, *_ in cols]
    notes = [
        f"bicubic/mzsr: median of {args.repeats} warm calls before and {args.repeats} after ZSSR, averaged",
        f"zssr: one run, {run['iterations']} iterations (cap {args.zssr_iters}), stopped by {run['stopped']}, "
        f"self-ensemble {'off' if args.no_zssr_ensemble else 'on'}, {args.zssr_dtype}",
        "bf16: convolutions in bfloat16, weights float32 (compute_dtype='bfloat16')",
    ] + ([note] if note else [])
    print()
    print(comparison.format_table4(rows, f"{name}, {sc.name}", notes=notes))
    r1, r10 = zssr_s / sec["mzsr(1)"], zssr_s / sec["mzsr(10)"]
    b1, b10 = zssr_s / sec["mzsr(1) bf16"], zssr_s / sec["mzsr(10) bf16"]
    zd = args.zssr_dtype
    print()
    print(f"ZSSR ({zd}) / MZSR(1)  = {r1:.0f}x float32, {b1:.0f}x bf16   "
          f"(goal >= {GOAL:.0f}x on CPU; paper {142.72 / 0.13:.0f}x on a Titan XP)")
    print(f"ZSSR ({zd}) / MZSR(10) = {r10:.0f}x float32, {b10:.0f}x bf16   (paper {142.72 / 0.36:.0f}x)")
    for label, (t, info) in list(zres.items())[1:]:
        print(f"{label} ({info['iterations']} iterations): / MZSR(1) = {t / sec['mzsr(1)']:.0f}x float32, "
              f"{t / sec['mzsr(1) bf16']:.0f}x bf16; / MZSR(10) = {t / sec['mzsr(10)']:.0f}x float32, "
              f"{t / sec['mzsr(10) bf16']:.0f}x bf16")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"image": name, "scenario": sc.name, "seconds": {k: v for k, _, v in rows},
                   "zssr_runs": {k: {"seconds": t, "iterations": i["iterations"], "stopped": i["stopped"]}
                                 for k, (t, i) in zres.items()},
                       "zssr_iterations": run["iterations"], "zssr_stopped": run["stopped"],
                       "zssr_dtype": zd, "ratio_mzsr1": r1, "ratio_mzsr10": r10, "ratio_mzsr1_bf16": b1,
                       "ratio_mzsr10_bf16": b10, "runs": times, "note": note}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
