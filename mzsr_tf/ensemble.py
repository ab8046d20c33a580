"""Geometric self-ensemble: the 8 dihedral variants of the input, run, undone, combined.

The adaptation itself is Algorithm 2 in :mod:`mzsr_tf.adapt`; this module only transforms and combines.

``self_ensemble(fn, lr, scale, subsampling)`` runs ``fn`` (LR → SR) on the LR
image rotated by 0/90/180/270° with and without a left-right flip, maps each
output back, and combines them: the mean (MZSR ``--ensemble``) or the median
followed by back-projection (the ZSSR recipe).

Direct subsampling is not flip-symmetric: LR pixel m is HR pixel s·m, so on a
reversed axis the network (which always puts LR pixel m' at s·m' of its own
frame) returns a result displaced by s - 1 HR pixels once flipped back.
:func:`inverse` undoes that displacement on each reversed axis (edge pixels
repeated); without it the 8 variants would be averaged out of register.
Bicubic subsampling is centred and needs no correction.

Everything is ``keras.ops`` on NHWC tensors (TF and JAX backends).
"""
from keras import ops

from .adapt import adapted_params, upscale_sr
from .degrade import degrade
from .kernel_code import code_for
from .resize import imresize

N_VARIANTS = 8

# Which axes of the original image (rows, cols) transform k reverses, where
# transform k = rot90 (counter-clockwise) k % 4 times, then a left-right flip if k >= 4.
REVERSED = {
    0: (False, False),
    1: (False, True),
    2: (True, True),
    3: (True, False),
    4: (False, True),
    5: (True, True),
    6: (True, False),
    7: (False, False),  # rot270 + flip = transpose
}


def rot90(x, k):
    """NumPy's ``rot90(x, k, axes=(1, 2))`` (counter-clockwise) on an NHWC batch.

    Written with flip/transpose because ``keras.ops.rot90`` under the
    TensorFlow backend (Keras 3.15) returns a wrong result for k = 2 on 4-D input.
    """
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return ops.flip(ops.flip(x, axis=1), axis=2)
    if k == 1:
        return ops.transpose(ops.flip(x, axis=2), (0, 2, 1, 3))
    return ops.transpose(ops.flip(x, axis=1), (0, 2, 1, 3))


def transform(x, k):
    """Dihedral transform k (0..7) of an NHWC batch: rot90 k % 4 times, then flip if k >= 4."""
    y = rot90(x, k)
    return ops.flip(y, axis=2) if k >= 4 else y


def _shift_back(y, axis, n):
    """y'[c] = y[c + n] along ``axis`` (1 or 2), the last n positions repeating the edge."""
    if n <= 0:
        return y
    if axis == 1:
        return ops.concatenate([y[:, n:], ops.repeat(y[:, -1:], n, axis=1)], axis=1)
    return ops.concatenate([y[:, :, n:], ops.repeat(y[:, :, -1:], n, axis=2)], axis=2)


def inverse(y, k, scale=1, subsampling="bicubic"):
    """Undoes :func:`transform` k on an output; for 'direct' subsampling also re-registers it.

    Args:
      y: NHWC output of the network on ``transform(lr, k)``.
      k: transform index 0..7.
      scale: SR scale s (the displacement on a reversed axis is s - 1 pixels).
      subsampling: 'direct' (re-register) or 'bicubic' / None (plain inverse).
    """
    z = ops.flip(y, axis=2) if k >= 4 else y
    z = rot90(z, -k)
    if subsampling == "direct" and scale > 1:
        rows, cols = REVERSED[k]
        if rows:
            z = _shift_back(z, 1, scale - 1)
        if cols:
            z = _shift_back(z, 2, scale - 1)
    return z


def back_project(sr, lr, scale, kernel=None, subsampling="direct", iters=10):
    """Iterative back-projection: sr ← clip(sr + up(lr - degrade(sr)), 0, 1), ``iters`` times.

    The degradation is the one the LR image went through (the given kernel and
    subsampling); the residual is brought up with MATLAB bicubic.
    """
    hw = (ops.shape(sr)[1], ops.shape(sr)[2])
    k = None if kernel is None else ops.convert_to_tensor(kernel, "float32")
    for _ in range(int(iters)):
        err = lr - degrade(sr, scale, kernel=k, subsampling=subsampling)
        sr = ops.clip(sr + imresize(err, float(scale), out_hw=hw), 0.0, 1.0)
    return sr


def self_ensemble(fn, lr, scale=1, subsampling="bicubic", reduce="mean", variants=N_VARIANTS, with_index=False):
    """Runs ``fn`` on the dihedral variants of ``lr`` and combines the re-aligned outputs.

    Args:
      fn: callable NHWC LR → NHWC SR (for scale 1, any same-size map); with
        ``with_index`` called as ``fn(x, k)`` with the transform's index k.
      lr: [N, H, W, C] tensor.
      scale: SR scale, for the direct-subsampling re-registration.
      subsampling: 'direct' or 'bicubic' (see :func:`inverse`).
      reduce: 'mean' or 'median' over the variants.
      variants: how many of the 8 transforms to use (the first ``variants``).

    Returns:
      the combined SR tensor.
    """
    if reduce not in ("mean", "median"):
        raise ValueError(f"reduce must be 'mean' or 'median', got {reduce!r}")
    lr = ops.convert_to_tensor(lr, "float32")
    outs = [inverse(fn(transform(lr, k), k) if with_index else fn(transform(lr, k)), k, scale, subsampling)
            for k in range(variants)]
    stack = ops.stack(outs, axis=0)
    if reduce == "mean":
        return ops.mean(stack, axis=0)
    return ops.median(stack, axis=0)


def super_resolve(params, lr, scale, subsampling="direct", ensemble=False, reduce="mean", compute_dtype=None,
                  kernel_pca=None, kernel=None):
    """clip(f(ILR(lr), code)) with the given weights, optionally as the 8-way self-ensemble.

    Args:
      kernel_pca: (mean, basis) of a kernel-aware network, else None.
      kernel: the LR image's kernel (None: no blur); each variant of the
        ensemble is told its own rotated or flipped kernel.
    """
    params = list(params)
    lr = ops.convert_to_tensor(lr, "float32")
    codes = [None] * N_VARIANTS  # the paper's network is told nothing
    if kernel_pca is not None:
        k = ops.convert_to_tensor([[1.0]] if kernel is None else kernel, "float32")[None, :, :, None]
        codes = [code_for(kernel_pca, transform(k, j)[0, :, :, 0]) for j in range(N_VARIANTS if ensemble else 1)]
    run = lambda x, j=0: upscale_sr(params, x, scale, compute_dtype, codes[j])  # noqa: E731
    return self_ensemble(run, lr, scale, subsampling, reduce=reduce, with_index=True) if ensemble else run(lr)


def zero_shot_sr_ensemble(params, lr, scale, kernel=None, subsampling="direct", step_sizes=(), compute_dtype=None,
                          kernel_pca=None):
    """MZSR with ``--ensemble``: adapt once on the image as given, then average the 8 variants.

    Same arguments and result as :func:`mzsr_tf.adapt.zero_shot_sr`; costs the
    adaptation plus 8 forward passes instead of 1.
    """
    fast = adapted_params(params, lr, scale, kernel, subsampling, step_sizes, compute_dtype, kernel_pca)
    return super_resolve(fast, lr, scale, subsampling, ensemble=True, reduce="mean", compute_dtype=compute_dtype,
                         kernel_pca=kernel_pca, kernel=kernel)
