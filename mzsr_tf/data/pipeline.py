"""Batches for pretraining and tasks for meta-training.

Randomness is a pure function of (seed, step): batch ``i`` is drawn by
``np.random.default_rng([seed, i])``, so the data position is just the step
number and a resumed run sees exactly the batches an uninterrupted one would.
Cropping happens in NumPy; the degradation (kernel, blur, subsampling, noise,
MATLAB resize) runs as backend ops: inside ``tf.data`` under TensorFlow, on
the device under JAX.
"""
import numpy as np
from keras import ops

from .. import backend
from ..degrade import degrade, quantize, subsample_bicubic
from ..kernel_code import code_for, with_code
from ..kernels import delta_kernel, gaussian_kernel, sample_kernel_params
from ..resize import imresize
from .photo import photo_pairs


def _rng(seed, step, stream):
    return np.random.default_rng([int(seed), int(stream), int(step)])


# ---------------------------------------------------------------- pretraining


def sample_pretrain(pool, seed, step, batch_size, patch_size):
    """NumPy part of pretraining batch ``step``: HR crops, uint8 [B, P, P, 3]."""
    return pool.crops(_rng(seed, step, 1), batch_size, patch_size)


def degrade_pretrain(hr_uint8, scale):
    """Bicubic pairs: (ILR, HR) floats from uint8 HR crops.

    LR = MATLAB bicubic downscale rounded to 8 bits (as stored LR images are),
    ILR = MATLAB bicubic upscale of LR back to the HR size.
    """
    hr = ops.cast(hr_uint8, "float32") / 255.0
    return _ilr(quantize(subsample_bicubic(hr, scale)), hr, scale), hr


def _ilr(lr, hr, scale):
    """MATLAB bicubic upscale of an LR batch to its HR batch's size: the network's input."""
    return imresize(lr, float(scale), out_hw=(ops.shape(hr)[1], ops.shape(hr)[2]))


def sample_photo_pretrain(pool, seed, step, batch_size, patch_size, scale, resizers, jpeg_quality=(), jpeg_fraction=0.0):
    """NumPy part of a photo-pretraining batch: (LR, HR) uint8, LR made by ordinary resizers and JPEG.

    The crops are those of ``sample_pretrain`` for the same step; the resizer and
    JPEG draws come from a stream of their own.
    """
    hr = sample_pretrain(pool, seed, step, batch_size, patch_size)
    lr = photo_pairs(_rng(seed, step, 3), hr, scale, resizers, jpeg_quality, jpeg_fraction)
    return lr, hr


def degrade_photo_pretrain(lr_uint8, hr_uint8, scale):
    """(ILR, HR) floats from uint8 (LR, HR) pairs: ILR = MATLAB bicubic upscale of LR."""
    hr = ops.cast(hr_uint8, "float32") / 255.0
    return _ilr(ops.cast(lr_uint8, "float32") / 255.0, hr, scale), hr


# ---------------------------------------------------------------- meta tasks


def sample_tasks(pool, seed, step, tasks, patches, patch_size, scale, noise_sigma=0.0, no_blur_fraction=0.0,
                 lambda_min=1.0):
    """NumPy part of meta-batch ``step``.

    Args:
      no_blur_fraction: probability that a task has no blur (a delta kernel), so
        the weights also learn inputs that were only subsampled.
      lambda_min: the kernels' smallest variance (1: the paper's p(k)).

    Returns:
      hr: uint8 [T, N, P, P, 3] crops; kparams: float32 [T, 3] (λ1, λ2, Θ) from
      p(k); blurred: float32 [T], 1 for a p(k) task, 0 for an unblurred one;
      noise: float32 [T] noise std per task (zeros without noise); noise_seed.
    """
    rng = _rng(seed, step, 2)
    hr = np.stack([pool.crops(rng, patches, patch_size) for _ in range(tasks)])
    l1, l2, theta = sample_kernel_params(rng, scale, tasks, lambda_min)
    noise = rng.uniform(0.0, noise_sigma, tasks) if noise_sigma else np.zeros(tasks)
    kparams = np.stack([l1, l2, theta], 1).astype(np.float32)
    noise_seed = rng.integers(2**31 - 1)
    # Drawn last so that runs without unblurred tasks keep their exact data stream.
    blurred = rng.uniform(size=tasks) >= no_blur_fraction if no_blur_fraction else np.ones(tasks, bool)
    return hr, kparams, blurred.astype(np.float32), noise.astype(np.float32), noise_seed


# Unblurred tasks told a wrong kernel are told a near-delta Gaussian with λ in this range: where an
# estimator errs on sharp images, it errs by this much (kernel error up to ~0.9).
SHARP_TOLD = (0.05, 0.3)


def sample_told_kernels(seed, step, kparams, blurred, jitter, fraction):
    """The kernels a kernel-aware network is told in training, a share of them wrong like an estimate.

    A share ``fraction`` of the tasks is told a kernel off the true one: a
    blurred task's variances are scaled by e^ε and its angle moved by ε rad,
    ε ~ N(0, ``jitter``) each (0.3 gives a mean kernel error of ~0.2, an
    estimator's); an unblurred task is told a near-delta Gaussian. Drawn from
    a stream of its own, so the images and true kernels are those of a run
    without it.

    Args:
      kparams: float32 [T, 3] true (λ1, λ2, Θ); blurred: float32 [T] (0: no blur).
      jitter: the σ of ε.
      fraction: probability that a task's told kernel is off.

    Returns:
      (told float32 [T, 3] (λ1, λ2, Θ), off float32 [T]: 1 where the told kernel replaces the true one).
    """
    rng = _rng(seed, step, 3)
    count = len(kparams)
    off = rng.uniform(size=count) < fraction
    eps = rng.normal(0.0, jitter, (count, 3))
    lam1 = np.maximum(kparams[:, 0] * np.exp(eps[:, 0]), SHARP_TOLD[0])
    lam2 = np.maximum(kparams[:, 1] * np.exp(eps[:, 1]), SHARP_TOLD[0])
    sharp1 = rng.uniform(*SHARP_TOLD, count)
    sharp2 = rng.uniform(SHARP_TOLD[0], sharp1)
    unblurred = np.asarray(blurred) == 0
    told = np.stack([np.where(unblurred, sharp1, lam1), np.where(unblurred, sharp2, lam2), kparams[:, 2] + eps[:, 2]], 1)
    return told.astype(np.float32), off.astype(np.float32)


def degrade_tasks(hr_uint8, kparams, blurred, noise, noise_seed, scale, subsampling, kernel_size, tasks,
                  kernel_pca=None, told=None, off=None):
    """Degrades each task's crops with its own kernel; returns (ILR, HR) [T, N, P, P, 3].

    Args:
      kernel_pca: (mean, basis) of a kernel-aware network: each ILR then carries
        its task kernel's code maps ([T, N, P, P, 3 + t]).
      told, off: from :func:`sample_told_kernels`: where ``off`` is 1, the code
        is that of the ``told`` kernel instead of the true one.
    """
    hr = ops.cast(hr_uint8, "float32") / 255.0
    size = ops.shape(hr)[2]
    delta = ops.convert_to_tensor(delta_kernel(kernel_size))
    xs = []
    for t in range(tasks):
        k = gaussian_kernel(kparams[t, 0], kparams[t, 1], kparams[t, 2], kernel_size)
        k = blurred[t] * k + (1.0 - blurred[t]) * delta
        y = degrade(hr[t], scale, k, subsampling)
        y = y + noise[t] * _normal(ops.shape(y), noise_seed, t)
        lr = quantize(y)
        if told is not None:
            k = off[t] * gaussian_kernel(told[t, 0], told[t, 1], told[t, 2], kernel_size) + (1.0 - off[t]) * k
        xs.append(with_code(imresize(lr, float(scale), out_hw=(size, size)), code_for(kernel_pca, k)))
    return ops.stack(xs), hr


def flatten_tasks(ilr, hr):
    """[T, N, P, P, 3] task batches as one [T·N, P, P, 3] batch (Pre-train (All) pairs)."""
    merge = lambda x: ops.reshape(x, (-1,) + tuple(ops.shape(x)[2:]))
    return merge(ilr), merge(hr)


def _normal(shape, seed, t):
    if backend.NAME == "tensorflow":
        import tensorflow as tf

        return tf.random.stateless_normal(shape, seed=tf.stack([tf.cast(seed, tf.int32), t]))
    import jax

    key = jax.random.fold_in(jax.random.PRNGKey(seed), t)
    return jax.random.normal(key, shape)


# ---------------------------------------------------------------- iterators


def tf_dataset(sample_fn, degrade_fn, start_step, parallel_calls=2):
    """``tf.data`` pipeline: Dataset.range(start, ∞) → NumPy sampling → degradation → prefetch.

    Args:
      sample_fn: step -> tuple of NumPy arrays.
      degrade_fn: the backend-op degradation, applied in ``Dataset.map``.
      start_step: the first step (resume point).
    """
    import tensorflow as tf

    probe = sample_fn(start_step)
    dtypes = [tf.as_dtype(np.asarray(a).dtype) for a in probe]

    def py(step):
        return tuple(np.asarray(a) for a in sample_fn(int(step)))

    def sample(step):
        out = tf.numpy_function(py, [step], dtypes, stateful=False)
        for o, a in zip(out, probe):
            o.set_shape(np.shape(a))
        return tuple(out)

    ds = tf.data.Dataset.range(start_step, 2**62)
    ds = ds.map(sample, num_parallel_calls=parallel_calls, deterministic=True)
    ds = ds.map(lambda *a: degrade_fn(*a), num_parallel_calls=parallel_calls, deterministic=True)
    return ds.prefetch(2)


def numpy_iterator(sample_fn, degrade_fn, start_step):
    """The JAX-side feed: NumPy sampling on the host, degradation jitted on the device."""
    fn = backend.compile_fn(degrade_fn)
    step = start_step
    while True:
        yield fn(*sample_fn(step))
        step += 1


def batches(sample_fn, degrade_fn, start_step, parallel_calls=2):
    """Iterator over degraded batches from ``start_step`` on, for the active backend."""
    if backend.NAME == "tensorflow":
        return iter(tf_dataset(sample_fn, degrade_fn, start_step, parallel_calls))
    return numpy_iterator(sample_fn, degrade_fn, start_step)
