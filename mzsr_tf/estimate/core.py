"""Blind kernel estimation: directional blur statistics of the LR image → kernel covariance.

A Gaussian blur of covariance Σ (HR pixels) slows how fast the LR image's
differences grow with distance along each direction u, in proportion to the
directional variance uᵀΣu. The estimator measures, on the luma plane, the mean
absolute difference at lags 1..4 along 8 directions (axes, diagonals, knight
moves); smooth content looks like blur to these means, so it also measures how
step-like the strongest edges are (a sharp kernel leaves aliased one-pixel steps
after direct subsampling, a wide one spreads them). A small regressor fitted on
synthetic LR images made from training photos with random kernels
(``docs/estimate_fit.py``) maps these 41 numbers to the 8 directional variances
of the kernel: an average of 5 one-hidden-layer tanh networks (shipped), or a
ridge regression with quadratic terms (the earlier model; its JSON still loads).
The covariance that fits them best (least squares, eigenvalues clipped to
:data:`LAMBDA_RANGE`) gives the Eq. 3 Gaussian.
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
    """The fitted regression for (scale, subsampling) as a dict, cached; None when none is shipped.

    The JSON's ``kind`` says which: ``"mlp"`` (``nets``: an ensemble of small
    tanh networks, see :func:`fit_mlp`) or, when absent, the quadratic ridge
    (``coef`` [903, 8], see :func:`fit`). Both carry ``mean``/``std`` and ``card``.

    Args:
      scale: SR scale.
      subsampling: "direct" or "bicubic".

    Raises:
      ValueError: the file was fitted on another feature set (refit with docs/estimate_fit.py),
        or is of an unknown kind.
    """
    path = model_path(scale, subsampling)
    if path not in _MODELS:
        if not os.path.isfile(path):
            return None
        with open(path) as f:
            m = json.load(f)
        m["kind"] = m.get("kind", "ridge")  # files written before the MLP have no kind
        if m["kind"] not in ("ridge", "mlp"):
            raise ValueError(f"{path}: unknown estimator kind {m['kind']!r} (this code reads 'ridge' and 'mlp')")
        m["mean"], m["std"] = np.asarray(m["mean"]), np.asarray(m["std"])
        if m["mean"].shape != (N_FEATURES,):
            raise ValueError(f"{path} was fitted on {m['mean'].size} features, this code computes {N_FEATURES}; "
                             "refit it with docs/estimate_fit.py")
        if m["kind"] == "mlp":
            m["nets"] = [[(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in net] for net in m["nets"]]
            m["y_mean"], m["y_std"] = np.asarray(m["y_mean"]), np.asarray(m["y_std"])
        else:
            m["coef"] = np.asarray(m["coef"], np.float64)
        _MODELS[path] = m
    return _MODELS[path]


def model_to_json(model, card):
    """The JSON-ready dict :func:`load_model` reads back, weights rounded to 6 decimals.

    Args:
      model: from :func:`fit` or :func:`fit_mlp`.
      card: dict describing how it was fitted.
    """
    out = {"kind": model["kind"], "card": card, "mean": model["mean"].tolist(), "std": model["std"].tolist()}
    if model["kind"] == "mlp":
        out.update(y_mean=model["y_mean"].tolist(), y_std=model["y_std"].tolist(),
                   nets=[[[np.round(w, 6).tolist(), np.round(b, 6).tolist()] for w, b in net] for net in model["nets"]])
    else:
        out["coef"] = np.round(model["coef"], 6).tolist()
    return out


def _mlp_forward(net, z):
    """One network: tanh hidden layers, linear output (what scikit-learn's MLPRegressor computes)."""
    for w, b in net[:-1]:
        z = np.tanh(z @ w + b)
    w, b = net[-1]
    return z @ w + b


def predict_log_variances(model, feats):
    """Log directional variances [N, 8] predicted from feature rows [N, 41] by a fitted model."""
    z = (np.atleast_2d(np.asarray(feats, np.float64)) - model["mean"]) / model["std"]
    if model.get("kind", "ridge") == "mlp":
        out = np.mean([_mlp_forward(net, z) for net in model["nets"]], axis=0)
        return out * model["y_std"] + model["y_mean"]
    return expand(z) @ model["coef"]


def predict_covariance(model, feats):
    """Covariance (HR pixels) predicted from one feature vector by a fitted model (ridge or MLP)."""
    return covariance_from_directional(np.exp(predict_log_variances(model, feats)[0]))


def _targets(kernels):
    return np.log(np.maximum(np.stack([directional_variances(kernel_moments(k)) for k in kernels]), 1e-3))


def fit(feature_rows, kernels, ridge):
    """Fits the quadratic ridge regression: standardised features → log directional variances.

    Args:
      feature_rows: [N, 41] from :func:`features`.
      kernels: N true kernels (any size; their second moments are the targets).
      ridge: L2 penalty (intercept not penalised).

    Returns:
      dict with ``kind`` "ridge", ``coef`` [903, 8], ``mean``, ``std`` (the features' standardisation).
    """
    f = np.asarray(feature_rows, np.float64)
    mean, std = f.mean(0), f.std(0) + 1e-9
    x = expand((f - mean) / std)
    y = _targets(kernels)
    penalty = ridge * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    coef = np.linalg.solve(x.T @ x + penalty, x.T @ y)
    return {"kind": "ridge", "coef": coef, "mean": mean, "std": std}


def fit_mlp(feature_rows, kernels, hidden=(64,), alpha=0.1, members=5, max_iter=300, seed=0):
    """Fits an ensemble of small MLPs: standardised features → standardised log directional variances.

    Trained with scikit-learn (Adam, tanh); prediction needs only NumPy
    (:func:`predict_log_variances`). Averaging a few seeds steadies the
    held-out error, which single networks scattered by ±0.02.

    Args:
      feature_rows: [N, 41] from :func:`features`.
      kernels: N true kernels.
      hidden: hidden layer widths.
      alpha: L2 penalty of MLPRegressor.
      members: networks averaged (seeds seed … seed + members − 1).
      max_iter: epochs at most (stops after 50 without improvement).
      seed: first random seed.

    Returns:
      dict with ``kind`` "mlp", ``nets`` (per network, per layer (W, b)), ``mean``, ``std``, ``y_mean``, ``y_std``.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    f = np.asarray(feature_rows, np.float64)
    mean, std = f.mean(0), f.std(0) + 1e-9
    y = _targets(kernels)
    y_mean, y_std = y.mean(0), y.std(0) + 1e-9
    nets = []
    for s in range(seed, seed + members):
        reg = MLPRegressor(hidden_layer_sizes=tuple(hidden), activation="tanh", alpha=alpha, batch_size=64,
                           learning_rate_init=1e-3, max_iter=max_iter, tol=1e-6, n_iter_no_change=50, random_state=s)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reg.fit((f - mean) / std, (y - y_mean) / y_std)
        nets.append(list(zip(reg.coefs_, reg.intercepts_)))
    return {"kind": "mlp", "nets": nets, "mean": mean, "std": std, "y_mean": y_mean, "y_std": y_std}
