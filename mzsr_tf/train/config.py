"""Typed training configuration: dataclasses, named presets, YAML in and out.

A run is fully described by one :class:`Config`; the resolved config is written
next to every checkpoint so a run can be reproduced or resumed as it was.
"""
import copy
import dataclasses
import os
from dataclasses import dataclass, field
from typing import List, Optional

import yaml

from ..errors import InputError

STAGES = ("pretrain", "pretrain_all", "meta")
DEFAULT_TRAIN_DIR = os.path.join("data", "train")  # HR training images (folders of PNG/JPEG), relative to the working directory


@dataclass
class DataConfig:
    """Where HR images come from. ``shard`` (a .npz of uint8 crops) wins over ``dirs``."""

    dirs: List[str] = field(default_factory=lambda: [DEFAULT_TRAIN_DIR])
    shard: Optional[str] = None
    val_images: int = 4  # held out from training, by sorted file order, for validation PSNR
    val_crop: int = 96  # HR side of the validation crops
    parallel_calls: int = 2
    # the training draws (crops, kernels, noise); None: the run's seed. Held-out kernels and the
    # kernel basis follow the run's seed alone, so a run that draws new batches still compares
    seed: Optional[int] = None


@dataclass
class PretrainConfig:
    """Large-scale L1 pretraining on bicubic pairs (Algorithm 1, lines 1-7)."""

    steps: int = 20000
    batch_size: int = 16
    patch_size: int = 64  # HR patch side
    learning_rate: float = 4e-4
    learning_rate_halve_every: int = 100000
    learning_rate_floor: float = 1e-4
    # as in pretrain_all: a half cosine from the rate then reached to final_learning_rate over the last steps
    anneal_steps: int = 0
    final_learning_rate: float = 0.0
    init_weights: Optional[str] = None  # None: random initialisation; a name or path: fine-tune from it
    # Photo degradations instead of the MATLAB bicubic LR: each crop shrunk by one of these
    # Pillow resizers (mzsr_tf.data.photo.RESIZERS) and, with jpeg_fraction, saved as JPEG
    # at a quality drawn from jpeg_quality [low, high]. Empty: MATLAB bicubic, no JPEG.
    resizers: List[str] = field(default_factory=list)
    jpeg_quality: List[int] = field(default_factory=list)
    jpeg_fraction: float = 0.0


@dataclass
class PretrainAllConfig:
    """Pre-train (All): L1 on pairs degraded with p(k) kernels, a mix per batch (Figure 3's blind baseline)."""

    steps: int = 2000
    init_weights: Optional[str] = None  # None: the pretrain stage's result in the same run dir
    kernels_per_batch: int = 4
    patches_per_kernel: int = 4
    patch_size: int = 64
    learning_rate: float = 2e-4
    # Over the stage's last ``anneal_steps`` steps the rate falls along a half cosine to
    # ``final_learning_rate``: at a constant rate the held-out curve flattens while the weights
    # still wander around the minimum, and a falling rate settles them (0: constant).
    anneal_steps: int = 0
    final_learning_rate: float = 0.0
    no_blur_fraction: float = 0.2  # share of unblurred pairs, so no-kernel inputs are learned too
    noise_sigma: float = 0.0
    val_every: int = 0  # 0: the run's val_every (steps here are ~40x cheaper than meta-iterations)


@dataclass
class MetaConfig:
    """Meta-transfer learning (Algorithm 1, lines 8-16)."""

    iterations: int = 1000
    init_weights: Optional[str] = None  # None: the pretrain stage's result in the same run dir
    # tasks: a kernel from p(k) and HR patches degraded with it
    tasks_per_batch: int = 5
    patches_per_task: int = 16  # split into D_tr (first half) and D_te (second half)
    patch_size: int = 64
    kernel_size: int = 15
    # the inner loop on D_tr (Algorithm 1, lines 11-13)
    inner_steps: int = 5
    inner_step_size: float = 0.01  # α
    # the outer Adam step on the D_te losses
    meta_learning_rate: float = 1e-4  # β
    first_order: bool = False
    multi_step_loss: bool = True
    msl_iterations: int = 0  # iterations over which step weights anneal to the last step; 0: iterations/2
    learn_inner_step_sizes: bool = False  # Meta-SGD style per-step, per-tensor step sizes
    noise_sigma: float = 0.0  # max std of Gaussian noise added to LR (uniform in [0, noise_sigma])
    no_blur_fraction: float = 0.0  # share of unblurred tasks mixed into p(k)
    first_order_iterations: int = 0  # first-order (cheaper) meta-gradients for this many iterations, then `first_order`
    # A running mean of the weights along the trajectory (0: off): from iteration `average_from`,
    # every `average_every` iterations. It smooths the swings of a noisy meta-gradient; it is
    # validated beside the weights (val_avg/...) and shipped with `ship --running-average`.
    average_from: int = 0
    average_every: int = 10


@dataclass
class KernelAwareConfig:
    """The kernel as an input of the network: SRMD-style code maps (:mod:`mzsr_tf.kernel_code`).

    ``lambda_min`` sets the training kernels of pretrain_all and meta for every
    run: a kernel-aware network must have seen every kernel it may be told.
    """

    components: int = 0  # t code maps; 0: the paper's network, blind to the kernel
    lambda_min: float = 1.0  # smallest kernel variance (1: the paper's p(k); 0.2 reaches g^d_0.2)
    basis_samples: int = 20000  # kernels drawn to fit the PCA basis (no_blur share as the stage's)
    # Training codes off the true kernel, so the network tolerates an estimated one (--kernel estimate):
    # σ of the log-variance and angle error (0: always the true kernel's code), and the share of tasks told so.
    code_jitter: float = 0.0
    code_jitter_fraction: float = 0.5


@dataclass
class Config:
    name: str = "custom"
    scale: int = 2
    subsampling: str = "direct"
    seed: int = 0
    run_dir: str = "runs/default"
    checkpoint_every: int = 100
    log_every: int = 10
    val_every: int = 200
    stages: List[str] = field(default_factory=lambda: ["pretrain", "meta"])  # what --stage all runs, in order
    compute_dtype: str = "float32"  # 'bfloat16': convolutions in bf16, weights/gradients/Adam in float32
    data: DataConfig = field(default_factory=DataConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    pretrain_all: PretrainAllConfig = field(default_factory=PretrainAllConfig)
    meta: MetaConfig = field(default_factory=MetaConfig)
    kernel_aware: KernelAwareConfig = field(default_factory=KernelAwareConfig)

    @property
    def draw_seed(self):
        """The seed of the training batches: ``data.seed`` where set, else the run's."""
        return self.seed if self.data.seed is None else self.data.seed

    def validate(self):
        if self.scale not in (2, 4):
            raise InputError(f"config: scale must be 2 or 4, got {self.scale}")
        if self.subsampling not in ("direct", "bicubic"):
            raise InputError(f"config: subsampling must be 'direct' or 'bicubic', got {self.subsampling!r}")
        if self.compute_dtype not in ("float32", "bfloat16"):
            raise InputError(f"config: compute_dtype must be 'float32' or 'bfloat16', got {self.compute_dtype!r}")
        unknown = [st for st in self.stages if st not in STAGES]
        if unknown or not self.stages:
            raise InputError(f"config: stages must be a non-empty list of {', '.join(STAGES)}, got {self.stages}")
        for name, frac in (("pretrain_all", self.pretrain_all.no_blur_fraction), ("meta", self.meta.no_blur_fraction)):
            if not 0.0 <= frac <= 1.0:
                raise InputError(f"config: {name}.no_blur_fraction must be in [0, 1], got {frac}")
        if self.data.seed is not None and (isinstance(self.data.seed, bool) or not isinstance(self.data.seed, int)
                                           or self.data.seed < 0):
            raise InputError(f"config: data.seed must be a non-negative integer or null, got {self.data.seed!r}")
        self._validate_photo()
        for sec, key in (("pretrain", "patch_size"), ("pretrain_all", "patch_size"), ("meta", "patch_size")):
            p = getattr(getattr(self, sec), key)
            if p % self.scale or p < 4 * self.scale:
                raise InputError(f"config: {sec}.{key}={p} must be a multiple of the scale and >= {4 * self.scale}")
        if self.meta.patches_per_task < 2 or self.meta.patches_per_task % 2:
            raise InputError("config: meta.patches_per_task must be even and >= 2")
        if self.meta.inner_steps < 1:
            raise InputError("config: meta.inner_steps must be >= 1")
        k = self.kernel_aware
        if k.components < 0 or k.components > self.meta.kernel_size**2 or not 0.0 < k.lambda_min <= 2.5 * self.scale:
            raise InputError(f"config: kernel_aware.components must be in 0..{self.meta.kernel_size**2} and "
                             f"kernel_aware.lambda_min in (0, {2.5 * self.scale}], got {k.components} and {k.lambda_min}")
        if k.code_jitter < 0 or not 0.0 <= k.code_jitter_fraction <= 1.0:
            raise InputError("config: kernel_aware.code_jitter must be >= 0 and kernel_aware.code_jitter_fraction "
                             f"in [0, 1], got {k.code_jitter} and {k.code_jitter_fraction}")
        if self.meta.average_from < 0 or self.meta.average_every < 1:
            raise InputError("config: meta.average_from must be >= 0 and meta.average_every >= 1, got "
                             f"{self.meta.average_from} and {self.meta.average_every}")
        for name in ("pretrain", "pretrain_all"):
            p = getattr(self, name)
            if not 0 <= p.anneal_steps <= p.steps or p.final_learning_rate < 0:
                raise InputError(f"config: {name}.anneal_steps must be in 0..{name}.steps and "
                                 f"{name}.final_learning_rate >= 0, got {p.anneal_steps} and {p.final_learning_rate}")
        return self

    def _validate_photo(self):
        from ..data.photo import RESIZERS

        p = self.pretrain
        bad = [r for r in p.resizers if r not in RESIZERS]
        if bad:
            raise InputError(f"config: pretrain.resizers {bad} unknown; choose from {', '.join(RESIZERS)}")
        q = p.jpeg_quality
        if q and (len(q) != 2 or not 1 <= q[0] <= q[1] <= 100):
            raise InputError(f"config: pretrain.jpeg_quality must be [low, high] within 1..100, got {q}")
        if not 0.0 <= p.jpeg_fraction <= 1.0:
            raise InputError(f"config: pretrain.jpeg_fraction must be in [0, 1], got {p.jpeg_fraction}")
        if (q or p.jpeg_fraction) and not p.resizers:
            raise InputError("config: pretrain.jpeg_quality needs pretrain.resizers (the photo degradation)")


# Presets as data: each is the Config() defaults with these values written over them.
PRESET_VALUES = {
    "smoke": {  # CI: a few steps of every stage on tiny crops
        "name": "smoke", "run_dir": "runs/smoke", "checkpoint_every": 5, "log_every": 1, "val_every": 0,
        "data": {"val_images": 1, "val_crop": 32},
        "pretrain": {"steps": 6, "batch_size": 2, "patch_size": 16},
        "pretrain_all": {"steps": 4, "kernels_per_batch": 2, "patches_per_kernel": 2, "patch_size": 16},
        "meta": {"iterations": 3, "tasks_per_batch": 2, "patches_per_task": 4, "patch_size": 16, "kernel_size": 7,
                 "inner_steps": 2},
    },
    "cpu": {  # a 2-core machine: hours, not days
        "name": "cpu", "run_dir": "runs/cpu", "checkpoint_every": 50, "log_every": 10, "val_every": 100,
        "pretrain": {"steps": 8000, "batch_size": 16, "patch_size": 64, "learning_rate": 4e-4, "learning_rate_halve_every": 4000},
        "meta": {"iterations": 1000, "msl_iterations": 500},
    },
    "gpu": {  # one lent GPU, from the compact shard
        "name": "gpu", "run_dir": "runs/gpu", "checkpoint_every": 200, "log_every": 20, "val_every": 500,
        "data": {"shard": ".shard/train_crops.npz"},
        "pretrain": {"steps": 100000, "batch_size": 32, "patch_size": 96, "learning_rate_halve_every": 25000},
        "meta": {"iterations": 20000, "msl_iterations": 10000},
    },
    "paper": {  # the paper's budget
        "name": "paper", "run_dir": "runs/paper", "checkpoint_every": 1000, "log_every": 100, "val_every": 2000,
        "pretrain": {"steps": 500000, "batch_size": 32, "patch_size": 96, "learning_rate": 4e-4, "learning_rate_halve_every": 100000},
        "meta": {"iterations": 100000, "msl_iterations": 50000},
    },
}
PRESETS = tuple(PRESET_VALUES)


def preset(name):
    """A fresh Config of a named preset."""
    if name not in PRESET_VALUES:
        raise InputError(f"unknown preset {name!r}; one of {', '.join(PRESETS)}")
    return _merge(Config(), copy.deepcopy(PRESET_VALUES[name]), "")


def to_dict(cfg):
    return dataclasses.asdict(cfg)


def from_dict(d, base=None):
    """Builds a Config from a (possibly partial) dict over ``base`` (default: Config()).

    A ``preset: NAME`` key starts from that preset. Unknown keys are errors.
    """
    d = copy.deepcopy(d or {})
    if not isinstance(d, dict):
        raise InputError("config: the YAML must be a mapping")
    if base is None:
        base = preset(d.pop("preset")) if "preset" in d else Config()
    else:
        d.pop("preset", None)
    return _merge(base, d, "")


# Keys renamed so that ``lr`` means only a low-resolution image: configs, run folders and
# checkpoints written with the old names still load.
RENAMED_KEYS = {
    "lr": "learning_rate",
    "lr_halve_every": "learning_rate_halve_every",
    "lr_floor": "learning_rate_floor",
    "inner_lr": "inner_step_size",
    "meta_lr": "meta_learning_rate",
    "learn_inner_lr": "learn_inner_step_sizes",
}


def _merge(obj, d, prefix):
    names = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in d.items():
        if key not in names and RENAMED_KEYS.get(key) in names:
            key = RENAMED_KEYS[key]
        if key not in names:
            raise InputError(f"config: unknown key {prefix + key!r}")
        cur = getattr(obj, key)
        if dataclasses.is_dataclass(cur):
            if not isinstance(value, dict):
                raise InputError(f"config: {prefix + key} must be a mapping")
            _merge(cur, value, prefix + key + ".")
        else:
            setattr(obj, key, _coerce(value, cur, prefix + key))
    return obj


def _coerce(value, current, key):
    if current is None or value is None:
        return value
    try:
        if isinstance(current, bool):
            if isinstance(value, str):
                if value.lower() in ("true", "1", "yes"):
                    return True
                if value.lower() in ("false", "0", "no"):
                    return False
                raise ValueError(value)
            return bool(value)
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, list):
            return list(value) if isinstance(value, (list, tuple)) else [v for v in str(value).split(",") if v]
        return type(current)(value)
    except (TypeError, ValueError):
        raise InputError(f"config: {key}={value!r} is not a valid {type(current).__name__}") from None


def set_override(cfg, assignment):
    """Applies one ``--set a.b=value`` (value parsed as YAML)."""
    if "=" not in assignment:
        raise InputError(f"--set expects key=value, got {assignment!r}")
    key, raw = assignment.split("=", 1)
    value = yaml.safe_load(raw) if raw else raw
    nested = value
    for part in reversed(key.strip().split(".")):
        nested = {part: nested}
    return _merge(cfg, nested, "")


def load(path, _chain=()):
    """Reads a YAML config file.

    The file may start from a ``preset: NAME`` or from another file, ``base: OTHER.yaml`` (a path
    relative to this file's folder), and then sets only what differs: a run that continues
    another (a new cycle, a new seed) names it as its base.
    """
    try:
        with open(path) as f:
            d = yaml.safe_load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read config ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(d, dict) or "base" not in d:
        return from_dict(d)
    parent = d.pop("base")
    if not isinstance(parent, str) or "preset" in d:
        raise InputError(f"{path}: 'base' must be one YAML file's path, and a config names a base or a preset, "
                         "not both")
    parent = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), parent))
    if parent in _chain:
        raise InputError(f"{path}: its 'base' chain comes back to {parent}")
    return from_dict(d, base=load(parent, _chain + (os.path.abspath(path),)))


def dump(cfg, path):
    with open(path, "w") as f:
        yaml.safe_dump(to_dict(cfg), f, sort_keys=False)


def to_yaml(cfg):
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
