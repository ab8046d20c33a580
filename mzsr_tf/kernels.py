"""Blur kernels: Eq. 3 Gaussians, the meta-training distribution p(k), kernel files.

λ are variances (eigenvalues of Σ), not standard deviations: the paper's
"width 2.0" kernel has σ² = 2.0, centre value ≈ 1/(4π) on a 21×21 grid.
"""
import math
import os

import numpy as np
import keras
from keras import ops

from .constants import KERNEL_SIZE as DEFAULT_SIZE, MAX_KERNEL_SIDE, SUM_TOLERANCE
from .errors import InputError

# Paper scenarios: (λ1, λ2, Θ). Θ in radians.
NAMED = {
    "g0.2": (0.2, 0.2, 0.0),
    "g2.0": (2.0, 2.0, 0.0),
    "g1.3": (1.3, 1.3, 0.0),
    "gani": (4.0, 1.0, -0.5),
}


def gaussian_kernel(lambda1, lambda2, theta, size=DEFAULT_SIZE):
    """Anisotropic Gaussian kernel of Eq. 3, normalised to sum 1.

    Σ = R(Θ) diag(λ1, λ2) R(Θ)ᵀ; the first grid coordinate runs along columns
    (x), the second along rows (y), centred on the middle pixel.

    Args:
      lambda1, lambda2: eigenvalues (variances) of Σ; scalars or 0-d tensors.
      theta: rotation angle in radians.
      size: odd grid side (Python int).

    Returns:
      float32 tensor [size, size].
    """
    l1 = ops.cast(lambda1, "float32")
    l2 = ops.cast(lambda2, "float32")
    th = ops.cast(theta, "float32")
    c, s = ops.cos(th), ops.sin(th)
    # Σ⁻¹ = R diag(1/λ1, 1/λ2) Rᵀ, written out to stay in scalar ops.
    a = c * c / l1 + s * s / l2
    b = c * s / l1 - c * s / l2
    d = s * s / l1 + c * c / l2
    r = ops.arange(size, dtype="float32") - (size - 1) / 2.0
    x = r[None, :]  # column coordinate
    y = r[:, None]  # row coordinate
    q = a * x * x + 2.0 * b * x * y + d * y * y
    k = ops.exp(-0.5 * q)
    return k / ops.sum(k)


def delta_kernel(size=DEFAULT_SIZE):
    """The identity kernel (no blur) on a [size, size] grid, float32 NumPy."""
    k = np.zeros((size, size), np.float32)
    k[size // 2, size // 2] = 1.0
    return k


def named_kernel(name, size=DEFAULT_SIZE):
    """A scenario kernel by name ('g0.2', 'g2.0', 'g1.3', 'gani') as a NumPy array."""
    l1, l2, th = NAMED[name]
    return np.asarray(ops.convert_to_numpy(gaussian_kernel(l1, l2, th, size)), np.float32)


def random_kernel(scale, seed, size=DEFAULT_SIZE):
    """Draws a kernel from p(k): Θ ~ U[0, π), λ1 ~ U[1, 2.5 s], λ2 ~ U[1, λ1].

    Args:
      scale: SR scale s.
      seed: int or ``keras.random.SeedGenerator``.
      size: grid side.

    Returns:
      (kernel [size, size], (λ1, λ2, Θ)).
    """
    u = keras.random.uniform((3,), seed=seed)
    theta = u[0] * math.pi
    lambda1 = 1.0 + u[1] * (2.5 * scale - 1.0)
    lambda2 = 1.0 + u[2] * (lambda1 - 1.0)
    return gaussian_kernel(lambda1, lambda2, theta, size), (lambda1, lambda2, theta)


def sample_kernel_params(rng, scale, count=None, lambda_min=1.0):
    """Draws (λ1, λ2, Θ) from p(k): Θ ~ U[0, π), λ1 ~ U[λmin, 2.5 s], λ2 ~ U[λmin, λ1], λmin = 1.

    The one NumPy p(k) sampler: validation kernels, task batches, tuning and the
    kernel code's basis all draw here.

    Args:
      rng: ``np.random.Generator``.
      scale: SR scale s.
      count: None for scalars, else the number of draws (arrays).
      lambda_min: the smallest variance; 1 is the paper's p(k), a smaller floor
        spans the near-delta kernels (g^d_0.2 has λ = 0.2) a kernel-aware network may be told.
    """
    theta = rng.uniform(0.0, math.pi, count)
    lambda1 = rng.uniform(lambda_min, 2.5 * scale, count)
    lambda2 = rng.uniform(lambda_min, lambda1)
    return lambda1, lambda2, theta


def gaussian_kernel_np(lambda1, lambda2, theta, size=DEFAULT_SIZE):
    """NumPy twin of :func:`gaussian_kernel` (float32 [size, size]) for code that runs without TF."""
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    c, s = math.cos(theta), math.sin(theta)
    a = c * c / lambda1 + s * s / lambda2
    b = c * s / lambda1 - c * s / lambda2
    d = s * s / lambda1 + c * c / lambda2
    x, y = r[None, :], r[:, None]
    k = np.exp(-0.5 * (a * x * x + 2 * b * x * y + d * y * y))
    return (k / k.sum()).astype(np.float32)


def random_kernel_np(scale, rng, size=DEFAULT_SIZE):
    """A kernel drawn from p(k) with NumPy (float32 [size, size])."""
    return gaussian_kernel_np(*sample_kernel_params(rng, scale), size)


def validate_kernel(k, source="kernel", warn=print):
    """Checks a user kernel and returns it as float32, normalised to sum 1.

    Args:
      k: array-like.
      source: name used in messages (a file path).
      warn: called with a message when the kernel is renormalised.

    Raises:
      InputError: not 2-D, empty, non-finite, negative, or sum far from 1.
    """
    k = np.asarray(k)
    if k.dtype == object or not np.issubdtype(k.dtype, np.number):
        raise InputError(f"{source}: kernel is not numeric (dtype {k.dtype})")
    k = np.squeeze(k.astype(np.float64))
    if k.ndim != 2:
        raise InputError(f"{source}: kernel must be 2-D, got shape {np.shape(k)}")
    if min(k.shape) < 1 or max(k.shape) > MAX_KERNEL_SIDE:
        raise InputError(f"{source}: kernel size {k.shape} is outside 1..{MAX_KERNEL_SIDE}")
    if not np.all(np.isfinite(k)):
        raise InputError(f"{source}: kernel has NaN or Inf entries")
    if np.any(k < 0):
        raise InputError(f"{source}: kernel has negative entries (min {k.min():.3g})")
    total = float(k.sum())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise InputError(f"{source}: kernel sums to {total:.4g}, not ~1 (tolerance ±{SUM_TOLERANCE})")
    if abs(total - 1.0) > 1e-6 and warn is not None:
        warn(f"warning: {source}: kernel sums to {total:.6f}; normalised to 1")
    return (k / total).astype(np.float32)


def load_kernel(path, warn=print):
    """Reads a kernel from ``.npy``, ``.mat`` (key ``kernel`` or ``Kernel``) or a grayscale image.

    Kernels from ZSSR/KernelGAN are centred on their centre of mass; MZSR's are
    not. The file is used as given: state the convention of foreign kernels.

    Raises:
      InputError: unreadable file, unknown format, or an invalid kernel.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"{path}: kernel file not found")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".npy":
            k = np.load(path, allow_pickle=False)
        elif ext == ".mat":
            import scipy.io

            mat = scipy.io.loadmat(path)
            key = "kernel" if "kernel" in mat else "Kernel" if "Kernel" in mat else None
            if key is None:
                keys = [x for x in mat if not x.startswith("__")]
                raise InputError(f"{path}: no 'kernel' or 'Kernel' in .mat (has {keys})")
            k = mat[key]
        else:
            from PIL import Image

            with Image.open(path) as im:
                if im.mode not in ("L", "I;16", "I", "F"):
                    raise InputError(f"{path}: kernel image must be grayscale, got mode {im.mode}")
                k = np.asarray(im, dtype=np.float64)
    except InputError:
        raise
    except Exception as e:  # any parser failure is a bad file for the user
        raise InputError(f"{path}: cannot read kernel ({type(e).__name__}: {e})") from None
    if ext not in (".npy", ".mat"):
        k = np.asarray(k, np.float64)
        if k.sum() <= 0:
            raise InputError(f"{path}: kernel image is all zero")
        k = k / k.sum()  # an image stores the shape of the kernel, not its scale
    return validate_kernel(k, source=path, warn=warn)


RK_VARIANCE = (0.35, 5.0)  # range of each eigenvalue of Σ for the random-kernel (rk) test set
RK_TAP_NOISE = 0.25  # multiplicative noise per tap: × U(1 - 0.25, 1 + 0.25)


def rk_kernel(seed, size=DEFAULT_SIZE):
    """A kernel of the ``rk`` blind test set: a noisy anisotropic Gaussian, seeded.

    λ1, λ2 ~ U(0.35, 5) independently (variances), Θ ~ U(0, π), each tap times
    U(0.75, 1.25), renormalised to sum 1; centred on the middle pixel. The
    noise makes it leave the Eq. 3 family, as real kernels do.

    Args:
      seed: int (one per image).
      size: odd grid side.

    Returns:
      float32 [size, size].
    """
    rng = np.random.default_rng(seed)
    lambda1, lambda2 = rng.uniform(*RK_VARIANCE, 2)
    theta = rng.uniform(0.0, math.pi)
    k = gaussian_kernel_np(lambda1, lambda2, theta, size).astype(np.float64)
    k *= rng.uniform(1.0 - RK_TAP_NOISE, 1.0 + RK_TAP_NOISE, k.shape)
    return (k / k.sum()).astype(np.float32)
