"""The search space: names, ranges, ``kt.HyperParameters`` and what a trial's values mean."""
import copy
import math

from ..errors import InputError

OBJECTIVE = "val_psnr"
MODES = ("meta", "steps")
PAPER_ALPHA, PAPER_BETA = 0.01, 1e-4
DEFAULT_RANGES = {"alpha": (1e-4, 1e-1), "beta": (1e-5, 1e-3), "eta_first": (1e-4, 1e-1), "eta_then": (1e-4, 1e-1)}
HYPERBAND_MAX_EPOCHS = 3  # budget units of a hyperband trial: trial_iterations / 3 each
HYPERBAND_FACTOR = 3


def parse_range(text, name, integer=False):
    """Parses 'LO,HI' (or 'LO:HI') into a checked (lo, hi).

    Args:
      text: the option's value.
      name: the option's name without dashes, for messages.
      integer: parse integers (an integer range) instead of floats.

    Returns:
      (lo, hi): numbers, lo < hi, both positive (the float ranges are log-uniform).
    """
    parts = str(text).replace(":", ",").split(",")
    if len(parts) != 2:
        raise InputError(f"--{name} expects LO,HI (e.g. 1e-4,1e-1), got {text!r}")
    try:
        lo, hi = (int(p) if integer else float(p) for p in parts)
    except ValueError:
        raise InputError(f"--{name}: {text!r} is not two {'integers' if integer else 'numbers'}") from None
    return check_range(name, lo, hi, integer)


def check_range(name, lo, hi, integer=False):
    """Returns (lo, hi) as ints or floats; raises InputError unless finite, positive and lo < hi."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(f"search space {name}: bounds must be finite, got {lo}, {hi}")
    if lo >= hi:
        raise InputError(f"search space {name}: low ({lo:g}) must be below high ({hi:g})")
    if lo <= 0:
        raise InputError(f"search space {name}: bounds must be positive, got low {lo:g}")
    return (int(lo), int(hi)) if integer else (float(lo), float(hi))


def hyperparameters(mode, ranges, eval_steps=10):
    """The search space as ``kt.HyperParameters``.

    Declared up front (not inside a model-building function) so trial 0 is
    sampled from the space as well.

    Args:
      mode: 'meta' (alpha, beta, optional inner_steps) or 'steps' (eta_first, eta_then).
      ranges: dict name -> (lo, hi); 'inner_steps' only when it is tuned.
      eval_steps: number of test-time steps (steps mode: eta_then only when > 1).
    """
    import keras_tuner as kt

    hp = kt.HyperParameters()
    names = ("alpha", "beta") if mode == "meta" else (("eta_first", "eta_then") if eval_steps > 1 else ("eta_first",))
    for name in names:
        lo, hi = check_range(name, *ranges[name])
        hp.Float(name, lo, hi, sampling="log")
    if mode == "meta" and ranges.get("inner_steps"):
        lo, hi = check_range("inner_steps", *ranges["inner_steps"], integer=True)
        hp.Int("inner_steps", lo, hi)
    return hp


def step_sizes_from(values, n):
    """Steps mode: the schedule [eta_first, eta_then, eta_then, ...] of length ``n``."""
    return [values["eta_first"]] + [values.get("eta_then", values["eta_first"])] * (n - 1)


def with_values(cfg, values):
    """A copy of a training config with a meta-mode trial's α, β (and inner steps); not validated.

    Args:
      cfg: a training :class:`~mzsr_tf.train.config.Config`.
      values: hyperparameter values with 'alpha', 'beta' and optionally 'inner_steps'.
    """
    c = copy.deepcopy(cfg)
    c.meta.inner_step_size = float(values["alpha"])
    c.meta.meta_learning_rate = float(values["beta"])
    if "inner_steps" in values:
        c.meta.inner_steps = int(values["inner_steps"])
    return c
