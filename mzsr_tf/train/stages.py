"""The two stages of Algorithm 1: bicubic L1 pretraining and meta-transfer learning."""
import math
import os

import numpy as np
from keras import ops

from .. import backend
from ..adapt import adapt_trajectory, l1_loss
from ..data import pipeline
from ..degrade import degrade
from ..kernel_code import grid_size
from ..errors import InputError
from ..model import (add_code_inputs, build_model, code_components, get_params, kernel_pca_of,
                     set_kernel_pca, set_params)
from ..weights import load_model
from .loop import Stage
from .optim import adam_init, adam_update
from .validation import to_numpy, psnr_unadapted, val_crops, validate_blind, validation_kernels


def save_weights(params, path, kernel_pca=None):
    """Writes params (and a kernel-aware network's basis) as a Keras ``.weights.h5`` (loadable under both backends)."""
    size = kernel_pca and grid_size(kernel_pca)
    model = build_model(code_components=code_components(params), **({"kernel_size": size} if size else {}))
    set_params(model, params)
    if kernel_pca is not None:
        set_kernel_pca(model, kernel_pca)
    model.save_weights(path)


# ------------------------------------------------------------------ pretrain


def supervised_step(compute_dtype=None):
    """The compiled L1 + Adam step of the supervised stages: (params, opt, ilr, hr, rate) -> (params, opt, loss)."""

    def step(params, opt, ilr, hr, rate):
        loss, grads = backend.value_and_grad(l1_loss, params, ilr, hr, compute_dtype)
        params, opt = adam_update(params, grads, opt, rate)
        return params, opt, loss

    return backend.compile_fn(step)


def pretrain_learning_rate(cfg, step):
    """Adam learning rate: halved every ``learning_rate_halve_every`` steps, not below the floor, then annealed."""
    p = cfg.pretrain
    held = min(step, p.steps - p.anneal_steps)  # the anneal starts from the rate its first step has
    halved = p.learning_rate * 0.5 ** (held // p.learning_rate_halve_every)
    halved = max(halved, min(p.learning_rate, p.learning_rate_floor))
    return annealed_learning_rate(halved, p.final_learning_rate, p.anneal_steps, p.steps, step)


def annealed_learning_rate(rate, final_rate, anneal_steps, total_steps, step):
    """The rate at ``step``: constant, then a half cosine over the last ``anneal_steps`` steps.

    Args:
      rate: the rate before the anneal.
      final_rate: the rate the anneal reaches at ``total_steps``.
      anneal_steps: how many of the last steps anneal (0: ``rate`` throughout).
      total_steps: the stage's length.
      step: the step (0-based) whose rate is wanted.
    """
    start = total_steps - anneal_steps
    if anneal_steps <= 0 or step < start:
        return rate
    progress = min((step - start) / anneal_steps, 1.0)
    return final_rate + (rate - final_rate) * 0.5 * (1.0 + math.cos(math.pi * progress))


class Pretrain(Stage):
    name = "pretrain"

    def __init__(self, cfg, pool, val_images, init_params=None):
        self.cfg, self.pool, self.val = cfg, pool, val_images
        self.total_steps = cfg.pretrain.steps
        self.init_params = init_params
        self._step = supervised_step(cfg.compute_dtype)

    def init(self):
        import keras

        keras.utils.set_random_seed(self.cfg.seed)
        params = self.init_params or get_params(build_model())
        return {"params": params, "opt": adam_init(params), "extra": {}}

    def batches(self, start_step):
        c, p = self.cfg, self.cfg.pretrain
        if p.resizers:
            sample = lambda i: pipeline.sample_photo_pretrain(self.pool, c.draw_seed, i, p.batch_size, p.patch_size, c.scale,
                                                              p.resizers, p.jpeg_quality, p.jpeg_fraction)
            degrade_fn = lambda lr, hr: pipeline.degrade_photo_pretrain(lr, hr, c.scale)
            return pipeline.batches(sample, degrade_fn, start_step, c.data.parallel_calls)
        sample = lambda i: (pipeline.sample_pretrain(self.pool, c.draw_seed, i, p.batch_size, p.patch_size),)
        return pipeline.batches(sample, lambda hr: pipeline.degrade_pretrain(hr, c.scale), start_step, c.data.parallel_calls)

    def step(self, state, batch, step):
        ilr, hr = batch
        rate = ops.convert_to_tensor(pretrain_learning_rate(self.cfg, step), "float32")
        params, opt, loss = self._step(state["params"], state["opt"], ilr, hr, rate)
        return {"params": params, "opt": opt, "extra": {}}, {"loss/l1": loss, "learning_rate": rate}

    def validate(self, state, step, logger):
        if not self.val:
            return {}
        s, out = self.cfg.scale, []
        for hr in val_crops(self.val, self.cfg.data.val_crop, s):
            hr_t = ops.convert_to_tensor(hr[None].astype(np.float32) / 255.0)
            out.append(psnr_unadapted(state["params"], degrade(hr_t, s, subsampling="bicubic", round_uint8=True), hr, s))
        res = {"val/psnr_bicubic": float(np.mean(out))}
        if self.cfg.pretrain.resizers:
            res["val/psnr_photo"] = self._validate_photo(state["params"])
        return res

    def _validate_photo(self, params):
        """Mean PSNR (0 steps) over the validation crops shrunk by every configured resizer (JPEG at the mid quality)."""
        from ..data.photo import jpeg_roundtrip, shrink

        p, s, out = self.cfg.pretrain, self.cfg.scale, []
        quality = (p.jpeg_quality[0] + p.jpeg_quality[1]) // 2 if p.jpeg_quality and p.jpeg_fraction else None
        for hr in val_crops(self.val, self.cfg.data.val_crop, s):
            for resizer in p.resizers:
                lr = shrink(hr, s, resizer)
                lr = jpeg_roundtrip(lr, quality) if quality else lr
                out.append(psnr_unadapted(params, ops.convert_to_tensor(lr[None].astype(np.float32) / 255.0), hr, s))
        return float(np.mean(out))

    def finish(self, state, out_dir):
        save_weights(state["params"], os.path.join(out_dir, "final.weights.h5"))


# ------------------------------------------------------------------ pretrain (all)


class PretrainAll(Stage):
    """Pre-train (All): supervised L1 on pairs degraded with kernels from p(k).

    Each batch mixes ``kernels_per_batch`` kernels (some unblurred) with
    ``patches_per_kernel`` patches each. It is the paper's blind baseline of
    Figure 3 and, at ~1/40 of a meta-iteration's cost per sample, a cheap start
    for meta-training.
    """

    name = "pretrain_all"

    def __init__(self, cfg, pool, val_images, init_params):
        self.cfg, self.pool, self.val = cfg, pool, val_images
        self.total_steps = cfg.pretrain_all.steps
        self.val_every = cfg.pretrain_all.val_every or cfg.val_every
        self.init_params = init_params
        self.kernel_pca = run_kernel_pca(cfg)
        self._step = supervised_step(cfg.compute_dtype)
        self._val_kernels = validation_kernels(cfg, len(val_images))

    def init(self):
        params = list(self.init_params)
        return {"params": params, "opt": adam_init(params), "extra": {}}

    def batches(self, start_step):
        p = self.cfg.pretrain_all
        return task_batches(self.cfg, self.pool, start_step, p.kernels_per_batch, p.patches_per_kernel, p.patch_size,
                            p.noise_sigma, p.no_blur_fraction, flatten=True, kernel_pca=self.kernel_pca)

    def step(self, state, batch, step):
        ilr, hr = batch
        p = self.cfg.pretrain_all
        rate = annealed_learning_rate(p.learning_rate, p.final_learning_rate, p.anneal_steps, p.steps, step)
        rate = ops.convert_to_tensor(rate, "float32")
        params, opt, loss = self._step(state["params"], state["opt"], ilr, hr, rate)
        return {"params": params, "opt": opt, "extra": {}}, {"loss/l1": loss, "learning_rate": rate}

    def validate(self, state, step, logger):
        return validate_blind(self, state, step, logger)

    def finish(self, state, out_dir):
        save_weights(state["params"], os.path.join(out_dir, "final.weights.h5"), self.kernel_pca)


def task_batches(cfg, pool, start_step, tasks, patches, patch_size, noise_sigma, no_blur_fraction, flatten=False,
                 kernel_pca=None):
    """Batches of tasks from p(k) (plus unblurred ones), degraded in the input pipeline.

    Args:
      flatten: merge the tasks into one batch of pairs (Pre-train (All)).
      kernel_pca: a kernel-aware network's basis: the ILRs carry their kernel's code maps.
    """
    k, aware = cfg.meta.kernel_size, cfg.kernel_aware
    jitter = kernel_pca is not None and aware.code_jitter > 0 and aware.code_jitter_fraction > 0

    def sample(i):
        drawn = pipeline.sample_tasks(pool, cfg.draw_seed, i, tasks, patches, patch_size, cfg.scale, noise_sigma,
                                      no_blur_fraction, aware.lambda_min)
        if not jitter:
            return drawn
        return drawn + pipeline.sample_told_kernels(cfg.draw_seed, i, drawn[1], drawn[2], aware.code_jitter,
                                                    aware.code_jitter_fraction)

    def degrade_fn(hr, kparams, blurred, noise, noise_seed, *told):
        out = pipeline.degrade_tasks(hr, kparams, blurred, noise, noise_seed, cfg.scale, cfg.subsampling, k, tasks,
                                     kernel_pca, *told)
        return pipeline.flatten_tasks(*out) if flatten else out

    return pipeline.batches(sample, degrade_fn, start_step, cfg.data.parallel_calls)


# ------------------------------------------------------------------ meta


def msl_weights(n, iteration, anneal_iterations, enabled=True):
    """MAML++ multi-step loss weights: uniform at first, annealed to the last step.

    Non-final weights fall linearly from 1/n to a floor of 0.03/n over
    ``anneal_iterations``; the final weight takes up the rest, so the weights
    always sum to 1. The reference code meant to do this but its iteration
    counter never advanced; here the iteration is an argument.
    """
    w = np.full(n, 1.0 / n, np.float32)
    if not enabled:
        w[:] = 0.0
        w[-1] = 1.0
        return w
    if n == 1:
        return w
    decay = (1.0 / n) / max(anneal_iterations, 1)
    floor = 0.03 / n
    w[:-1] = np.maximum(1.0 / n - iteration * decay, floor)
    w[-1] = 1.0 - w[:-1].sum()
    return w


class Meta(Stage):
    name = "meta"

    def __init__(self, cfg, pool, val_images, init_params):
        self.cfg, self.pool, self.val = cfg, pool, val_images
        self.total_steps = cfg.meta.iterations
        self.init_params = init_params
        self.kernel_pca = run_kernel_pca(cfg)
        m = cfg.meta
        self.anneal = m.msl_iterations or max(m.iterations // 2, 1)
        # Two compiled steps: first-order ones for the warm-up iterations, then the configured order.
        self._steps = {order: backend.compile_fn(lambda *a, fo=order: self._meta_step(*a, first_order=fo))
                       for order in {True, m.first_order}}
        self._val_kernels = validation_kernels(cfg, len(val_images))

    def init(self):
        m = self.cfg.meta
        params = list(self.init_params)
        extra = {}
        trainable = params
        if m.learn_inner_step_sizes:
            extra["inner_step_sizes"] = [ops.full((m.inner_steps, len(params)), m.inner_step_size)]
            trainable = params + extra["inner_step_sizes"]
        return {"params": params, "opt": adam_init(trainable), "extra": extra}

    def batches(self, start_step):
        m = self.cfg.meta
        return task_batches(self.cfg, self.pool, start_step, m.tasks_per_batch, m.patches_per_task, m.patch_size,
                            m.noise_sigma, m.no_blur_fraction, kernel_pca=self.kernel_pca)

    def meta_loss(self, trainable, ilr, hr, weights, first_order=False):
        """Mean over tasks of the weighted D_te losses after each inner step."""
        m, dtype = self.cfg.meta, self.cfg.compute_dtype
        n_model = len(trainable) - (1 if m.learn_inner_step_sizes else 0)
        params = trainable[:n_model]
        half = m.patches_per_task // 2
        per_step = [0.0] * m.inner_steps
        for t in range(m.tasks_per_batch):
            if m.learn_inner_step_sizes:
                learned = trainable[-1]
                sizes = [[learned[j, i] for i in range(n_model)] for j in range(m.inner_steps)]
            else:
                sizes = [m.inner_step_size] * m.inner_steps
            _, traj = adapt_trajectory(params, ilr[t, :half], hr[t, :half], sizes, first_order=first_order,
                                       compute_dtype=dtype)
            for j, fast in enumerate(traj):
                per_step[j] = per_step[j] + l1_loss(fast, ilr[t, half:], hr[t, half:], dtype) / m.tasks_per_batch
        total = sum(weights[j] * per_step[j] for j in range(m.inner_steps))
        return total, ops.stack(per_step)

    def _meta_step(self, trainable, opt, ilr, hr, weights, rate, first_order=False):
        (loss, per_step), grads = backend.value_and_grad(self.meta_loss, trainable, ilr, hr, weights, first_order,
                                                         has_aux=True)
        trainable, opt = adam_update(trainable, grads, opt, rate)
        return trainable, opt, loss, per_step

    def step(self, state, batch, step):
        m = self.cfg.meta
        ilr, hr = batch
        w = ops.convert_to_tensor(msl_weights(m.inner_steps, step, self.anneal, m.multi_step_loss))
        trainable = state["params"] + state["extra"].get("inner_step_sizes", [])
        first_order = m.first_order or step < m.first_order_iterations
        trainable, opt, loss, per_step = self._steps[first_order](trainable, state["opt"], ilr, hr, w,
                                                                  ops.convert_to_tensor(m.meta_learning_rate, "float32"))
        n = len(state["params"])
        extra = {"inner_step_sizes": trainable[n:]} if m.learn_inner_step_sizes else {}
        metrics = {"loss/meta": loss}
        for j in range(m.inner_steps):
            metrics[f"loss/after_step_{j + 1}"] = per_step[j]
        metrics["learning_rate/meta"] = m.meta_learning_rate
        metrics["msl/last_weight"] = float(w[-1])
        metrics["meta/second_order"] = 0.0 if first_order else 1.0
        extra.update(self._averaged(state["extra"], trainable[:n], step + 1))
        return {"params": trainable[:n], "opt": opt, "extra": extra}, metrics

    def _averaged(self, extra, params, done):
        """The running mean of the weights (extra ``average``, ``average_count``) after iteration ``done``."""
        m = self.cfg.meta
        kept = {k: extra[k] for k in ("average", "average_count") if k in extra}
        if not m.average_from or done < m.average_from or (done - m.average_from) % m.average_every:
            return kept
        if "average" not in kept:
            return {"average": list(params), "average_count": [ops.convert_to_tensor(1.0)]}
        count = kept["average_count"][0] + 1.0
        return {"average": [a + (p - a) / count for a, p in zip(kept["average"], params)],
                "average_count": [count]}

    def validate(self, state, step, logger):
        res = validate_blind(self, state, step, logger)
        if state["extra"].get("average"):
            res.update(validate_blind(self, {"params": state["extra"]["average"]}, step, logger, prefix="val_avg"))
            res["val_avg/count"] = float(to_numpy(state["extra"]["average_count"][0]))
        return res

    def finish(self, state, out_dir):
        save_weights(state["params"], os.path.join(out_dir, "final.weights.h5"), self.kernel_pca)
        if state["extra"].get("average"):
            save_weights(state["extra"]["average"], os.path.join(out_dir, "average.weights.h5"), self.kernel_pca)
        if state["extra"].get("inner_step_sizes"):
            np.save(os.path.join(out_dir, "inner_step_sizes.npy"), to_numpy(state["extra"]["inner_step_sizes"][0]))


STAGE_CLASSES = {"pretrain": Pretrain, "pretrain_all": PretrainAll, "meta": Meta}


def initial_params(cfg, run_dir, stage_name):
    """Starting weights of a stage: its ``init_weights`` (name or path), else the previous stage's result.

    Args:
      stage_name: 'pretrain' (only with ``pretrain.init_weights``), 'pretrain_all' or 'meta'.
    """
    src = getattr(cfg, stage_name).init_weights
    if not src:
        earlier = cfg.stages[: cfg.stages.index(stage_name)] if stage_name in cfg.stages else ["pretrain"]
        prev = earlier[-1] if earlier else "pretrain"
        src = os.path.join(run_dir, prev, "final.weights.h5")
    model = load_model(src, cfg.scale, cfg.subsampling)
    params = get_params(model)
    t = cfg.kernel_aware.components
    if t and code_components(params) == 0:
        return add_code_inputs(params, t)
    if code_components(params) != t:
        raise InputError(f"{src}: the network takes {code_components(params)} kernel code maps, the config "
                         f"kernel_aware.components={t}")
    carried = kernel_pca_of(model)
    if carried is not None and not os.path.isfile(kernel_pca_path(cfg)):
        os.makedirs(cfg.run_dir, exist_ok=True)
        np.savez(kernel_pca_path(cfg), mean=carried[0], basis=carried[1])
    elif carried is not None and not all(np.shape(a) == np.shape(b) and np.allclose(a, b)
                                                for a, b in zip(carried, run_kernel_pca(cfg))):
        # weights trained on one basis, told codes of another, would be silently wrong
        raise InputError(f"{src}: its kernel basis differs from the run's ({kernel_pca_path(cfg)})")
    return params


def kernel_pca_path(cfg):
    return os.path.join(cfg.run_dir, "kernel_pca.npz")


def run_kernel_pca(cfg):
    """The run's kernel basis (mean, basis), or None for the paper's network.

    Fitted once to the run's training kernels and kept in ``RUN_DIR/kernel_pca.npz``
    (with the run state), so a resumed run and every stage use the same one.
    """
    t = cfg.kernel_aware.components
    if not t:
        return None
    path = kernel_pca_path(cfg)
    if not os.path.isfile(path):
        from ..kernel_code import fit_pca

        k, nb = cfg.kernel_aware, cfg.pretrain_all.no_blur_fraction
        mean, basis, explained = fit_pca(cfg.scale, t, k.lambda_min, nb, k.basis_samples, cfg.meta.kernel_size,
                                         cfg.seed)
        os.makedirs(cfg.run_dir, exist_ok=True)
        np.savez(path, mean=mean, basis=basis, explained=explained)
    with np.load(path) as z:
        return z["mean"], z["basis"]
