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
            "Train MZSR (Algorithm 1): 'pretrain' = L1 on bicubic pairs, 'meta' = meta-transfer "
            "learning from the pretrained weights. Runs resume: rerun the same command after a "
            "stop, a --max-minutes limit or a kill -9 and it continues from the last checkpoint "
            "in RUN_DIR/<stage>/checkpoint.npz. TensorBoard logs: RUN_DIR/<stage>/logs."
        ),
    )
    p.add_argument("--config", help="YAML config (may name a 'preset'); see configs/")
    p.add_argument("--preset", choices=sorted(config_mod.PRESETS), help="start from a named preset instead of a YAML file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value, e.g. --set meta.inner_lr=0.005 (repeatable)")
    p.add_argument("--stage", choices=["pretrain", "meta", "all"], default="all", help="which stage(s) to run (default: all)")
    p.add_argument("--run-dir", help="output folder (default: the config's run_dir)")
    p.add_argument("--max-minutes", type=float, help="stop cleanly with a checkpoint after this many minutes")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    return p


def resolve_config(args):
    if args.config and args.preset:
        raise InputError("give --config or --preset, not both")
    cfg = config_mod.load(args.config) if args.config else config_mod.preset(args.preset or "cpu")
    for s in args.set:
        config_mod.set_override(cfg, s)
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
    if args.max_minutes is not None and args.max_minutes <= 0:
        raise InputError("--max-minutes must be positive")
    return run(cfg, args.stage, args.max_minutes, progress=not args.no_progress)


def run(cfg, stage="all", max_minutes=None, progress=True):
    """Runs the requested stages; returns 0 when all finished, 3 when stopped early (resumable)."""
    from ..data.sources import ImagePool
    from .loop import run as run_stage
    from .stages import Meta, Pretrain, initial_meta_params

    os.makedirs(cfg.run_dir, exist_ok=True)
    config_mod.dump(cfg, os.path.join(cfg.run_dir, "config.yaml"))
    patch = max(cfg.pretrain.patch_size, cfg.meta.patch_size)
    pool, val = ImagePool.from_config(cfg.data, patch, warn=lambda m: print(m, file=sys.stderr))
    print(f"{len(pool.images)} training images, {len(val)} validation images; run dir {cfg.run_dir}")
    t0 = time.monotonic()
    remaining = lambda: None if max_minutes is None else max_minutes - (time.monotonic() - t0) / 60.0
    if stage in ("pretrain", "all"):
        _, step, done = run_stage(Pretrain(cfg, pool, val), cfg, os.path.join(cfg.run_dir, "pretrain"), remaining(), progress)
        if not done:
            return 3
    if stage in ("meta", "all"):
        left = remaining()
        if left is not None and left <= 0:
            return 3
        meta = Meta(cfg, pool, val, initial_meta_params(cfg, cfg.run_dir))
        _, step, done = run_stage(meta, cfg, os.path.join(cfg.run_dir, "meta"), left, progress)
        if not done:
            return 3
    return 0
