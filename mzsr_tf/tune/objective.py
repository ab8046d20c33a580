"""What a trial measures: the validation objective and the two kinds of trial (meta, steps)."""
import csv
import math
import os
import shutil

import numpy as np

from ..errors import InputError
from .space import HYPERBAND_MAX_EPOCHS, OBJECTIVE, step_sizes_from, with_values


class Evaluator:
    """Mean Y-PSNR after zero-shot adaptation (Algorithm 2) on fixed (HR crop, kernel) pairs.

    The pairs are built once, so every trial is scored on the same inputs.
    Algorithm 2 itself is :func:`mzsr_tf.adapt.zero_shot_sr`, whose compile
    cache serves every trial.

    Args:
      images: uint8 HR images [H, W, 3].
      scale: integer scale.
      subsampling: 'direct' or 'bicubic'.
      crop: side of the centre crop taken from each image.
      kernel_size: side of the p(k) kernels.
      seed: seed of the p(k) draws.
      kernels_per_image: p(k) kernels per image.
      kernel: one kernel for every image instead of p(k) draws, or None.
    """

    kernel_pca = None  # (mean, basis) when the weights evaluated are a kernel-aware network's

    def __init__(self, images, scale, subsampling, crop, kernel_size, seed, kernels_per_image=2, kernel=None):
        from keras import ops

        from ..degrade import degrade
        from ..kernels import random_kernel_np
        from ..train.validation import val_crops

        if not images:
            raise InputError("no validation images: set data.val_images >= 1 (with more training images than that) or pass --images")
        self.scale, self.subsampling = scale, subsampling
        self.pairs = []
        for i, (img, hr) in enumerate(zip(images, val_crops(images, crop, scale))):
            if min(hr.shape[:2]) < 4 * scale:
                raise InputError(f"validation image {i} is too small ({img.shape[1]}x{img.shape[0]})")
            kernels = [kernel] if kernel is not None else [
                random_kernel_np(scale, np.random.default_rng([seed, 99, i, j]), kernel_size) for j in range(kernels_per_image)
            ]
            hr_t = ops.convert_to_tensor(hr[None].astype(np.float32) / 255.0)
            for k in kernels:
                lr = degrade(hr_t, scale, kernel=k, subsampling=subsampling, round_uint8=True)
                self.pairs.append((hr, lr, ops.convert_to_tensor(k, "float32")))

    def psnr(self, params, step_sizes):
        """Mean PSNR (dB, Y, border ``scale``) over all pairs after ``len(step_sizes)`` steps.

        Args:
          params: the weights θ to adapt from.
          step_sizes: one step size per step (empty: no adaptation).

        Returns:
          The mean PSNR, or NaN if any output is not finite (a diverged setting).
        """
        from keras import ops

        from ..adapt import zero_shot_sr
        from ..metrics import psnr

        sizes = tuple(float(s) for s in step_sizes)
        out = []
        for hr, lr, k in self.pairs:
            sr = np.asarray(ops.convert_to_numpy(zero_shot_sr(params, lr, self.scale, k, self.subsampling, sizes,
                                                              kernel_pca=self.kernel_pca)))[0]
            if not np.all(np.isfinite(sr)):
                return float("nan")
            out.append(psnr(sr, hr, crop_border=self.scale, y_channel=True))
        return float(np.mean(out))


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


class _Task:
    """What both kinds of trial share: the config, the evaluator, the starting weights."""

    def __init__(self, cfg, evaluator, params, eval_steps):
        self.cfg, self.ev, self.params, self.eval_steps = cfg, evaluator, params, eval_steps

    def reference_schedule(self):
        from ..adapt import step_size_schedule

        return step_size_schedule(self.eval_steps, self.cfg.subsampling, self.cfg.scale)

    def reference(self):
        """The starting weights as they are, with the reference schedule: context for the table."""
        return {OBJECTIVE: self.ev.psnr(self.params, self.reference_schedule()),
                "val_psnr_step0": self.ev.psnr(self.params, [])}


class MetaTask(_Task):
    """Meta mode: a short meta-training run per trial, then the validation objective.

    Args:
      cfg: the validated base training config.
      pool: the training :class:`~mzsr_tf.data.sources.ImagePool`.
      evaluator: an :class:`Evaluator`.
      init_params: the weights every trial starts from.
      trial_iterations: meta-iterations per trial (hyperband: at the full budget).
      eval_steps: zero-shot steps of the objective.
      eval_schedule: 'reference' (the paper's step sizes) or 'alpha' (α for every step).
      keep_checkpoints: keep each trial's checkpoint (hyperband continues from them).
    """

    mode = "meta"

    def __init__(self, cfg, pool, evaluator, init_params, trial_iterations, eval_steps, eval_schedule, keep_checkpoints=False):
        super().__init__(cfg, evaluator, init_params, eval_steps)
        self.pool, self.trial_iterations, self.eval_schedule = pool, trial_iterations, eval_schedule
        self.keep_checkpoints = keep_checkpoints

    def trial_config(self, values, iterations, run_dir):
        c = with_values(self.cfg, values)
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

    def run(self, values, run_dir, resume_from=None):
        """Meta-trains with the trial's values in ``run_dir``; returns the trial's metrics.

        Args:
          values: hyperparameter values (alpha, beta, optional inner_steps, tuner/epochs).
          run_dir: the trial's folder (training logs, checkpoint).
          resume_from: hyperband: the folder of the same setting's lower rung.
        """
        from ..train.loop import run as run_stage
        from ..train.stages import Meta

        iterations = self.iterations_for(values)
        cfg = self.trial_config(values, iterations, run_dir)
        os.makedirs(run_dir, exist_ok=True)
        ckpt = os.path.join(run_dir, "checkpoint.npz")
        if resume_from and not os.path.exists(ckpt) and os.path.exists(os.path.join(resume_from, "checkpoint.npz")):
            shutil.copy(os.path.join(resume_from, "checkpoint.npz"), ckpt)  # hyperband: continue the lower rung
        stage = Meta(cfg, self.pool, [], self.params)
        state, _, _ = run_stage(stage, cfg, run_dir, max_minutes=None, progress=False)
        if not self.keep_checkpoints and os.path.exists(ckpt):
            os.remove(ckpt)
        params = state["params"]
        metrics = {"meta_iterations": float(iterations),
                   "loss_meta_last": _last_logged(os.path.join(run_dir, "logs", "metrics.csv"), "loss/meta")}
        if not _finite(params):
            nan = float("nan")
            metrics.update({"val_psnr_step0": nan, "val_psnr_ref": nan, "val_psnr_alpha": nan, "diverged": 1.0})
        else:
            metrics.update({
                "val_psnr_step0": self.ev.psnr(params, []),
                "val_psnr_ref": self.ev.psnr(params, self.reference_schedule()),
                "val_psnr_alpha": self.ev.psnr(params, [cfg.meta.inner_step_size] * self.eval_steps),
                "diverged": 0.0,
            })
        obj = metrics["val_psnr_ref" if self.eval_schedule == "reference" else "val_psnr_alpha"]
        if not math.isfinite(obj):
            metrics["diverged"] = 1.0
            obj = 0.0  # a diverged run is a (very) bad result, not a missing one: the oracle learns to avoid it
        metrics[OBJECTIVE] = obj
        return metrics


class StepsTask(_Task):
    """Steps mode: fixed weights; a trial is the test-time step sizes.

    Args:
      cfg: the validated base training config (scale, subsampling).
      evaluator: an :class:`Evaluator`.
      params: the fixed weights.
      eval_steps: zero-shot steps of the objective.
    """

    mode = "steps"

    def run(self, values, run_dir=None, resume_from=None):
        v = self.ev.psnr(self.params, step_sizes_from(values, self.eval_steps))
        return {OBJECTIVE: v if math.isfinite(v) else 0.0, "diverged": 0.0 if math.isfinite(v) else 1.0}
