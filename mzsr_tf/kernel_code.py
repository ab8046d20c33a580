"""The kernel as a network input: a PCA code of the blur kernel, stretched to constant maps.

SRMD's dimensionality stretching (Zhang, Zuo, Zhang, CVPR 2018): the kernel is
put on the basis's grid (centre-cropped or zero-padded to ``size``×``size``,
renormalised), flattened, centred on the basis mean and projected onto the
leading principal components of the training kernels. The ``t`` numbers become
``t`` constant maps concatenated to the ILR before the first convolution, so a
non-blind network is told the degradation it must undo instead of guessing it.

The basis is fitted to the kernels the network trains on (Eq. 3 Gaussians with
λ from ``lambda_min`` up, plus the no-blur delta), ships inside the weights
file (:class:`CodeMaps`) and is applied with ``keras.ops``, so the SavedModel
computes the code from the kernel in its graph.
"""
import math

import numpy as np
from keras import ops

from .constants import KERNEL_SIZE
from .kernels import delta_kernel, gaussian_kernel_np, sample_kernel_params


def fit_pca(scale, components, lambda_min=1.0, no_blur_fraction=0.2, samples=20000, size=KERNEL_SIZE, seed=0):
    """The PCA basis of the training kernels.

    Args:
      scale: SR scale (sets the λ range).
      components: number of principal components ``t``.
      lambda_min: the training kernels' smallest variance.
      no_blur_fraction: share of delta kernels among the samples.
      samples: kernels drawn.
      size: kernel grid side.
      seed: the draw's seed.

    Returns:
      (mean float32 [size²], basis float32 [t, size²], explained): the rows of
      ``basis`` are the principal directions, all divided by the first one's
      standard deviation; ``explained`` is the share of the variance they hold.
    """
    rng = np.random.default_rng([int(seed), 7])
    n_delta = int(round(samples * no_blur_fraction))
    params = zip(*sample_kernel_params(rng, scale, samples - n_delta, lambda_min))
    ks = [gaussian_kernel_np(l1, l2, th, size) for l1, l2, th in params] + [delta_kernel(size)] * n_delta
    x = np.stack(ks).reshape(len(ks), -1).astype(np.float64)
    mean = x.mean(0)
    _, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
    var = sv**2
    # One common scale, so the first component has unit spread over the training kernels: the code
    # maps then sit in the range of the image channels, and minor components keep their small share.
    basis = vt[:components] / (sv[0] / math.sqrt(len(x)))
    return mean.astype(np.float32), basis.astype(np.float32), float(var[:components].sum() / var.sum())


def on_grid(kernel, size):
    """``kernel`` [k, k'] centre-cropped or zero-padded to [size, size] and renormalised (traceable, any k)."""
    kernel = ops.convert_to_tensor(kernel, "float32")
    for axis in (0, 1):
        n = ops.shape(kernel)[axis]
        pad_before = ops.maximum((size - n) // 2, 0)
        pad_after = ops.maximum(size - n - pad_before, 0)
        pads = [[0, 0], [0, 0]]
        pads[axis] = [pad_before, pad_after]
        kernel = ops.pad(kernel, pads)
        start = ops.maximum((ops.shape(kernel)[axis] - size) // 2, 0)
        kernel = ops.slice(kernel, [start if a == axis else 0 for a in (0, 1)],
                           [size if a == axis else ops.shape(kernel)[a] for a in (0, 1)])
    kernel = ops.reshape(kernel, (size, size))
    return kernel / ops.maximum(ops.sum(kernel), 1e-12)


def kernel_code(kernel, mean, basis, size=None):
    """The code ``basis · (vec(kernel on the grid) - mean)``, float32 [t] (traceable).

    Args:
      kernel: [k, k'] blur kernel (a 1×1 [[1]] is no blur).
      mean: float [size²] basis mean.
      basis: float [t, size²] principal components.
      size: the grid side (needed where ``mean``'s length is not static).
    """
    size = size or grid_size((mean, basis))
    flat = ops.reshape(on_grid(kernel, size), (-1,)) - ops.cast(mean, "float32")
    return ops.matmul(ops.cast(basis, "float32"), flat)


def with_code(ilr, code):
    """The network input: ILR [N, H, W, C] with ``code`` [t] (or [N, t]) as t constant maps after it.

    ``code`` None returns ``ilr`` itself (the paper's network).
    """
    if code is None:
        return ilr
    code = ops.cast(code, ilr.dtype)
    shape = ops.shape(ilr)
    if len(code.shape) == 1:
        code = code[None]
    maps = ops.broadcast_to(code[:, None, None, :], (shape[0], shape[1], shape[2], ops.shape(code)[-1]))
    return ops.concatenate([ilr, maps], axis=-1)


def code_for(kernel_pca, kernel):
    """The code of ``kernel`` (None: no blur) under ``kernel_pca`` = (mean, basis); None when there is no basis."""
    if kernel_pca is None:
        return None
    return kernel_code([[1.0]] if kernel is None else kernel, *kernel_pca)


def grid_size(kernel_pca):
    """The kernel grid side of a (mean, basis) pair."""
    return int(round(math.sqrt(int(np.shape(kernel_pca[0])[0]))))
