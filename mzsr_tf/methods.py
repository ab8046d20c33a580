"""The super-resolution methods, by name: one registry for commands, evaluation and benchmarks.

Every method maps a float LR image H×W×3 in [0, 1] to a float SR image
sH×sW×3 in [0, 1] under the same :class:`Options`. ``upscale``, ``evaluate``,
the paper tables and ``bench/`` all look methods up here::

    sr = methods.get("mzsr").run(lr, Options(scale=2, kernel=k, steps=10))

Names: ``bicubic`` (MATLAB-style interpolation), ``mzsr`` (Algorithm 2),
``mzsr+ensemble`` (Algorithm 2, then the mean of the 8 dihedral variants) and
``zssr`` (the ZSSR baseline trained on the image itself).
"""
import dataclasses
import os
from typing import Callable, Optional

import numpy as np

from .constants import DEFAULT_STEPS
from .errors import InputError
from .tiling import DEFAULT_MAX_MEMORY


@dataclasses.dataclass
class Options:
    """What a method may use.

    Args:
      scale: SR scale.
      kernel: validated float32 [k, k] kernel, or None for no blur.
      kernel_estimated: the kernel was estimated from the image (``--kernel estimate``);
        the default weights may differ for such kernels (``weights.default_name``).
      subsampling: 'direct' or 'bicubic'.
      steps: adaptation steps (methods with ``uses_steps``).
      weights: shipped name or ``.weights.h5`` path; None = the shipped default.
      compute_dtype: 'float32' or 'bfloat16' convolutions; None: the machine's default
        (``speed.precision.default_compute_dtype``: bfloat16 where native, for mzsr).
      zssr_iters: ZSSR's iteration cap.
      zssr_ensemble: ZSSR's own self-ensemble (median + back-projection).
      seed: ZSSR's seed; also the seed of the adaptation crops of large images.
      max_memory: bytes for the network's activations; larger images are
        upscaled in tiles and adapted on random crops (:mod:`mzsr_tf.tiling`).
      progress: ``progress(iterable)`` wrapper (tqdm) shown over the tiles of one image, or None.
      notes: filled by the method (weights used, ZSSR's iterations, tiles and crops).
    """

    scale: int = 2
    kernel: Optional[np.ndarray] = None
    kernel_estimated: bool = False
    subsampling: str = "direct"
    steps: int = DEFAULT_STEPS
    weights: Optional[str] = None
    compute_dtype: Optional[str] = None
    zssr_iters: int = 3000
    zssr_ensemble: bool = True
    seed: int = 0
    max_memory: int = DEFAULT_MAX_MEMORY
    progress: Optional[Callable] = None
    notes: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Method:
    """A registered method.

    Args:
      name: unique name.
      run: ``run(lr float [H, W, 3], options) -> sr float [sH, sW, 3]``.
      uses_steps: results depend on ``options.steps`` (one column per step count).
      uses_weights: loads network weights (a bad ``--weights`` fails before any image).
      tiles: works on any image size within ``options.max_memory`` (others are held to ``MAX_LR_PIXELS``).
      warmup: worth an untimed first call before timing (compile time matters).
      description: one line for ``--help``.
    """

    name: str
    run: Callable
    uses_steps: bool = False
    uses_weights: bool = False
    tiles: bool = False
    warmup: bool = True
    description: str = ""


REGISTRY = {}


def register(name, run, **kwargs):
    """Adds a method; names are unique."""
    if name in REGISTRY:
        raise ValueError(f"method {name!r} is already registered")
    REGISTRY[name] = Method(name, run, **kwargs)
    return REGISTRY[name]


def get(name):
    """The method called ``name``; InputError for an unknown name."""
    if name not in REGISTRY:
        raise InputError(f"unknown method {name!r}; one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def _numpy(x):
    from keras import ops

    return np.asarray(ops.convert_to_numpy(x), np.float32)[0]


# ------------------------------------------------------------------ weights

_PARAMS = {}


def load_params(weights=None, scale=2, subsampling="direct", blurred=True):
    """The network weights as a list of tensors: :func:`load_network` without the kernel basis."""
    params, _, name = load_network(weights, scale, subsampling, blurred)
    return params, name


def load_network(weights=None, scale=2, subsampling="direct", blurred=True):
    """The network weights as a list of tensors and its kernel basis, cached per file within the process.

    Args:
      weights: shipped name, path to a ``.weights.h5`` file, or None for the
        shipped default for (scale, subsampling).
      blurred: False when the input has no kernel (see ``weights.default_name``).

    Returns:
      (params, kernel_pca, name): the weight tensors, the (mean, basis) of a
      kernel-aware network (None for the paper's), and the name or path they came from.

    Raises:
      InputError: no such weights, or a file that does not hold this network.
    """
    from .weights import default_name, resolve

    name = default_name(scale, subsampling, blurred) if weights is None else os.fspath(weights)
    path = os.path.abspath(resolve(name, scale, subsampling))
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    if key not in _PARAMS:
        from .model import get_params, kernel_pca_of
        from .weights import load_model

        model = load_model(path)
        _PARAMS[key] = (get_params(model), kernel_pca_of(model))
    return _PARAMS[key] + (name,)


def default_weights(lr, options):
    """The shipped default for this image; its JPEG compression is checked only where that changes the choice."""
    from .data.photo import looks_like_jpeg
    from .weights import default_name

    blurred, estimated = options.kernel is not None, options.kernel_estimated
    plain = default_name(options.scale, options.subsampling, blurred, estimated=estimated)
    photo = default_name(options.scale, options.subsampling, blurred, jpeg=True, estimated=estimated)
    return photo if photo != plain and looks_like_jpeg(lr) else plain


def _mzsr_inputs(lr, options):
    from .weights import step_sizes

    weights = options.weights if options.weights is not None else default_weights(lr, options)
    params, kernel_pca, name = load_network(weights, options.scale, options.subsampling, options.kernel is not None)
    options.notes["weights"] = os.path.basename(str(name))
    sizes = step_sizes(name, options.steps, options.subsampling, options.scale)
    return params, kernel_pca, lr[None], sizes


# ------------------------------------------------------------------ methods


def bicubic(lr, options):
    """MATLAB-style bicubic interpolation (the ILR the network starts from); tiled when large."""
    from . import tiling
    from .resize import imresize

    lr = np.asarray(lr, np.float32)
    fn = lambda t: imresize(t, float(options.scale))  # noqa: E731
    p = tiling.plan(lr.shape[0], lr.shape[1], options.scale, options.max_memory)
    if p.tile is None:
        return _numpy(fn(lr[None]))
    return tiling.run_tiled(fn, lr, options.scale, p.tile, p.margin, options.progress)


def _zero_shot(lr, options, ensemble):
    """Algorithm 2, within ``options.max_memory``: whole image, or crops + tiles (:func:`mzsr_tf.tiling.plan`)."""
    from . import tiling
    from .adapt import adapted_params, zero_shot_sr
    from .ensemble import super_resolve, zero_shot_sr_ensemble
    from .speed.precision import default_compute_dtype

    options = dataclasses.replace(options, compute_dtype=options.compute_dtype or default_compute_dtype())
    params, kernel_pca, x, sizes = _mzsr_inputs(lr, options)
    s, args = options.scale, (options.kernel, options.subsampling, sizes, options.compute_dtype)
    p = tiling.plan(lr.shape[0], lr.shape[1], s, options.max_memory)
    if p.whole:
        run = zero_shot_sr_ensemble if ensemble else zero_shot_sr
        return _numpy(run(params, x, s, *args, kernel_pca=kernel_pca))
    if p.crops:
        side, count = p.crops
        x = tiling.random_crops(lr, side, count, s, options.seed)
        options.notes["crops"] = (side, count)
    fast = adapted_params(params, x, s, *args, kernel_pca=kernel_pca)
    fn = lambda t: super_resolve(fast, t, s, options.subsampling, ensemble, compute_dtype=options.compute_dtype,  # noqa: E731
                                 kernel_pca=kernel_pca, kernel=options.kernel)
    if p.tile is None:
        return _numpy(fn(lr[None]))
    options.notes["tiles"] = len(tiling.tiles(lr.shape[0], lr.shape[1], p.tile, p.margin))
    return tiling.run_tiled(fn, lr, s, p.tile, p.margin, options.progress)


def mzsr(lr, options):
    """Algorithm 2: adapt to the image's son, then upscale (:func:`mzsr_tf.adapt.zero_shot_sr`).

    Images beyond ``options.max_memory`` adapt on random crops and upscale in tiles.
    """
    return _zero_shot(lr, options, ensemble=False)


def mzsr_ensemble(lr, options):
    """Algorithm 2 once, then the mean of the adapted network's 8 dihedral variants (tiled when large)."""
    return _zero_shot(lr, options, ensemble=True)


def zssr(lr, options):
    """The ZSSR baseline: the same network trained from scratch on the image (:mod:`mzsr_tf.zssr`)."""
    from .zssr import ZSSRConfig, zssr as run_zssr

    cfg = ZSSRConfig(max_iters=int(options.zssr_iters), ensemble=bool(options.zssr_ensemble),
                     compute_dtype=options.compute_dtype)
    sr, info = run_zssr(np.asarray(lr, np.float32)[None], options.scale, options.kernel, options.subsampling, cfg,
                        seed=options.seed)
    options.notes.setdefault("zssr_runs", []).append(
        {k: info[k] for k in ("iterations", "stopped", "final_rate", "total_seconds")})
    return _numpy(sr)


register("bicubic", bicubic, tiles=True, description="MATLAB-style bicubic interpolation")
register("mzsr", mzsr, uses_steps=True, uses_weights=True, tiles=True,
         description="meta-learned network adapted to the image (the paper's MZSR)")
register("mzsr+ensemble", mzsr_ensemble, uses_steps=True, uses_weights=True, tiles=True,
         description="mzsr, then the mean of the 8 rotated/flipped outputs (~8x the upscaling cost)")
register("zssr", zssr, warmup=False,
         description="the ZSSR baseline, trained from scratch on each image (minutes per image)")
