"""The ``train`` command: parse, resolve the config, run the stages."""
import argparse
import os
import sys
import time

from ..cli import guarded
from ..errors import InputError
from . import config as config_mod


def build_parser():
    p = argparse.ArgumentParser(
        prog="mzsr-tf train",
        description=(
            "Train MZSR (Algorithm 1): 'pretrain' = L1 on bicubic pairs, 'pretrain_all' = L1 on "
            "pairs blurred with kernels from p(k) (and some unblurred), 'meta' = meta-transfer "
            "learning from the previous stage's weights; 'all' runs the config's 'stages' in order. "
            "Runs resume: rerun the same command (or --resume RUN_DIR on any clone) after a stop, "
            "SIGTERM, a --max-minutes limit or a kill -9 and it continues from the last checkpoint "
            "in RUN_DIR/<stage>/checkpoint.npz. TensorBoard logs and metrics.csv: RUN_DIR/<stage>/logs."
        ),
    )
    add_config_options(p, "YAML config (may name a 'preset' or a 'base' YAML it changes); see configs/",
                       "override a config value, e.g. --set meta.inner_step_size=0.005 (repeatable)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR with its own config.yaml (e.g. training/mzsr_direct_x2)")
    p.add_argument("--stage", choices=list(config_mod.STAGES) + ["all"], default="all", help="which stage to run (default: all = the config's 'stages')")
    p.add_argument("--run-dir", help="output folder (default: the config's run_dir)")
    p.add_argument("--max-minutes", type=float, help="stop cleanly with a checkpoint after this many minutes")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("--validate", nargs="+", metavar="WEIGHTS",
                   help="only measure shipped weights (names) or .weights.h5 files on the config's held-out "
                   "validation (p(k) kernels and unblurred, PSNR after 0/1/10 steps), the numbers every "
                   "training run logs, and exit")
    return p


def add_config_options(p, config_help, set_help):
    """Adds --config, --preset and --set, the options every command that reads a training config shares.

    Args:
      p: an ``argparse.ArgumentParser``.
      config_help, set_help: the help of --config and --set (each command says what it uses).
    """
    p.add_argument("--config", help=config_help)
    p.add_argument("--preset", choices=sorted(config_mod.PRESETS), help="start from a named preset instead of a YAML file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=set_help)


def config_from_options(args, base=None, default_preset="cpu"):
    """The config of --config / --preset (or ``base``) with the --set overrides applied; not validated.

    Args:
      args: parsed options from a parser given :func:`add_config_options`.
      base: a config to start from instead (e.g. a run folder's).
      default_preset: the preset used when neither --config nor --preset is given.
    """
    if base is not None:
        cfg = base
    else:
        cfg = config_mod.load(args.config) if args.config else config_mod.preset(args.preset or default_preset)
    for s in args.set:
        config_mod.set_override(cfg, s)
    return cfg


def resolve_config(args):
    if sum(bool(a) for a in (args.config, args.preset, args.resume)) > 1:
        raise InputError("give one of --config, --preset and --resume")
    base = None
    if args.resume:
        path = os.path.join(args.resume, "config.yaml")
        if not os.path.isfile(path):
            raise InputError(f"{args.resume}: not a run folder (no config.yaml)")
        base = config_mod.load(path)
        base.run_dir = args.resume
    cfg = config_from_options(args, base)
    if args.run_dir:
        cfg.run_dir = args.run_dir
    return cfg.validate()


@guarded
def main(argv=None):
    args = build_parser().parse_args(argv)
    cfg = resolve_config(args)
    if args.print_config:
        print(config_mod.to_yaml(cfg), end="")
        return 0
    if args.validate:
        return validate_weights(cfg, args.validate)
    if args.max_minutes is not None and args.max_minutes <= 0:
        raise InputError("--max-minutes must be positive")
    return run(cfg, args.stage, args.max_minutes, progress=not args.no_progress)


def run(cfg, stage="all", max_minutes=None, progress=True):
    """Runs the requested stages; returns 0 when all finished, 3 when stopped early (resumable)."""
    from ..data.sources import ImagePool
    from .loop import run as run_stage
    from .stages import STAGE_CLASSES, initial_params

    os.makedirs(cfg.run_dir, exist_ok=True)
    config_mod.dump(cfg, os.path.join(cfg.run_dir, "config.yaml"))
    patch = max(cfg.pretrain.patch_size, cfg.meta.patch_size)
    pool, val = ImagePool.from_config(cfg.data, patch, warn=lambda m: print(m, file=sys.stderr))
    print(f"{len(pool.images)} training images, {len(val)} validation images; run dir {cfg.run_dir}")
    t0 = time.monotonic()
    remaining = lambda: None if max_minutes is None else max_minutes - (time.monotonic() - t0) / 60.0
    names = cfg.stages if stage == "all" else [stage]
    for name in names:
        left = remaining()
        if left is not None and left <= 0:
            return 3
        from_scratch = name == "pretrain" and not cfg.pretrain.init_weights
        init = None if from_scratch else initial_params(cfg, cfg.run_dir, name)
        runner = STAGE_CLASSES[name](cfg, pool, val, init)
        _, _, done = run_stage(runner, cfg, os.path.join(cfg.run_dir, name), left, progress)
        if not done:
            return 3
    return 0


def validate_weights(cfg, names):
    """Prints the held-out validation of each weights file, as a training run of ``cfg`` logs it."""
    from types import SimpleNamespace

    from ..data.sources import ImagePool
    from ..model import get_params, kernel_pca_of
    from ..weights import load_model
    from .validation import validate_blind, validation_kernels

    models = {name: load_model(name, cfg.scale, cfg.subsampling) for name in names}
    _, val = ImagePool.from_config(cfg.data, cfg.meta.patch_size, warn=lambda m: print(m, file=sys.stderr))
    if not val:
        raise InputError("the config holds out no validation images (data.val_images)")
    kernels = validation_kernels(cfg, len(val))
    for name, model in models.items():
        probe = SimpleNamespace(cfg=cfg, val=val, _val_kernels=kernels, kernel_pca=kernel_pca_of(model))
        res = validate_blind(probe, {"params": get_params(model)}, 0, None)
        print(name + ": " + ", ".join(f"{k.removeprefix('val/')} {v:.3f}" for k, v in res.items()), flush=True)
    return 0
