"""The ZSSR baseline (Shocher, Cohen, Irani, CVPR 2018) on the MZSR network.

ZSSR trains the same 8-layer network from scratch on the test image alone:

* **HR fathers**: the LR image and copies of it downscaled (MATLAB bicubic) by
  ``father_scales`` (1.0, 0.9, ..., 0.5). Each iteration draws one father with
  probability proportional to its area, so the unscaled image is drawn most.
* **Crop and augmentation**: a random square crop of ``crop_size`` (128, or the
  father's smaller side, rounded down to a multiple of s), then one of the 8
  dihedral transforms (rotations by 90°, with/without flip), uniformly.
* **LR son**: the crop degraded with the given kernel and subsampling
  (``degrade``), brought back up with MATLAB bicubic; the network learns
  ILR(son) → crop with an L1 loss.
* **Optimiser**: Adam (β1 0.9, β2 0.999, ε 1e-8), learning rate 1e-3, batch 1,
  written in ``keras.ops`` and compiled with the train step (TF or JAX).
* **Learning-rate policy** (our exact rule, :class:`LRPolicy`): every
  ``test_every`` = 50 iterations the *reconstruction error* is measured: the MSE
  between f(ILR(son of the whole LR image)) and the LR image. Every
  ``check_every`` = 60 iterations, and only when at least ``min_iters`` = 256
  iterations have passed since the last drop (or the start), a straight line
  e = a + b·t is fitted by least squares to the errors measured during the
  last ``slope_range`` = 256 iterations (5 points); σ_b is the standard error
  of the slope (residual variance with n - 2 degrees of freedom). If
  ``-change_ratio · b < σ_b`` (ratio 1.5: the error is no longer falling by a
  clear margin relative to the fit's uncertainty) the rate is divided by 10.
* **Stopping**: when the rate falls below ``min_learning_rate`` = 9e-6 (i.e.
  after three drops: 1e-3 → 1e-4 → 1e-5 → stop, so 1e-5 is the last rate
  used) or after ``max_iters`` = 3000 iterations, whichever first.
* **Output**: clip(f(ILR(LR))), or with ``ensemble`` (on by default, as in
  ZSSR) the 8 dihedral variants, each back-projected ``back_projection_iters``
  = 10 times against the LR image, their median, back-projected once more.
* **Precision**: float32 (``compute_dtype='bfloat16'`` runs the convolutions
  in bfloat16 with float32 weights and Adam state; not ZSSR's own setting).
* **Initialisation**: zero biases, conv kernels ~ N(0, 0.1 / fan_in) — small,
  so the untrained residual network starts close to the bicubic ILR.

Not reproduced from ZSSR: gradual intermediate scales (×2 is one step anyway),
non-right-angle rotations/shears of the fathers, and added noise on the sons.

Everything is seeded: the weights' initialisation and the NumPy generator that
draws fathers, crops and transforms come from ``seed``.
"""
import dataclasses
import math
import time

import numpy as np
import keras
from keras import ops

from . import backend
from .adapt import l1_loss, son_input, upscale_sr
from .ensemble import back_project, inverse, transform
from .model import DEPTH, WIDTH, CHANNELS, forward
from .resize import imresize
from .train.optim import adam_init, adam_update


@dataclasses.dataclass
class ZSSRConfig:
    """ZSSR hyper-parameters (defaults as in the ZSSR paper's released configuration)."""

    # when to stop: the iteration cap, or the rate falling below its floor
    max_iters: int = 3000
    learning_rate: float = 1e-3
    min_learning_rate: float = 9e-6
    # the rate policy: every check_every its, a line fitted to the reconstruction errors of the
    # last slope_range its (measured every test_every); divide by 10 when it no longer falls clearly
    min_iters: int = 256
    check_every: int = 60
    test_every: int = 50
    slope_range: int = 256
    change_ratio: float = 1.5
    # what each iteration sees: one crop of a father drawn by area
    crop_size: int = 128
    father_scales: tuple = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
    # the output stage
    ensemble: bool = True
    back_projection_iters: int = 10
    # the network (Adam keeps its usual β1 0.9, β2 0.999, ε 1e-8: train.optim's defaults)
    init_variance: float = 0.1
    compute_dtype: str = None


# --------------------------------------------------------------------------- weights, Adam


def init_params(seed=0, depth=DEPTH, width=WIDTH, channels=CHANNELS, variance=0.1):
    """Random weights [w0, b0, ..., w7, b7]: kernels ~ N(0, variance / fan_in), zero biases."""
    params = []
    cin = channels
    for i in range(depth):
        cout = channels if i == depth - 1 else width
        std = math.sqrt(variance / (3 * 3 * cin))
        init = keras.initializers.RandomNormal(stddev=std, seed=seed * 1000 + i)
        params.append(ops.convert_to_tensor(init((3, 3, cin, cout), dtype="float32")))
        params.append(ops.zeros((cout,), "float32"))
        cin = cout
    return params


# --------------------------------------------------------------------------- fathers and sons


def make_fathers(lr, scale, father_scales=ZSSRConfig.father_scales, crop_size=128, min_side=None):
    """The HR fathers: the LR image and its bicubic-downscaled copies, as [h, w, C] arrays.

    A copy is kept only when its crop side (see :func:`crop_side`) is at least
    ``min_side`` (default 4·s), so every father can still have a son.

    Returns:
      (fathers, probs): list of float32 arrays and their sampling probabilities
      (proportional to area).
    """
    lr = np.asarray(ops.convert_to_numpy(lr), np.float32)
    if lr.ndim == 4:
        lr = lr[0]
    min_side = 4 * scale if min_side is None else min_side
    fathers = []
    for f in father_scales:
        if f == 1.0:
            img = lr
        else:
            img = np.asarray(ops.convert_to_numpy(imresize(lr[None], float(f))))[0]
        if crop_side(img.shape, crop_size, scale) >= min_side:
            fathers.append(np.clip(img, 0.0, 1.0).astype(np.float32))
    if not fathers:
        fathers = [lr]
    areas = np.array([f.shape[0] * f.shape[1] for f in fathers], np.float64)
    return fathers, areas / areas.sum()


def crop_side(shape, crop_size, scale):
    """The side of the square crops taken from an image of ``shape``: min(crop, h, w), a multiple of s."""
    side = min(int(crop_size), int(shape[0]), int(shape[1]))
    return max(side // scale * scale, scale)


def sample_crop(fathers, probs, crop_size, scale, rng):
    """One training example: a father by area, a random square crop, a random dihedral transform.

    Returns:
      (crop [1, c, c, C] float32, (father index, top, left, transform k)).
    """
    i = int(rng.choice(len(fathers), p=probs))
    img = fathers[i]
    c = crop_side(img.shape, crop_size, scale)
    top = int(rng.integers(0, img.shape[0] - c + 1))
    left = int(rng.integers(0, img.shape[1] - c + 1))
    k = int(rng.integers(0, 8))
    crop = img[None, top : top + c, left : left + c]
    crop = np.ascontiguousarray(ops.convert_to_numpy(transform(crop, k)))
    return crop.astype(np.float32), (i, top, left, k)


# --------------------------------------------------------------------------- LR policy


class LRPolicy:
    """ZSSR's error-driven learning-rate schedule (the rule is in the module docstring).

    Call :meth:`record` with each reconstruction error, :meth:`step` once per
    iteration (after it ran); read :attr:`rate` and :attr:`done`.
    """

    def __init__(self, config=None):
        self.config = config or ZSSRConfig()
        self.rate = float(self.config.learning_rate)
        self.last_change = 0
        self.changes = []  # iterations at which the rate dropped
        self.errors = []  # (iteration, reconstruction error)

    @property
    def done(self):
        return self.rate < self.config.min_learning_rate

    def record(self, iteration, error):
        self.errors.append((int(iteration), float(error)))

    def slope(self, iteration):
        """(slope, std of slope) of a line through the errors of the last slope_range iterations."""
        pts = [(t, e) for t, e in self.errors if t > iteration - self.config.slope_range]
        if len(pts) < 3:
            return None
        t = np.array([p[0] for p in pts], np.float64)
        e = np.array([p[1] for p in pts], np.float64)
        tc = t - t.mean()
        sxx = float(np.sum(tc * tc))
        if sxx == 0.0:
            return None
        b = float(np.sum(tc * (e - e.mean())) / sxx)
        resid = e - (e.mean() + b * tc)
        var_b = float(np.sum(resid * resid)) / (len(pts) - 2) / sxx
        return b, math.sqrt(var_b)

    def step(self, iteration):
        """Applies the rule after iteration ``iteration`` (0-based); returns True on a drop."""
        c = self.config
        if (iteration + 1) % c.check_every or iteration - self.last_change <= c.min_iters:
            return False
        fit = self.slope(iteration)
        if fit is None:
            return False
        b, std = fit
        if -c.change_ratio * b < std:
            self.rate /= 10.0
            self.last_change = iteration
            self.changes.append(iteration)
            return True
        return False


# --------------------------------------------------------------------------- compiled steps

def adam_step_fn(scale, subsampling, compute_dtype=None, coded=False):
    """Compiled ``(params, opt, rate, lr, kernel[, code]) -> (loss, params, opt)``: one Adam step on L1(f(ILR(son)), LR).

    ZSSR takes it on random crops; Figure 3's Adam-adapted baselines on the whole image.

    Args:
      coded: the network is kernel-aware: the step takes the kernel's code [t] last.
    """
    def run(params, opt, rate, crop, kernel, *code):
        x = son_input(crop, scale, kernel, subsampling, code=code[0] if code else None)
        loss, grads = backend.value_and_grad(l1_loss, params, x, crop, compute_dtype)
        params, opt = adam_update(params, grads, opt, rate)
        return loss, params, opt

    key = ("zssr_train", scale, subsampling, compute_dtype or "float32") + (("coded",) if coded else ())
    return backend.cached_compile(key, lambda: run)


def _rec_error_fn(scale, subsampling, compute_dtype=None):
    def run(params, lr, kernel):
        sr = ops.clip(forward(params, son_input(lr, scale, kernel, subsampling), compute_dtype), 0.0, 1.0)
        return ops.mean(ops.square(sr - lr))

    return backend.cached_compile(("zssr_rec", scale, subsampling, compute_dtype or "float32"), lambda: run)


def kernel_arg(kernel):
    """No kernel is the 1×1 identity kernel, so one compiled graph serves both."""
    return ops.convert_to_tensor(np.asarray([[1.0]] if kernel is None else kernel, np.float32))


def _as_batch(lr):
    lr = ops.convert_to_tensor(lr, "float32")
    if len(ops.shape(lr)) == 3:
        lr = lr[None]
    return lr


# --------------------------------------------------------------------------- the procedure


def train(lr, scale=2, kernel=None, subsampling="direct", config=None, seed=0, params=None, progress=None,
          on_test=None):
    """Trains the network on the LR image alone (ZSSR). Returns (params, history).

    Args:
      lr: [1, H, W, C] (or [H, W, C]) float in [0, 1].
      scale: integer SR scale.
      kernel: [k, k] blur kernel of the degradation, or None (no blur).
      subsampling: 'direct' or 'bicubic' (how the sons are made).
      config: :class:`ZSSRConfig`.
      seed: seeds the initialisation and every random draw.
      params: optional starting weights (default: :func:`init_params` (seed)).
      progress: optional callable(iteration, loss, learning rate) called every test_every iterations.
      on_test: optional callable(iteration, params), same schedule (e.g. to measure PSNR on the way).

    Returns:
      params, and a dict with 'losses' (per iteration), 'errors' [(iteration,
      reconstruction MSE)], 'rate_changes', 'iterations', 'final_rate', 'stopped'
      ('rate_floor' or 'max_iters') and 'seconds'.
    """
    config = config or ZSSRConfig()
    scale = int(scale)
    lr = _as_batch(lr)
    rng = np.random.default_rng(seed)
    if params is None:
        params = init_params(seed, variance=config.init_variance)
    params = list(params)
    fathers, probs = make_fathers(lr, scale, config.father_scales, config.crop_size)
    k = kernel_arg(kernel)
    step = adam_step_fn(scale, subsampling, config.compute_dtype)
    rec = _rec_error_fn(scale, subsampling, config.compute_dtype)
    opt = adam_init(params)
    policy = LRPolicy(config)
    losses = []
    stopped = "max_iters"
    start = time.perf_counter()
    for it in range(config.max_iters):
        if policy.done:
            stopped = "rate_floor"
            break
        crop, _ = sample_crop(fathers, probs, config.crop_size, scale, rng)
        loss, params, opt = step(params, opt, ops.convert_to_tensor(policy.rate, "float32"), ops.convert_to_tensor(crop), k)
        losses.append(float(loss))
        if (it + 1) % config.test_every == 0:
            policy.record(it, float(rec(params, lr, k)))
            if progress is not None:
                progress(it + 1, losses[-1], policy.rate)
            if on_test is not None:
                on_test(it + 1, params)
        policy.step(it)
    if policy.done:
        stopped = "rate_floor"
    history = {
        "losses": losses,
        "errors": policy.errors,
        "rate_changes": policy.changes,
        "iterations": len(losses),
        "final_rate": policy.rate,
        "stopped": stopped,
        "seconds": time.perf_counter() - start,
    }
    return params, history


def super_resolve(params, lr, scale=2, kernel=None, subsampling="direct", ensemble=True, back_projection_iters=10,
                  compute_dtype=None):
    """ZSSR's output stage: f(ILR(LR)), or the median of the 8 back-projected variants, back-projected.

    Returns:
      SR tensor [1, s·H, s·W, C] in [0, 1].
    """
    scale = int(scale)
    lr = _as_batch(lr)
    params = list(params)
    if not ensemble:
        return upscale_sr(params, lr, scale, compute_dtype)
    bp = _bp_fn(scale, subsampling, int(back_projection_iters))
    k = kernel_arg(kernel)
    outs = []
    for j in range(8):
        y = inverse(upscale_sr(params, transform(lr, j), scale, compute_dtype), j, scale, subsampling)
        outs.append(bp(y, lr, k))
    med = ops.median(ops.stack(outs, axis=0), axis=0)
    return bp(med, lr, k)


def _bp_fn(scale, subsampling, iters):
    run = lambda sr, lr, kernel: back_project(sr, lr, scale, kernel, subsampling, iters)
    return backend.cached_compile(("zssr_bp", scale, subsampling, iters), lambda: run)


def zssr(lr, scale=2, kernel=None, subsampling="direct", config=None, seed=0, progress=None):
    """The whole ZSSR procedure on one LR image.

    Args:
      lr: [1, H, W, C] (or [H, W, C]) float in [0, 1].
      scale, kernel, subsampling: the degradation (as for ``zero_shot_sr``).
      config: :class:`ZSSRConfig` (max_iters, ensemble, ...).
      seed: random seed.
      progress: optional callable(iteration, loss, lr).

    Returns:
      (sr [1, s·H, s·W, C] tensor in [0, 1], info dict from :func:`train` plus
      'total_seconds').
    """
    config = config or ZSSRConfig()
    start = time.perf_counter()
    params, info = train(lr, scale, kernel, subsampling, config, seed, progress=progress)
    sr = super_resolve(params, lr, scale, kernel, subsampling, config.ensemble, config.back_projection_iters,
                       config.compute_dtype)
    sr = ops.convert_to_tensor(sr)
    info["total_seconds"] = time.perf_counter() - start
    return sr, info
