"""KerasTuner search over MZSR's inner and meta learning rates (α, β) and test-time step sizes.

Two modes:

* ``meta`` (default): each trial is a short meta-training run (our own second-order
  meta step, :class:`mzsr_tf.train.stages.Meta`, through the resumable training
  loop) from the configured initial weights with the trial's α = ``meta.inner_lr``,
  β = ``meta.meta_lr`` (and optionally ``meta.inner_steps``); the objective is the
  mean PSNR (Y, border s) after ``n`` zero-shot adaptation steps on the config's
  held-out validation images, each degraded with fixed kernels drawn from p(k).
* ``steps``: no training; fixed weights, and the trial's test-time step sizes
  (one for the first step, one for the others) are scored the same way. For
  people who serve a model on a new kind of image (``--images DIR``).

KerasTuner drives the search: a small :class:`kt.Tuner` subclass whose
``run_trial`` returns ``{'val_psnr': value}`` for ``kt.Objective('val_psnr', 'max')``.
Searches resume (``overwrite=False``): rerunning the same command continues, and
an interrupted trial is retried from its last checkpoint.

Written to ``--out DIR``: the tuner's own records (``DIR/keras_tuner/``, one
folder per trial with its training run), ``trials.csv`` (every trial and the
reference rows), ``objective.png``, and the best setting as ``best.yaml`` (a
config ``python -m mzsr_tf.train --config`` accepts as is) or, in ``steps`` mode,
``best_step_sizes.yaml``.
"""
import argparse
import copy
import csv
import json
import math
import os
import shutil
import sys
import time
import warnings

import numpy as np

from .cli import guarded
from .errors import InputError
from .train import config as config_mod

OBJECTIVE = "val_psnr"
PROJECT = "keras_tuner"
TUNERS = ("bayesian", "random", "hyperband")
MODES = ("meta", "steps")
PAPER_ALPHA, PAPER_BETA = 0.01, 1e-4
DEFAULT_RANGES = {"alpha": (1e-4, 1e-1), "beta": (1e-5, 1e-3), "eta_first": (1e-4, 1e-1), "eta_then": (1e-4, 1e-1)}
HYPERBAND_MAX_EPOCHS = 3  # budget units of a hyperband trial: trial_iterations / 3 each
HYPERBAND_FACTOR = 3


# ------------------------------------------------------------------ search space


def parse_range(text, name, integer=False):
    """'LO,HI' -> (lo, hi), checked: numbers, lo < hi, positive (the float ranges are log-uniform)."""
    parts = str(text).replace(":", ",").split(",")
    if len(parts) != 2:
        raise InputError(f"--{name} expects LO,HI (e.g. 1e-4,1e-1), got {text!r}")
    try:
        lo, hi = (int(p) if integer else float(p) for p in parts)
    except ValueError:
        raise InputError(f"--{name}: {text!r} is not two {'integers' if integer else 'numbers'}") from None
    return check_range(name, lo, hi, integer)


def check_range(name, lo, hi, integer=False):
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(f"search space {name}: bounds must be finite, got {lo}, {hi}")
    if lo >= hi:
        raise InputError(f"search space {name}: low ({lo:g}) must be below high ({hi:g})")
    if lo <= 0:
        raise InputError(f"search space {name}: bounds must be positive, got low {lo:g}")
    return (int(lo), int(hi)) if integer else (float(lo), float(hi))


def hyperparameters(mode, ranges, eval_steps=10):
    """The search space as ``kt.HyperParameters`` (declared up front, so trial 0 is sampled too).

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
    """Steps mode: [eta_first, eta_then, eta_then, ...] of length n."""
    return [values["eta_first"]] + [values.get("eta_then", values["eta_first"])] * (n - 1)


# ------------------------------------------------------------------ objective


def _centre_crop(img, size, scale):
    size -= size % scale
    h, w = img.shape[:2]
    c = min(size, h - h % scale, w - w % scale)
    y, x = (h - c) // 2, (w - c) // 2
    return img[y : y + c, x : x + c]


class Evaluator:
    """Mean Y-PSNR after zero-shot adaptation on fixed (HR crop, kernel) pairs.

    Step sizes enter the compiled function as a tensor, so every trial (any α,
    any schedule) reuses one trace per number of steps.
    """

    def __init__(self, images, scale, subsampling, crop, kernel_size, seed, kernels_per_image=2, kernel=None):
        from keras import ops

        from .degrade import degrade
        from .kernels import random_kernel_np

        if not images:
            raise InputError("no validation images: set data.val_images >= 1 (with more training images than that) or pass --images")
        self.scale, self.subsampling = scale, subsampling
        self.pairs = []
        for i, img in enumerate(images):
            hr = _centre_crop(img, crop, scale)
            if min(hr.shape[:2]) < 4 * scale:
                raise InputError(f"validation image {i} is too small ({img.shape[1]}x{img.shape[0]})")
            kernels = [kernel] if kernel is not None else [
                random_kernel_np(scale, np.random.default_rng([seed, 99, i, j]), kernel_size) for j in range(kernels_per_image)
            ]
            hr_t = ops.convert_to_tensor(hr[None].astype(np.float32) / 255.0)
            for k in kernels:
                lr = degrade(hr_t, scale, kernel=k, subsampling=subsampling, round_uint8=True)
                self.pairs.append((hr, lr, ops.convert_to_tensor(k, "float32")))
        self._fns = {}

    def _fn(self, n):
        if n not in self._fns:
            from keras import ops

            from . import backend
            from .adapt import adapt, make_son
            from .model import forward
            from .resize import imresize

            scale, sub = self.scale, self.subsampling

            def run(params, lr, kernel, sizes):
                son = make_son(lr, scale, kernel, sub)
                son_ilr = imresize(son, float(scale), out_hw=(ops.shape(lr)[1], ops.shape(lr)[2]))
                fast = adapt(params, son_ilr, lr, [sizes[i] for i in range(n)])
                return ops.clip(forward(fast, imresize(lr, float(scale))), 0.0, 1.0)

            self._fns[n] = backend.compile_fn(run)
        return self._fns[n]

    def psnr(self, params, step_sizes):
        """Mean PSNR (dB) over all pairs after ``len(step_sizes)`` steps; NaN if the output is not finite."""
        from keras import ops

        from .metrics import psnr

        fn = self._fn(len(step_sizes))
        sizes = ops.convert_to_tensor(np.asarray(list(step_sizes) or [0.0], np.float32))
        out = []
        for hr, lr, k in self.pairs:
            sr = np.asarray(ops.convert_to_numpy(fn(list(params), lr, k, sizes)))[0]
            if not np.all(np.isfinite(sr)):
                return float("nan")
            out.append(psnr(sr, hr, crop_border=self.scale, y_channel=True))
        return float(np.mean(out))


# ------------------------------------------------------------------ what a trial runs


def _finite(params):
    from keras import ops

    return all(np.all(np.isfinite(np.asarray(ops.convert_to_numpy(p)))) for p in params)


def _last_logged(log_csv, name):
    try:
        with open(log_csv, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["name"] == name]
        return float(rows[-1]["value"]) if rows else float("nan")
    except OSError:
        return float("nan")


class MetaTask:
    """Meta mode: a short meta-training run per trial, then the validation objective."""

    mode = "meta"

    def __init__(self, cfg, pool, evaluator, init_params, trial_iterations, eval_steps, eval_schedule, keep_checkpoints=False):
        self.cfg, self.pool, self.ev, self.init_params = cfg, pool, evaluator, init_params
        self.trial_iterations, self.eval_steps, self.eval_schedule = trial_iterations, eval_steps, eval_schedule
        self.keep_checkpoints = keep_checkpoints

    def trial_config(self, values, iterations, run_dir):
        c = copy.deepcopy(self.cfg)
        c.meta.inner_lr = float(values["alpha"])
        c.meta.meta_lr = float(values["beta"])
        if "inner_steps" in values:
            c.meta.inner_steps = int(values["inner_steps"])
        c.meta.iterations = iterations
        c.run_dir = run_dir
        c.val_every = 0  # the objective is measured here, once, at the end
        c.checkpoint_every = max(1, min(c.checkpoint_every, 10))
        c.log_every = 1
        return c.validate()

    def iterations_for(self, values):
        epochs = values.get("tuner/epochs")
        if epochs is None:
            return self.trial_iterations
        return max(1, int(round(self.trial_iterations * epochs / HYPERBAND_MAX_EPOCHS)))

    def reference(self):
        """The initial weights with the reference schedule (no meta-training): context for the table."""
        from .adapt import step_size_schedule

        sched = step_size_schedule(self.eval_steps, self.cfg.subsampling, self.cfg.scale)
        return {OBJECTIVE: self.ev.psnr(self.init_params, sched), "val_psnr_step0": self.ev.psnr(self.init_params, [])}

    def run(self, values, run_dir, resume_from=None):
        from .adapt import step_size_schedule
        from .train.loop import run as run_stage
        from .train.stages import Meta

        iterations = self.iterations_for(values)
        cfg = self.trial_config(values, iterations, run_dir)
        os.makedirs(run_dir, exist_ok=True)
        ckpt = os.path.join(run_dir, "checkpoint.npz")
        if resume_from and not os.path.exists(ckpt) and os.path.exists(os.path.join(resume_from, "checkpoint.npz")):
            shutil.copy(os.path.join(resume_from, "checkpoint.npz"), ckpt)  # hyperband: continue the lower rung
        stage = Meta(cfg, self.pool, [], self.init_params)
        state, _, _ = run_stage(stage, cfg, run_dir, max_minutes=None, progress=False)
        if not self.keep_checkpoints and os.path.exists(ckpt):
            os.remove(ckpt)
        params = state["params"]
        alpha = cfg.meta.inner_lr
        metrics = {"meta_iterations": float(iterations), "loss_meta_last": _last_logged(os.path.join(run_dir, "logs", "metrics.csv"), "loss/meta")}
        if not _finite(params):
            nan = float("nan")
            metrics.update({"val_psnr_step0": nan, "val_psnr_ref": nan, "val_psnr_alpha": nan, "diverged": 1.0})
        else:
            metrics.update({
                "val_psnr_step0": self.ev.psnr(params, []),
                "val_psnr_ref": self.ev.psnr(params, step_size_schedule(self.eval_steps, cfg.subsampling, cfg.scale)),
                "val_psnr_alpha": self.ev.psnr(params, [alpha] * self.eval_steps),
                "diverged": 0.0,
            })
        obj = metrics["val_psnr_ref" if self.eval_schedule == "reference" else "val_psnr_alpha"]
        if not math.isfinite(obj):
            metrics["diverged"] = 1.0
            obj = 0.0  # a diverged run is a (very) bad result, not a missing one: the oracle learns to avoid it
        metrics[OBJECTIVE] = obj
        return metrics


class StepsTask:
    """Steps mode: fixed weights; a trial is the test-time step sizes."""

    mode = "steps"

    def __init__(self, cfg, evaluator, params, eval_steps):
        self.cfg, self.ev, self.params, self.eval_steps = cfg, evaluator, params, eval_steps

    def reference(self):
        from .adapt import step_size_schedule

        sched = step_size_schedule(self.eval_steps, self.cfg.subsampling, self.cfg.scale)
        return {OBJECTIVE: self.ev.psnr(self.params, sched), "val_psnr_step0": self.ev.psnr(self.params, [])}

    def run(self, values, run_dir=None, resume_from=None):
        v = self.ev.psnr(self.params, step_sizes_from(values, self.eval_steps))
        return {OBJECTIVE: v if math.isfinite(v) else 0.0, "diverged": 0.0 if math.isfinite(v) else 1.0}


# ------------------------------------------------------------------ the tuner


def _tuner_class():
    import keras_tuner as kt

    class MZSRTuner(kt.Tuner):
        """A trial = ``task.run(hp values)``: our meta-training (or step-size scoring), not ``fit``."""

        def __init__(self, task, on_trial_done, **kwargs):
            self.task, self.on_trial_done = task, on_trial_done
            super().__init__(**kwargs)

        def run_trial(self, trial, *args, **kwargs):
            values = dict(trial.hyperparameters.values)
            prev = values.get("tuner/trial_id")
            t0 = time.monotonic()
            try:
                metrics = self.task.run(values, self.get_trial_dir(trial.trial_id), self.get_trial_dir(prev) if prev else None)
            except InputError as e:  # a user error is not a failed trial: stop the search and say it
                raise kt.errors.FatalError(str(e)) from None
            metrics["seconds"] = time.monotonic() - t0
            return metrics

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            self.on_trial_done(self, trial)

    return MZSRTuner


def has_sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def default_tuner():
    """'bayesian' where scikit-learn (KerasTuner's Gaussian process) is installed, else 'random'."""
    return "bayesian" if has_sklearn() else "random"


def make_oracle(kind, hp, trials, seed):
    import keras_tuner as kt

    objective = kt.Objective(OBJECTIVE, "max")
    common = dict(objective=objective, hyperparameters=hp, seed=seed, tune_new_entries=False, allow_new_entries=False)
    if kind == "bayesian":
        return kt.oracles.BayesianOptimizationOracle(max_trials=trials, num_initial_points=min(trials, max(2, trials // 3)), **common)
    if kind == "random":
        return kt.oracles.RandomSearchOracle(max_trials=trials, **common)
    oracle = kt.oracles.HyperbandOracle(max_epochs=HYPERBAND_MAX_EPOCHS, factor=HYPERBAND_FACTOR, hyperband_iterations=1000, **common)
    oracle.max_trials = trials  # hyperband counts brackets, not trials; --trials caps it
    return oracle


# ------------------------------------------------------------------ results


HP_COLUMNS = {"meta": ["alpha", "beta", "inner_steps"], "steps": ["eta_first", "eta_then"]}
METRIC_COLUMNS = {
    "meta": [OBJECTIVE, "val_psnr_step0", "val_psnr_ref", "val_psnr_alpha", "loss_meta_last", "meta_iterations", "diverged", "seconds"],
    "steps": [OBJECTIVE, "diverged", "seconds"],
}


def trial_rows(tuner, mode):
    """One dict per trial (in start order) with hyperparameters, status and metrics."""
    rows = []
    for tid, trial in tuner.oracle.trials.items():
        row = {"trial": tid, "status": trial.status}
        for name in HP_COLUMNS[mode]:
            row[name] = trial.hyperparameters.values.get(name, "")
        for name in METRIC_COLUMNS[mode]:
            row[name] = trial.metrics.get_last_value(name) if trial.metrics.exists(name) else ""
        rows.append(row)
    return rows


def write_csv(path, rows, columns):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    os.replace(tmp, path)


def plot(path, rows, mode, refs, eval_steps, space=None):
    """Objective over the two tuned step sizes (log-log), best trial starred, references marked.

    ``space`` ({name: (lo, hi)}) sets the axes to the whole search space.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    xk, yk = ("alpha", "beta") if mode == "meta" else ("eta_first", "eta_then")
    done = [r for r in rows if r.get(OBJECTIVE) not in ("", None)]
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    one_d = mode == "steps" and eval_steps == 1
    if done:
        x = np.array([float(r[xk]) for r in done])
        y = np.array([float(r[OBJECTIVE]) for r in done]) if one_d else np.array([float(r[yk]) for r in done])
        z = np.array([float(r[OBJECTIVE]) for r in done])
        good = z > 0
        vmin, vmax = (z[good].min(), z[good].max()) if good.any() else (0, 1)
        sc = ax.scatter(x[good], y[good], c=z[good], cmap="viridis", vmin=vmin, vmax=vmax, s=60, edgecolors="k", zorder=3)
        if (~good).any():
            ax.scatter(x[~good], y[~good], marker="x", c="red", s=60, label="diverged", zorder=3)
        if good.any():
            fig.colorbar(sc, ax=ax, label=f"{OBJECTIVE} (dB, {eval_steps} steps)")
            b = int(np.argmax(np.where(good, z, -np.inf)))
            ax.scatter([x[b]], [y[b]], marker="*", s=400, facecolors="none", edgecolors="red", linewidths=1.5, zorder=4,
                       label=f"best {z[b]:.2f} dB")
        for r, xi, yi in zip(done, x, y):
            k = r.get("inner_steps")
            text = str(r["trial"]) + (f" k={k}" if k not in ("", None) else "")
            ax.annotate(text, (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=7)
        ax.set_xscale("log")
        if not one_d:
            ax.set_yscale("log")
    if mode == "meta" and "paper" not in refs:
        ax.scatter([PAPER_ALPHA], [PAPER_BETA], marker="P", s=120, facecolors="none", edgecolors="orange", zorder=5,
                   label="paper's α, β (not run)")
    for label, ref in refs.items():
        if ref.get("x") is not None and ref.get(OBJECTIVE) is not None:
            yv = ref[OBJECTIVE] if one_d else ref["y"]
            ax.scatter([ref["x"]], [yv], marker="P", s=120, c="orange", edgecolors="k", zorder=5,
                       label=f"{label} {ref[OBJECTIVE]:.2f} dB")
    names = {"alpha": "α (inner step size)", "beta": "β (meta learning rate)", "eta_first": "step size of step 0",
             "eta_then": "step size of steps 1..n-1"}
    ax.set_xlabel(names[xk])
    ax.set_ylabel(OBJECTIVE + " (dB)" if one_d else names[yk])
    space = space or {}
    if xk in space:
        ax.set_xscale("log")
        ax.set_xlim(space[xk][0] / 1.25, space[xk][1] * 1.25)
    if yk in space and not one_d:
        ax.set_yscale("log")
        ax.set_ylim(space[yk][0] / 1.25, space[yk][1] * 1.25)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_formatter(NullFormatter())
    ax.set_title(f"mzsr_tf.tune ({mode}): {len(done)} trials")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def best_trial(tuner):
    best = [t for t in tuner.oracle.get_best_trials(1) if t.score is not None and t.metrics.exists(OBJECTIVE)]
    return best[0] if best else None


def best_config(cfg, values):
    """The base config with the best α, β (and inner steps): full-length meta-training, as configured."""
    c = copy.deepcopy(cfg)
    c.meta.inner_lr = float(values["alpha"])
    c.meta.meta_lr = float(values["beta"])
    if "inner_steps" in values:
        c.meta.inner_steps = int(values["inner_steps"])
    return c.validate()


def write_best(out, tuner, task, settings):
    """best.yaml (meta) or best_step_sizes.yaml (steps); returns its path or None before any trial."""
    import yaml

    trial = best_trial(tuner)
    if trial is None:
        return None
    values = trial.hyperparameters.values
    score = trial.metrics.get_last_value(OBJECTIVE)
    n_done = sum(1 for t in tuner.oracle.trials.values() if t.status == "COMPLETED")
    head = (
        f"# Best of {n_done} trials of `python -m mzsr_tf.tune` ({settings['tuner']}, mode {settings['mode']}): trial {trial.trial_id},\n"
        f"# {OBJECTIVE} = {score:.3f} dB after {settings['eval_steps']} zero-shot steps on {settings['images'] or 'held-out validation images'}.\n"
    )
    if task.mode == "meta":
        path = os.path.join(out, "best.yaml")
        head += (f"# Trials ran {settings['trial_iterations']} meta-iterations each; meta.iterations below is the full run's.\n"
                 f"# Train with: python -m mzsr_tf.train --config {path} --stage meta\n")
        body = config_mod.to_yaml(best_config(task.cfg, values))
    else:
        path = os.path.join(out, "best_step_sizes.yaml")
        sizes = step_sizes_from(values, settings["eval_steps"])
        head += "# Use: mzsr_tf.adapt.zero_shot_sr(params, lr, scale, kernel, subsampling, step_sizes=tuple(step_sizes))\n"
        body = yaml.safe_dump({
            "weights": settings["weights"], "scale": task.cfg.scale, "subsampling": task.cfg.subsampling,
            "steps": settings["eval_steps"], "step_sizes": [float(s) for s in sizes], OBJECTIVE: float(score),
        }, sort_keys=False)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(head + body)
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------ driver


def _progress_line(tuner, trial, total, t_start):
    m = trial.metrics
    get = lambda k: m.get_last_value(k) if m.exists(k) else None
    hp = trial.hyperparameters.values
    shown = "  ".join(f"{k}={hp[k]:.3g}" if isinstance(hp[k], float) else f"{k}={hp[k]}" for k in hp if not k.startswith("tuner/"))
    if trial.status == "COMPLETED":
        res = f"{OBJECTIVE}={get(OBJECTIVE):.3f} dB" + (" (diverged)" if get("diverged") else "")
        if get("val_psnr_step0") is not None and math.isfinite(get("val_psnr_step0")):
            res += f"  step0={get('val_psnr_step0'):.3f}"
        secs = get("seconds") or 0.0
    else:
        last = (trial.message or "").strip().splitlines()[-1:] or [""]
        res, secs = f"{trial.status}: {last[0]}", 0.0
    best = best_trial(tuner)
    best_s = f"best {best.metrics.get_last_value(OBJECTIVE):.3f} (trial {best.trial_id})" if best else ""
    n = len(tuner.oracle.end_order)
    print(f"[tune] trial {n}/{total} id={trial.trial_id}  {shown}  -> {res}  {secs:.0f} s  "
          f"[{(time.monotonic() - t_start) / 60:.1f} min]  {best_s}", flush=True)


def _settings_check(out, settings, overwrite):
    """Refuses to resume a search in DIR that was started with different settings."""
    path = os.path.join(out, "search.json")
    if os.path.exists(path) and not overwrite:
        with open(path) as f:
            old = json.load(f)
        keys = [k for k in settings if k not in ("trials",)]
        diff = [k for k in keys if old.get(k) != settings[k]]
        if diff:
            raise InputError(f"{out} holds a search with other settings ({', '.join(diff)} differ); "
                             "use another --out or pass --overwrite to start afresh")
    with open(path, "w") as f:
        json.dump(settings, f, indent=2)


def search(cfg, out, mode="meta", tuner=None, trials=8, trial_iterations=30, ranges=None, eval_steps=10,
           eval_schedule="reference", kernels_per_image=2, seed=None, weights=None, images_dir=None, kernel=None,
           baseline=False, overwrite=False, progress=True):
    """Runs (or resumes) a search; returns a dict with the best values, score and the written paths.

    Args:
      cfg: a validated training :class:`~mzsr_tf.train.config.Config` (data, scale, initial weights).
      out: output folder.
      mode: 'meta' (train per trial) or 'steps' (test-time step sizes of fixed weights).
      tuner: 'bayesian' (needs scikit-learn), 'random' or 'hyperband' (meta mode only);
        None: bayesian where scikit-learn is installed, else random.
      trials: total trials (a resumed search runs the missing ones).
      trial_iterations: meta-iterations per trial (hyperband: at the full budget).
      ranges: search space overrides {'alpha', 'beta', 'inner_steps', 'eta_first', 'eta_then': (lo, hi)}.
      eval_steps: zero-shot steps n of the objective.
      eval_schedule: meta mode: 'reference' (the paper's test-time step sizes, what upscale uses) or 'alpha'.
      kernels_per_image: p(k) kernels per validation image.
      seed: oracle and validation-kernel seed (default: the config's).
      weights: steps mode: weights to tune for (default: ``meta.init_weights``).
      images_dir: steps mode: evaluation images (default: the config's held-out validation images).
      kernel: a kernel array used for every evaluation image instead of p(k) draws.
      baseline: meta mode: also train with the paper's α = 0.01, β = 1e-4 at the same budget.
      overwrite: start afresh in ``out``.
    """
    ranges = {**DEFAULT_RANGES, **(ranges or {})}
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if tuner is None:
        tuner = default_tuner()
    if tuner not in TUNERS:
        raise InputError(f"tuner must be one of {', '.join(TUNERS)}, got {tuner!r}")
    if tuner == "bayesian" and not has_sklearn():
        raise InputError("--tuner bayesian needs scikit-learn (pip install scikit-learn); or use --tuner random")
    if not isinstance(trials, int) or trials < 1:
        raise InputError(f"--trials must be at least 1, got {trials}")
    if trial_iterations < 1:
        raise InputError(f"--trial-iterations must be at least 1, got {trial_iterations}")
    if eval_steps < 1:
        raise InputError(f"--eval-steps must be at least 1, got {eval_steps}")
    if kernels_per_image < 1:
        raise InputError(f"--val-kernels must be at least 1, got {kernels_per_image}")
    if eval_schedule not in ("reference", "alpha"):
        raise InputError(f"--eval-schedule must be 'reference' or 'alpha', got {eval_schedule!r}")
    if mode == "steps" and tuner == "hyperband":
        raise InputError("hyperband spends a training budget; steps mode trains nothing: use --tuner bayesian or random")
    hp = hyperparameters(mode, ranges, eval_steps)  # checks the ranges before any work
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"{out} exists and is not a folder")
    seed = cfg.seed if seed is None else int(seed)

    from .data.sources import ImagePool, list_images, load_images, split_train_val
    from .model import get_params
    from .weights import load_model

    warn = lambda m: print(m, file=sys.stderr)
    space = {k: list(v) for k, v in ranges.items() if k in hp.values}
    settings = {"mode": mode, "tuner": tuner, "trial_iterations": trial_iterations if mode == "meta" else None,
                "eval_steps": eval_steps, "eval_schedule": eval_schedule if mode == "meta" else None,
                "val_kernels": kernels_per_image, "seed": seed, "space": space, "config": config_mod.to_dict(cfg),
                "weights": weights, "images": images_dir, "trials": trials}
    os.makedirs(out, exist_ok=True)
    if overwrite:  # the tuner removes its own records; these files are ours
        for name in ("references.json", "trials.csv", "objective.png", "best.yaml", "best_step_sizes.yaml"):
            if os.path.exists(os.path.join(out, name)):
                os.remove(os.path.join(out, name))
        shutil.rmtree(os.path.join(out, "baseline"), ignore_errors=True)
    _settings_check(out, settings, overwrite)

    if mode == "meta":
        pool, val = ImagePool.from_config(cfg.data, cfg.meta.patch_size, warn=warn)
        from .train.stages import initial_params

        init = initial_params(cfg, cfg.run_dir, "meta")
        print(f"[tune] {len(pool.images)} training images, {len(val)} held-out validation images", flush=True)
    else:
        if images_dir:
            val = load_images(list_images([images_dir]), 4 * cfg.scale, warn)
        elif cfg.data.shard:
            val = ImagePool.from_config(cfg.data, 0)[1]
        else:
            _, val_paths = split_train_val(list_images(cfg.data.dirs), cfg.data.val_images)
            val = load_images(val_paths, 4 * cfg.scale, warn) if val_paths else []
        init = get_params(load_model(weights or cfg.meta.init_weights, cfg.scale, cfg.subsampling))
        print(f"[tune] {len(val)} evaluation images", flush=True)
    ev = Evaluator(val, cfg.scale, cfg.subsampling, cfg.data.val_crop, cfg.meta.kernel_size, seed, kernels_per_image, kernel)
    if mode == "meta":
        task = MetaTask(cfg, pool, ev, init, trial_iterations, eval_steps, eval_schedule, keep_checkpoints=tuner == "hyperband")
    else:
        task = StepsTask(cfg, ev, init, eval_steps)
    settings["weights"] = weights or cfg.meta.init_weights

    refs = _references(out, task, cfg, eval_steps, baseline, settings)
    t_start = time.monotonic()
    paths = {"csv": os.path.join(out, "trials.csv"), "plot": os.path.join(out, "objective.png")}

    def on_trial_done(tnr, trial):
        if progress:
            _progress_line(tnr, trial, trials, t_start)
        _write_results(out, tnr, task, settings, refs, paths)

    import keras_tuner as kt  # noqa: F401  (imported late: it pulls in TensorFlow)

    oracle = make_oracle(tuner, hp, trials, seed)
    tnr = _tuner_class()(task, on_trial_done, oracle=oracle, directory=out, project_name=PROJECT, overwrite=overwrite)
    oracle.max_trials = trials  # a resumed search may be given more (or fewer) trials than before
    left = trials - len(oracle.end_order)
    if left > 0:
        print(f"[tune] {tuner} search ({mode}): {left} of {trials} trials to run"
              + (f", {trial_iterations} meta-iterations each" if mode == "meta" else ""), flush=True)
    try:
        with warnings.catch_warnings():  # the Gaussian process's fit warnings are noise on a few trials
            warnings.filterwarnings("ignore", module="sklearn")
            tnr.search(verbose=0)
    except kt.errors.FatalError as e:
        raise InputError(str(e)) from None
    _write_results(out, tnr, task, settings, refs, paths)
    best = best_trial(tnr)
    if best is None:
        raise InputError(f"no trial completed; see the messages in {os.path.join(out, PROJECT)}/trial_*/trial.json")
    return {"best_values": dict(best.hyperparameters.values), "best_score": best.metrics.get_last_value(OBJECTIVE),
            "best_trial": best.trial_id, "references": refs, "tuner": tnr, **paths}


def _references(out, task, cfg, eval_steps, baseline, settings):
    """Rows that put the trials in context, cached in DIR/references.json.

    meta: the initial weights untrained ('init'), and with ``baseline`` the paper's α, β trained
    at the trial budget ('paper'). steps: the reference step-size schedule ('reference').
    """
    path = os.path.join(out, "references.json")
    refs = {}
    if os.path.exists(path):
        with open(path) as f:
            refs = json.load(f)
    from .adapt import step_size_schedule

    sched = step_size_schedule(eval_steps, cfg.subsampling, cfg.scale)
    if task.mode == "meta":
        if "init" not in refs:
            refs["init"] = {**task.reference(), "x": None, "y": None, "note": "initial weights, no meta-training"}
        if baseline and "paper" not in refs:
            t0 = time.monotonic()
            print(f"[tune] baseline: the paper's alpha={PAPER_ALPHA}, beta={PAPER_BETA} for {task.trial_iterations} meta-iterations", flush=True)
            m = task.run({"alpha": PAPER_ALPHA, "beta": PAPER_BETA}, os.path.join(out, "baseline"))
            m["seconds"] = time.monotonic() - t0
            refs["paper"] = {**m, "x": PAPER_ALPHA, "y": PAPER_BETA, "note": "paper defaults, same budget"}
            print(f"[tune] baseline: {OBJECTIVE}={m[OBJECTIVE]:.3f} dB  step0={m['val_psnr_step0']:.3f}  {m['seconds']:.0f} s", flush=True)
    elif "reference" not in refs:
        refs["reference"] = {**task.reference(), "x": sched[0], "y": sched[1] if len(sched) > 1 else None,
                             "note": "reference schedule " + ",".join(f"{s:g}" for s in sched)}
    with open(path, "w") as f:
        json.dump(refs, f, indent=2, default=float)
    return refs


def _write_results(out, tnr, task, settings, refs, paths):
    mode = task.mode
    rows = trial_rows(tnr, mode)
    ref_rows = []
    for label, r in refs.items():
        row = {"trial": label, "status": r.get("note", "")}
        if mode == "meta" and label == "paper":
            row.update(alpha=PAPER_ALPHA, beta=PAPER_BETA)
        elif mode == "steps":
            row.update(eta_first=r.get("x", ""), eta_then=r.get("y", "") or "")
        row.update({k: r[k] for k in METRIC_COLUMNS[mode] if k in r})
        ref_rows.append(row)
    write_csv(paths["csv"], rows + ref_rows, ["trial", "status"] + HP_COLUMNS[mode] + METRIC_COLUMNS[mode])
    plot(paths["plot"], rows, mode, refs, settings["eval_steps"], settings["space"])
    best = write_best(out, tnr, task, settings)
    if best:
        paths["best"] = best


# ------------------------------------------------------------------ command


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
    p.add_argument("--config", help="training YAML config (may name a 'preset'); its data, scale and meta.init_weights are used")
    p.add_argument("--preset", choices=sorted(config_mod.PRESETS), help="start from a named preset instead of a YAML file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value (repeatable), e.g. --set meta.tasks_per_batch=2")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (rerun with the same DIR to resume)")
    p.add_argument("--mode", choices=MODES, default="meta", help="meta: tune alpha, beta by short meta-training (default); steps: tune test-time step sizes of fixed weights")
    p.add_argument("--tuner", choices=TUNERS, help="search strategy (default: bayesian where scikit-learn is installed, else random; hyperband: meta mode only)")
    p.add_argument("--trials", type=int, default=8, help="number of trials (default 8)")
    p.add_argument("--trial-iterations", type=int, default=30, help="meta-iterations per trial (default 30; hyperband: at the full budget)")
    p.add_argument("--alpha", metavar="LO,HI", help="range of alpha = meta.inner_lr, log-uniform (default 1e-4,1e-1)")
    p.add_argument("--beta", metavar="LO,HI", help="range of beta = meta.meta_lr, log-uniform (default 1e-5,1e-3)")
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
    if args.config and args.preset:
        raise InputError("give --config or --preset, not both")
    if not args.config and not args.preset:
        raise InputError("give --config FILE (or --preset NAME)")
    cfg = config_mod.load(args.config) if args.config else config_mod.preset(args.preset)
    for s in args.set:
        config_mod.set_override(cfg, s)
    return cfg.validate()


def ranges_from_args(args):
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


def format_rows(csv_path, top=5):
    """The best rows of trials.csv as a small text table (reference rows last)."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    score = lambda r: float(r[OBJECTIVE]) if r.get(OBJECTIVE) not in ("", None) else -1.0
    trials_ = sorted([r for r in rows if r["status"] == "COMPLETED"], key=score, reverse=True)[:top]
    refs = [r for r in rows if r["status"] not in ("COMPLETED", "FAILED", "INVALID", "RUNNING", "IDLE", "STOPPED")]
    cols = [c for c in rows[0].keys() if c != "status" and any(r.get(c) not in ("", None) for r in trials_ + refs)] if rows else []
    lines = ["  ".join(f"{c:>14}" for c in cols)]
    for r in trials_ + refs:
        lines.append("  ".join(f"{r.get(c, ''):>14}" for c in cols))
    return "\n".join(lines)


@guarded
def main(argv=None):
    args = build_parser().parse_args(argv)
    ranges = ranges_from_args(args)
    if args.trials < 1:
        raise InputError(f"--trials must be at least 1, got {args.trials}")
    cfg = resolve_config(args)
    kernel = None
    if args.kernel:
        from .kernels import load_kernel

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


if __name__ == "__main__":
    sys.exit(main())
