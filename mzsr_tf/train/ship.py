"""Makes a finished training run one of the package's shipped weights.

``python -m mzsr_tf.train.ship training/mzsr_direct_x2/meta mzsr_direct_x2 --kind meta``
copies ``final.weights.h5`` into the package and records in ``index.json``
what the model card (docs/model-card.md) reports: scale, subsampling, data, steps,
hardware, wall-clock hours (read from the run's TensorBoard events, summed
over resumed chunks), whether unblurred inputs were trained on, and the
test-time step sizes that go with the weights (``--step-sizes``).

``--average CK.npz ...`` ships the mean of the weights in several checkpoints
of the run instead (weight averaging along the trajectory, which smooths the
swings of a noisy meta-gradient); the card lists their iterations.
``--running-average`` ships the running mean the meta stage keeps itself
(``meta.average_from``), read from the stage's ``checkpoint.npz``.

A kernel-aware run's weights carry its kernel basis (``RUN_DIR/kernel_pca.npz``);
the card records the code (components, λ floor, variance explained) and, with
``--default-for``, for which inputs ``upscale`` picks them by default.
"""
import argparse
import glob
import json
import os
import platform
import shutil

import numpy as np
import yaml

from ..cli import guarded
from ..errors import InputError
from ..weights import DEFAULT_CASES, HERE, card_default
from .config import STAGES


def run_hours(stage_dir):
    """Wall-clock hours of a run: the span of each TensorBoard event file, summed.

    Each resumed chunk writes its own event file, so gaps between chunks are
    not counted.
    """
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    total = 0.0
    for path in glob.glob(os.path.join(stage_dir, "logs", "events.out.tfevents.*")):
        times = [e.wall_time for e in EventFileLoader(path).Load()]
        if times:
            total += max(times) - min(times)
    return total / 3600.0


def _data_text(data):
    if data.get("shard"):
        return f"shard {os.path.basename(data['shard'])}"
    names = []
    for d in data.get("dirs") or []:
        subs = sorted(e for e in os.listdir(d) if os.path.isdir(os.path.join(d, e))) if os.path.isdir(d) else []
        names += subs or [os.path.basename(os.path.normpath(d))]
    return ", ".join(names)


def describe(stage_dir, kind, hardware, finished=True):
    """The index entry of a run (config, step, hours).

    Args:
      finished: the stage must hold ``final.weights.h5`` (not needed to ship an average).
    """
    cfg, entry = _origin(stage_dir, kind, finished)
    entry.update({
        "scale": int(cfg["scale"]),
        "subsampling": "bicubic" if kind == "pretrain" else cfg["subsampling"],
        "data": _data_text(cfg["data"]),
        "hardware": hardware,
    })
    sec = cfg[kind]
    if kind != "pretrain":
        # p(k) draws λ >= 1: unblurred inputs are learned only from the mixed-in share of
        # unblurred tasks. weights.default_name routes unblurred bicubic inputs by this flag.
        entry["no_blur"] = float(sec.get("no_blur_fraction", 0.0)) > 0.0
    entry["settings"] = {k: sec[k] for k in sorted(sec) if k != "init_weights"}
    code = cfg.get("kernel_aware", {})
    if code.get("components"):
        explained = _explained_variance(stage_dir, cfg)
        entry["kernel_code"] = {"components": int(code["components"]), "lambda_min": float(code["lambda_min"]),
                                "kernel_size": int(cfg["meta"]["kernel_size"]),
                                "explained_variance": round(explained, 6)}
    return entry


def _origin(stage_dir, kind, finished=True):
    """A stage's resolved config (a dict) and how its weights were made: kind, config, steps, hours, from.

    Args:
      finished: the stage must hold ``final.weights.h5``.
    """
    from . import config as config_mod
    from .checkpoint import load

    cfg_path = os.path.join(stage_dir, "config.yaml")
    ck_path = os.path.join(stage_dir, "checkpoint.npz")
    for p in (cfg_path, ck_path) + ((os.path.join(stage_dir, "final.weights.h5"),) if finished else ()):
        if not os.path.isfile(p):
            raise InputError(f"{p}: not found; is {stage_dir} a finished training stage?")
    cfg = config_mod.to_dict(config_mod.load(cfg_path))  # through the config: old key names read as new
    made = {"kind": kind, "steps": int(load(ck_path)["step"]), "hours": round(run_hours(stage_dir), 2),
            "config": cfg.get("name", "")}
    src = str(cfg[kind].get("init_weights") or "")
    if src:  # fine-tuned: the card says from what (a shipped name, a training stage's final weights, a file's name)
        made["from"] = os.path.normpath(src) if _stage_of(src) else os.path.basename(src)
    return cfg, made


def _stage_of(weights_path):
    """The training stage folder whose ``final.weights.h5`` this is, else None."""
    stage_dir = os.path.dirname(weights_path)
    is_final = os.path.basename(weights_path) == "final.weights.h5" and os.path.isfile(weights_path)
    if is_final and os.path.basename(os.path.normpath(stage_dir)) in STAGES and all(
            os.path.isfile(os.path.join(stage_dir, f)) for f in ("config.yaml", "checkpoint.npz")):
        return stage_dir
    return None


def source_card(source, idx):
    """The card of the weights a run started from, for its ``from_card``; None where nothing is known.

    Args:
      source: the run's ``from``: a shipped name (its entry in ``idx``, perhaps the very weights the run
        now replaces) or an unshipped training stage's ``final.weights.h5`` (that run described, back to
        the shipped weights it started from in turn).
      idx: the index the new weights go into, as it is before they do.
    """
    if source in idx:
        return earlier_card(idx[source])
    stage_dir = _stage_of(source)
    if stage_dir is None:
        return None
    _, card = _origin(stage_dir, os.path.basename(os.path.normpath(stage_dir)))
    earlier = source_card(card["from"], idx) if card.get("from") else None
    if earlier:
        card["from_card"] = earlier
    return earlier_card(card)


def earlier_card(card):
    """What a card says of how its weights were made, for the card of weights fine-tuned from them.

    Args:
      card: the index entry of the shipped weights a run started from.
    """
    return {k: card[k] for k in ("kind", "config", "steps", "hours", "from", "from_card") if k in card}


def _explained_variance(stage_dir, cfg):
    """The variance share of the run's kernel basis: kept beside it since it was fitted, else fitted again."""
    path = os.path.join(os.path.dirname(os.path.normpath(stage_dir)), "kernel_pca.npz")
    if os.path.isfile(path):
        with np.load(path) as z:
            if "explained" in z.files:
                return float(z["explained"])
    from ..kernel_code import fit_pca

    code = cfg["kernel_aware"]
    return fit_pca(cfg["scale"], code["components"], code["lambda_min"], cfg["pretrain_all"]["no_blur_fraction"],
                   code["basis_samples"], cfg["meta"]["kernel_size"], cfg["seed"])[2]


def parse_step_sizes(text):
    """'0.02,0.01,3,0.005' -> [0.02, 0.01, 3, 0.005] (FIRST, THEN, COUNT, AFTER)."""
    try:
        first, then, count, after = text.split(",")
        rule = [float(first), float(then), int(count), float(after)]
    except ValueError:
        raise InputError(f"--step-sizes expects FIRST,THEN,COUNT,AFTER (e.g. 0.02,0.01,3,0.005), got {text!r}") from None
    if min(rule[0], rule[1], rule[3]) < 0 or rule[2] < 0:
        raise InputError(f"--step-sizes must not be negative, got {text!r}")
    return rule


def stage_kernel_pca(stage_dir):
    """The kernel basis of the run a stage folder belongs to (its ``kernel_pca.npz``), or None."""
    import numpy as np

    path = os.path.join(os.path.dirname(os.path.abspath(stage_dir)), "kernel_pca.npz")
    if not os.path.isfile(path):
        return None
    with np.load(path) as z:
        return z["mean"], z["basis"]


def average_weights(paths, out, kernel_pca=None):
    """Writes the mean of the weights in checkpoints ``paths`` to ``out``; returns their steps."""
    import numpy as np

    from .checkpoint import load
    from .stages import save_weights

    for p in paths:
        if not os.path.isfile(p):
            raise InputError(f"{p}: no such checkpoint")
    cks = [load(p) for p in paths]
    shapes = {tuple(a.shape for a in c["params"]) for c in cks}
    if len(shapes) != 1:
        raise InputError("the checkpoints to average hold different networks")
    save_weights([np.mean([c["params"][i] for c in cks], axis=0) for i in range(len(cks[0]["params"]))], out,
                 kernel_pca)
    return sorted(int(c["step"]) for c in cks)


def running_average(stage_dir, out):
    """Writes the running mean of the weights kept in ``stage_dir/checkpoint.npz`` to ``out``.

    Returns:
      dict for the card: the checkpoint's iteration, the number of weights averaged, and the schedule.
    """
    from .checkpoint import load
    from .stages import save_weights

    path = os.path.join(stage_dir, "checkpoint.npz")
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such checkpoint")
    ck = load(path)
    if not ck["extra"].get("average"):
        raise InputError(f"{path} keeps no running average (set meta.average_from in the run's config)")
    meta = (yaml.safe_load(ck["config"]) or {}).get("meta", {})
    save_weights(ck["extra"]["average"], out, stage_kernel_pca(stage_dir))
    return {"to_step": int(ck["step"]), "count": int(ck["extra"]["average_count"][0]),
            "from_step": meta.get("average_from"), "every": meta.get("average_every")}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mzsr_tf.train.ship", description=__doc__.split("\n\n")[0])
    p.add_argument("stage_dir", help="a finished stage folder, e.g. runs/x2/pretrain")
    p.add_argument("name", help="shipped name, e.g. pretrain_x2 or mzsr_direct_x2")
    p.add_argument("--kind", choices=("pretrain", "pretrain_all", "meta"), required=True)
    p.add_argument("--step-sizes", metavar="FIRST,THEN,COUNT,AFTER",
                   help="test-time step sizes that come with the weights (e.g. tuned with tune --mode steps): "
                   "FIRST for step 0, THEN for steps 1..COUNT, AFTER later; default: the reference table")
    p.add_argument("--average", nargs="+", metavar="CHECKPOINT",
                   help="ship the mean of the weights in these checkpoint.npz files of the run instead of "
                   "final.weights.h5 (the card lists their iterations)")
    p.add_argument("--running-average", action="store_true",
                   help="ship the running mean of the weights that the meta stage keeps (meta.average_from), "
                   "from the stage's checkpoint.npz")
    p.add_argument("--keep-pretrained-for-unblurred", action="store_true",
                   help="unblurred bicubic-subsampled inputs keep the pretrained weights (pretrain_xS) although "
                   "these were trained with unblurred tasks too: for weights below the pretrained ones there "
                   "on held-out validation (the card says unblurred_default: false)")
    p.add_argument("--default-for", action="append", choices=tuple(DEFAULT_CASES), default=[],
                   help="kernel-aware weights: upscale picks them by default for inputs of their scale and "
                   "subsampling with a given kernel (a file or a name), an estimated one (--kernel estimate) and/or "
                   "none (repeatable; it moves the case from the entry that held it); give it only where they beat "
                   "the default on held-out photos")
    p.add_argument("--hardware", default=f"{os.cpu_count()} CPU cores ({platform.machine()})")
    p.add_argument("--overwrite", action="store_true", help="replace shipped weights of that name")
    p.add_argument("--into", default=HERE, help="weights folder (default: the package's)")
    a = p.parse_args(argv)
    dst = os.path.join(a.into, f"{a.name}.weights.h5")
    if os.path.exists(dst) and not a.overwrite:
        raise InputError(f"{dst} exists; pass --overwrite to replace it")
    if a.average and a.running_average:
        raise InputError("pass --average or --running-average, not both")
    entry = describe(a.stage_dir, a.kind, a.hardware, finished=not (a.average or a.running_average))
    if a.step_sizes:
        entry["step_sizes"] = parse_step_sizes(a.step_sizes)
    if a.keep_pretrained_for_unblurred:
        entry["unblurred_default"] = False
    if a.default_for and "kernel_code" not in entry:
        raise InputError("--default-for is for kernel-aware weights (kernel_aware.components > 0)")
    if a.average or a.running_average:
        tmp = dst + ".part.weights.h5"
        if a.average:
            entry["averaged_steps"] = average_weights(a.average, tmp, stage_kernel_pca(a.stage_dir))
        else:
            entry["running_average"] = running_average(a.stage_dir, tmp)
        os.replace(tmp, dst)
    else:
        shutil.copyfile(os.path.join(a.stage_dir, "final.weights.h5"), dst)
    idx_path = os.path.join(a.into, "index.json")
    idx = {}
    if os.path.isfile(idx_path):
        with open(idx_path) as f:
            idx = json.load(f)
    earlier = source_card(entry["from"], idx) if entry.get("from") else None
    if earlier:
        entry["from_card"] = earlier
    for case in a.default_for:  # one entry per case: the one that held it gives it up
        field = DEFAULT_CASES[case]
        held = card_default({n: e for n, e in idx.items() if n != a.name}, entry["scale"], entry["subsampling"], field)
        if held:
            del idx[held][field]
            print(f"{held} is no longer the default with {case.replace('-', ' ')}")
        entry[field] = True
    idx[a.name] = entry
    with open(idx_path, "w") as f:
        json.dump(idx, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"shipped {a.name}: {json.dumps(entry)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(guarded(main)())
