"""Blind kernel estimation: directional blur statistics of the LR image → kernel covariance.

A Gaussian blur of covariance Σ (HR pixels) slows how fast the LR image's
differences grow with distance along each direction u, in proportion to the
directional variance uᵀΣu. The estimator measures, on the luma plane, the mean
absolute difference at lags 1..4 along 8 directions (axes, diagonals, knight
moves); smooth content looks like blur to these means, so it also measures how
step-like the strongest edges are (a sharp kernel leaves aliased one-pixel steps
after direct subsampling, a wide one spreads them). A ridge regression with
quadratic terms, fitted on synthetic LR images made from training photos with
random kernels (``docs/estimate_fit.py``), maps these 41 numbers to the 8
directional variances of the kernel. The covariance that fits them best (least
squares, eigenvalues clipped to :data:`LAMBDA_RANGE`) gives the Eq. 3 Gaussian.
All NumPy; milliseconds.

Two alternatives were measured on held-out training images and dropped
(``docs/estimate_design.md``): judging candidate kernels by the meta-learned
network's own son → LR loss (it prefers λ ≈ 2, the centre of p(k), whatever the
true kernel) and matching the son's statistics to the LR image's (cross-scale
recurrence; its optimum wandered from 0.25× to 2× the true variance).
"""
import json
import math
import os

import numpy as np

from ..kernels import DEFAULT_SIZE

# (dy, dx) steps: the 4 axes and diagonals plus 4 knight moves, for angular resolution.
DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1), (1, 2), (2, 1), (1, -2), (2, -1))
LAGS = (1, 2, 3, 4)
EDGE_PERCENTILES = (99.0, 95.0)  # the strongest 1% and 5% of two-step differences
N_FEATURES = len(DIRECTIONS) * (len(LAGS) - 1 + len(EDGE_PERCENTILES)) + 1
LAMBDA_RANGE = (0.05, 16.0)  # eigenvalues kept (0.05 is a delta on the pixel grid)
MODEL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights")


def luma(image):
    """BT.601 luma of an H×W×3 float image in [0, 1] (float64)."""
    return np.asarray(image, np.float64)[..., :3] @ np.array([0.299, 0.587, 0.114])


def _shifted_pair(p, sy, sx):
    h, w = p.shape
    a = p[max(0, -sy):h - max(0, sy), max(0, -sx):w - max(0, sx)]
    b = p[max(0, sy):h - max(0, -sy), max(0, sx):w - max(0, -sx)]
    return a, b


def edge_steps(p, dy, dx):
    """How step-like the strongest edges along (dy, dx) are: 1 for a one-pixel step, ½ for a ramp.

    Over the pixels whose two-step difference |Δ₁ + Δ₂| is in the top
    :data:`EDGE_PERCENTILES`, the mean of max(|Δ₁|, |Δ₂|) / |Δ₁ + Δ₂|. Only strong
    edges count, so smooth content (which the mean differences confuse with blur)
    barely moves it.

    Args:
      p: float64 luma plane.
      dy, dx: the step.
    """
    a, b = _shifted_pair(p, dy, dx)
    d0, d1 = _shifted_pair(b - a, dy, dx)  # consecutive steps x → x+u → x+2u
    total = np.abs(d0 + d1).ravel()
    larger = np.maximum(np.abs(d0), np.abs(d1)).ravel()
    out = []
    for q in EDGE_PERCENTILES:
        sel = total >= np.percentile(total, q)
        out.append(float(np.mean(larger[sel] / (total[sel] + 1e-4))))
    return out


def features(plane, border=2):
    """The 41 statistics the regression reads.

    For each direction: log mean |Δ| at lags 2, 3, 4 minus that at lag 1 (how
    fast differences grow: slow for sharp images, like the lag for blurred ones);
    then for each direction the two :func:`edge_steps` numbers; last, the mean
    log |Δ| at lag 1 over directions (the detail level against the 8-bit rounding
    noise).

    Args:
      plane: float64 luma H×W in [0, 1] (at least 2·border + 9 pixels a side).
    """
    p = plane[border:plane.shape[0] - border, border:plane.shape[1] - border]
    out, edges, level = [], [], []
    for dy, dx in DIRECTIONS:
        m = []
        for lag in LAGS:
            a, b = _shifted_pair(p, dy * lag, dx * lag)
            m.append(math.log(float(np.mean(np.abs(a - b))) + 1e-5))
        out += [v - m[0] for v in m[1:]]
        edges += edge_steps(p, dy, dx)
        level.append(m[0])
    return np.array(out + edges + [float(np.mean(level))])


def expand(f):
    """Ridge inputs: 1, the features, and their pairwise products (upper triangle)."""
    f = np.atleast_2d(f)
    iu = np.triu_indices(f.shape[1])
    quad = (f[:, :, None] * f[:, None, :])[:, iu[0], iu[1]]
    return np.concatenate([np.ones((f.shape[0], 1)), f, quad], axis=1)


def unit_directions():
    """Unit vectors (x = column, y = row) of :data:`DIRECTIONS`, [8, 2]."""
    u = np.array([(dx, dy) for dy, dx in DIRECTIONS], np.float64)
    return u / np.linalg.norm(u, axis=1, keepdims=True)


def kernel_moments(kernel):
    """Second-moment matrix of a kernel about its centre pixel, in (x, y) = (column, row)."""
    k = np.asarray(kernel, np.float64)
    k = k / k.sum()
    ys, xs = np.mgrid[: k.shape[0], : k.shape[1]]
    x, y = xs - k.shape[1] // 2, ys - k.shape[0] // 2
    return np.array([[np.sum(k * x * x), np.sum(k * x * y)], [np.sum(k * x * y), np.sum(k * y * y)]])


def directional_variances(cov):
    """uᵀΣu for each of :data:`DIRECTIONS`."""
    u = unit_directions()
    return np.einsum("ni,ij,nj->n", u, cov, u)


def covariance_from_directional(v):
    """The covariance whose directional variances fit ``v`` best (least squares), eigenvalues clipped."""
    u = unit_directions()
    design = np.stack([u[:, 0] ** 2, 2 * u[:, 0] * u[:, 1], u[:, 1] ** 2], axis=1)
    sxx, sxy, syy = np.linalg.lstsq(design, np.asarray(v, np.float64), rcond=None)[0]
    w, vec = np.linalg.eigh(np.array([[sxx, sxy], [sxy, syy]]))
    w = np.clip(w, *LAMBDA_RANGE)
    return (vec * w) @ vec.T


def gaussian_from_covariance(cov, size=DEFAULT_SIZE):
    """The Eq. 3 kernel k(x) ∝ exp(-½ xᵀΣ⁻¹x) on a centred size×size grid (x = column, y = row)."""
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    x, y = r[None, :], r[:, None]
    a, b, d = np.linalg.inv(cov)[[0, 0, 1], [0, 1, 1]]
    k = np.exp(-0.5 * (a * x * x + 2 * b * x * y + d * y * y))
    return (k / k.sum()).astype(np.float32)


def model_path(scale, subsampling):
    return os.path.join(MODEL_DIR, f"kernel_estimator_{subsampling}_x{scale}.json")


_MODELS = {}


def load_model(scale, subsampling):
    """The fitted regression for (scale, subsampling) as a dict (``coef`` [903, 8] array, card), cached.

    Returns None when none is shipped for that combination.

    Raises:
      ValueError: the file was fitted on another feature set (refit with docs/estimate_fit.py).
    """
    path = model_path(scale, subsampling)
    if path not in _MODELS:
        if not os.path.isfile(path):
            return None
        with open(path) as f:
            m = json.load(f)
        m["coef"] = np.asarray(m["coef"], np.float64)
        m["mean"], m["std"] = np.asarray(m["mean"]), np.asarray(m["std"])
        if m["mean"].shape != (N_FEATURES,):
            raise ValueError(f"{path} was fitted on {m['mean'].size} features, this code computes {N_FEATURES}; "
                             "refit it with docs/estimate_fit.py")
        _MODELS[path] = m
    return _MODELS[path]


def predict_covariance(model, feats):
    """Covariance (HR pixels) predicted from one feature vector by a fitted model."""
    z = (np.asarray(feats) - model["mean"]) / model["std"]
    log_v = expand(z) @ model["coef"]
    return covariance_from_directional(np.exp(log_v[0]))


def fit(feature_rows, kernels, ridge):
    """Fits the regression: standardised features → log directional variances.

    Args:
      feature_rows: [N, 41] from :func:`features`.
      kernels: N true kernels (any size; their second moments are the targets).
      ridge: L2 penalty (intercept not penalised).

    Returns:
      dict with ``coef`` [903, 8], ``mean``, ``std`` (the features' standardisation).
    """
    f = np.asarray(feature_rows, np.float64)
    mean, std = f.mean(0), f.std(0) + 1e-9
    x = expand((f - mean) / std)
    y = np.log(np.maximum(np.stack([directional_variances(kernel_moments(k)) for k in kernels]), 1e-3))
    penalty = ridge * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    coef = np.linalg.solve(x.T @ x + penalty, x.T @ y)
    return {"coef": coef, "mean": mean, "std": std}
