"""The ``tune`` command: parse the options, run :func:`~mzsr_tf.tune.search.search`, print the best."""
import argparse
import os
import sys

from ..cli import guarded
from ..errors import InputError
from ..train.command import add_config_options, config_from_options
from .report import format_rows
from .search import PROJECT, TUNERS, search
from .space import MODES, OBJECTIVE, parse_range


def build_parser():
    p = argparse.ArgumentParser(
        prog="mzsr-tf tune",
        description=(
            "KerasTuner search over MZSR's inner and meta learning rates (alpha, beta): each trial is a "
            "short meta-training run from the configured initial weights, scored by the mean PSNR after "
            "--eval-steps zero-shot steps on the config's held-out validation images (never the benchmark "
            "sets). --mode steps instead tunes the test-time step sizes of fixed weights (no training). "
            "Rerunning the same command resumes the search. Writes to --out: the tuner's records "
            "(keras_tuner/), trials.csv, objective.png and best.yaml (a train config) or best_step_sizes.yaml."
        ),
    )
    add_config_options(p, "training YAML config (may name a 'preset' or a 'base' YAML); its data, scale and meta.init_weights are used",
                       "override a config value (repeatable), e.g. --set meta.tasks_per_batch=2")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (rerun with the same DIR to resume)")
    p.add_argument("--mode", choices=MODES, default="meta", help="meta: tune alpha, beta by short meta-training (default); steps: tune test-time step sizes of fixed weights")
    p.add_argument("--tuner", choices=TUNERS, help="search strategy (default: bayesian where scikit-learn is installed, else random; hyperband: meta mode only)")
    p.add_argument("--trials", type=int, default=8, help="number of trials (default 8)")
    p.add_argument("--trial-iterations", type=int, default=30, help="meta-iterations per trial (default 30; hyperband: at the full budget)")
    p.add_argument("--alpha", metavar="LO,HI", help="range of alpha = meta.inner_step_size, log-uniform (default 1e-4,1e-1)")
    p.add_argument("--beta", metavar="LO,HI", help="range of beta = meta.meta_learning_rate, log-uniform (default 1e-5,1e-3)")
    p.add_argument("--inner-steps", metavar="LO,HI", help="also tune meta.inner_steps in this integer range")
    p.add_argument("--step-range", metavar="LO,HI", help="steps mode: range of both test-time step sizes, log-uniform (default 1e-4,1e-1)")
    p.add_argument("--eval-steps", type=int, default=10, help="zero-shot adaptation steps n of the objective (default 10)")
    p.add_argument("--eval-schedule", choices=("reference", "alpha"), default="reference",
                   help="meta mode: test-time step sizes of the objective: the paper's schedule, as upscale uses (default), or alpha for every step")
    p.add_argument("--val-kernels", type=int, default=2, help="p(k) kernels per validation image (default 2)")
    p.add_argument("--kernel", metavar="FILE", help="use this blur kernel (.npy/.mat/image) for every evaluation image instead of p(k) draws")
    p.add_argument("--weights", metavar="NAME|PATH", help="steps mode: weights to tune for (default: the config's meta.init_weights)")
    p.add_argument("--images", metavar="DIR", help="steps mode: HR images of the new kind to evaluate on (default: the config's held-out validation images)")
    p.add_argument("--baseline", action="store_true", help="meta mode: also train the paper's alpha=0.01, beta=1e-4 with the same budget, for comparison")
    p.add_argument("--seed", type=int, help="seed of the tuner and the validation kernels (default: the config's seed)")
    p.add_argument("--overwrite", action="store_true", help="discard an existing search in --out and start afresh")
    p.add_argument("--quiet", action="store_true", help="no progress line per trial")
    return p


def resolve_config(args):
    """The validated training config of --config or --preset (exactly one) and --set."""
    if args.config and args.preset:
        raise InputError("give --config or --preset, not both")
    if not args.config and not args.preset:
        raise InputError("give --config FILE (or --preset NAME)")
    return config_from_options(args).validate()


def ranges_from_args(args):
    """The search-space overrides the options give, {name: (lo, hi)}."""
    r = {}
    if args.alpha:
        r["alpha"] = parse_range(args.alpha, "alpha")
    if args.beta:
        r["beta"] = parse_range(args.beta, "beta")
    if args.inner_steps:
        r["inner_steps"] = parse_range(args.inner_steps, "inner-steps", integer=True)
    if args.step_range:
        r["eta_first"] = r["eta_then"] = parse_range(args.step_range, "step-range")
    return r


@guarded
def main(argv=None):
    """``mzsr-tf tune ARGS``; returns the exit status (2 on a user error)."""
    args = build_parser().parse_args(argv)
    ranges = ranges_from_args(args)
    if args.trials < 1:
        raise InputError(f"--trials must be at least 1, got {args.trials}")
    cfg = resolve_config(args)
    kernel = None
    if args.kernel:
        from ..kernels import load_kernel

        kernel = load_kernel(args.kernel, warn=lambda m: print(m, file=sys.stderr))
    res = search(
        cfg, args.out, mode=args.mode, tuner=args.tuner, trials=args.trials, trial_iterations=args.trial_iterations,
        ranges=ranges, eval_steps=args.eval_steps, eval_schedule=args.eval_schedule, kernels_per_image=args.val_kernels,
        seed=args.seed, weights=args.weights, images_dir=args.images, kernel=kernel, baseline=args.baseline,
        overwrite=args.overwrite, progress=not args.quiet,
    )
    vals = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in res["best_values"].items() if not k.startswith("tuner/"))
    print(f"best: trial {res['best_trial']}  {vals}  {OBJECTIVE}={res['best_score']:.3f} dB")
    print(format_rows(res["csv"]))
    print(f"wrote {res.get('best')}, {res['csv']}, {res['plot']} (tuner records: {os.path.join(args.out, PROJECT)})")
    return 0
