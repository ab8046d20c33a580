"""The search: a KerasTuner ``Tuner`` whose trial is our task, the oracle, the resumable loop."""
import json
import os
import shutil
import sys
import time
import warnings

from ..errors import InputError
from ..train import config as config_mod
from . import report
from .objective import Evaluator, MetaTask, StepsTask
from .space import (DEFAULT_RANGES, HYPERBAND_FACTOR, HYPERBAND_MAX_EPOCHS, MODES, OBJECTIVE, PAPER_ALPHA, PAPER_BETA,
                    hyperparameters)

PROJECT = "keras_tuner"
TUNERS = ("bayesian", "random", "hyperband")
# our own files in DIR (the tuner removes its own records on overwrite)
OUR_FILES = ("references.json", "trials.csv", "objective.png", "best.yaml", "best_step_sizes.yaml")


def _tuner_class():
    # defined on first use: keras_tuner pulls in TensorFlow, which `--help` should not wait for
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
    """Whether scikit-learn (KerasTuner's Gaussian process) is installed."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def default_tuner():
    """'bayesian' where scikit-learn is installed, else 'random'."""
    return "bayesian" if has_sklearn() else "random"


def make_oracle(kind, hp, trials, seed):
    """A KerasTuner oracle maximising the objective.

    Args:
      kind: 'bayesian', 'random' or 'hyperband'.
      hp: the search space (``kt.HyperParameters``).
      trials: the most trials to run.
      seed: the oracle's seed.
    """
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


def _check_arguments(mode, tuner, trials, trial_iterations, eval_steps, kernels_per_image, eval_schedule):
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
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


def _make_task(cfg, mode, evaluation, trial_iterations, eval_steps, eval_schedule, weights, images_dir, keep_checkpoints):
    """Loads the images and starting weights a mode needs; returns its task.

    Args:
      evaluation: keyword arguments of :class:`Evaluator` other than the images and the config's.
    """
    from ..data.sources import ImagePool, list_images, load_images, split_train_val

    warn = lambda m: print(m, file=sys.stderr)
    if mode == "meta":
        from ..train.stages import initial_params, run_kernel_pca

        pool, val = ImagePool.from_config(cfg.data, cfg.meta.patch_size, warn=warn)
        init = initial_params(cfg, cfg.run_dir, "meta")
        kernel_pca = run_kernel_pca(cfg)
        print(f"[tune] {len(pool.images)} training images, {len(val)} held-out validation images", flush=True)
    else:
        from ..model import get_params, kernel_pca_of
        from ..weights import load_model

        if images_dir:
            val = load_images(list_images([images_dir]), 4 * cfg.scale, warn)
        elif cfg.data.shard:
            val = ImagePool.from_config(cfg.data, 0)[1]
        else:
            _, val_paths = split_train_val(list_images(cfg.data.dirs), cfg.data.val_images)
            val = load_images(val_paths, 4 * cfg.scale, warn) if val_paths else []
        model = load_model(weights or cfg.meta.init_weights, cfg.scale, cfg.subsampling)
        init, kernel_pca = get_params(model), kernel_pca_of(model)
        print(f"[tune] {len(val)} evaluation images", flush=True)
    ev = Evaluator(val, cfg.scale, cfg.subsampling, cfg.data.val_crop, cfg.meta.kernel_size, **evaluation)
    ev.kernel_pca = kernel_pca
    if mode == "meta":
        return MetaTask(cfg, pool, ev, init, trial_iterations, eval_steps, eval_schedule, keep_checkpoints)
    return StepsTask(cfg, ev, init, eval_steps)


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
    if tuner is None:
        tuner = default_tuner()
    _check_arguments(mode, tuner, trials, trial_iterations, eval_steps, kernels_per_image, eval_schedule)
    hp = hyperparameters(mode, ranges, eval_steps)  # checks the ranges before any work
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"{out} exists and is not a folder")
    seed = cfg.seed if seed is None else int(seed)

    space = {k: list(v) for k, v in ranges.items() if k in hp.values}
    settings = {"mode": mode, "tuner": tuner, "trial_iterations": trial_iterations if mode == "meta" else None,
                "eval_steps": eval_steps, "eval_schedule": eval_schedule if mode == "meta" else None,
                "val_kernels": kernels_per_image, "seed": seed, "space": space, "config": config_mod.to_dict(cfg),
                "weights": weights, "images": images_dir, "trials": trials}
    os.makedirs(out, exist_ok=True)
    if overwrite:
        for name in OUR_FILES:
            if os.path.exists(os.path.join(out, name)):
                os.remove(os.path.join(out, name))
        shutil.rmtree(os.path.join(out, "baseline"), ignore_errors=True)
    _settings_check(out, settings, overwrite)

    evaluation = {"seed": seed, "kernels_per_image": kernels_per_image, "kernel": kernel}
    task = _make_task(cfg, mode, evaluation, trial_iterations, eval_steps, eval_schedule, weights, images_dir,
                      keep_checkpoints=tuner == "hyperband")
    settings["weights"] = weights or cfg.meta.init_weights
    refs = references(out, task, baseline)
    t_start = time.monotonic()
    paths = {"csv": os.path.join(out, "trials.csv"), "plot": os.path.join(out, "objective.png")}

    def on_trial_done(tnr, trial):
        if progress:
            report.progress_line(tnr, trial, trials, t_start)
        report.write_results(out, tnr, task, settings, refs, paths)

    import keras_tuner as kt

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
    report.write_results(out, tnr, task, settings, refs, paths)
    best = report.best_trial(tnr)
    if best is None:
        raise InputError(f"no trial completed; see the messages in {os.path.join(out, PROJECT)}/trial_*/trial.json")
    return {"best_values": dict(best.hyperparameters.values), "best_score": best.metrics.get_last_value(OBJECTIVE),
            "best_trial": best.trial_id, "references": refs, "tuner": tnr, **paths}


def references(out, task, baseline=False):
    """Rows that put the trials in context, cached in DIR/references.json.

    meta: the initial weights untrained ('init'), and with ``baseline`` the paper's α, β trained
    at the trial budget ('paper'). steps: the reference step-size schedule ('reference').

    Args:
      out: the search folder.
      task: the search's :class:`MetaTask` or :class:`StepsTask`.
      baseline: meta mode: also train the paper's α, β (once; the result is cached).
    """
    path = os.path.join(out, "references.json")
    refs = {}
    if os.path.exists(path):
        with open(path) as f:
            refs = json.load(f)
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
        sched = task.reference_schedule()
        refs["reference"] = {**task.reference(), "x": sched[0], "y": sched[1] if len(sched) > 1 else None,
                             "note": "reference schedule " + ",".join(f"{s:g}" for s in sched)}
    with open(path, "w") as f:
        json.dump(refs, f, indent=2, default=float)
    return refs
