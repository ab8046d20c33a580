"""Any image size in bounded memory: overlapping tiles for the upscaling pass, random crops for adaptation.

Algorithm 2 itself stays in :mod:`mzsr_tf.adapt`; this module only decides how
much of the image one graph run sees (:func:`plan`), cuts it (:func:`tiles`,
:func:`random_crops`) and pastes the results (:func:`run_tiled`).

Tiles are exact. The SR of an LR pixel depends on the LR pixels within
``margin(scale)`` of it: the network is 8 conv 3×3 layers, so an HR pixel sees
8 HR pixels (8/s LR pixels) around it, and each ILR pixel is a bicubic mix of
LR pixels within 2 of it. A tile padded by that margin (clipped at the image
edge, where the tile's own padding equals the whole image's) therefore gives
the same core pixels as the whole image, up to float rounding.

Memory, measured on CPU with TensorFlow (float32): the upscaling pass holds
about ``BYTES_PER_HR_PIXEL`` per output pixel of a tile; adaptation keeps every
layer's activations for the gradient, about ``BYTES_PER_ADAPT_PIXEL`` per LR
pixel it trains on. The process itself (TensorFlow, weights) takes about
0.9 GB, and the image and its float32 result 12·(1 + s²) bytes per LR pixel,
outside the budget.
"""
import dataclasses
import math

import numpy as np

from .errors import InputError

BYTES_PER_HR_PIXEL = 768  # measured ~560 B per output pixel of an upscaling pass; some headroom
BYTES_PER_ADAPT_PIXEL = 9 * 1024  # measured ~8 KB per LR pixel adapted on (activations kept for the gradient)
DEFAULT_MAX_MEMORY = 1 << 30  # 1 GiB for the network's activations
MIN_MAX_MEMORY = 64 << 20  # below this not even one 128×128 crop fits
RECEPTIVE_HR = 8  # 8 conv 3×3 layers: an HR pixel sees 8 HR pixels each side
RESIZE_SUPPORT = 2  # bicubic (support 4): an ILR pixel mixes LR pixels within 2 each side
CROP_SIDE = 128  # LR pixels a side of an adaptation crop (ZSSR's crop size)
MAX_CROPS = 16  # more crops than this adds time, not quality (docs/guide/large-images.md)
MIN_TILE = 16  # smallest tile core side, LR pixels


def margin(scale):
    """LR pixels of context a tile needs on each side so its core equals the untiled result."""
    return math.ceil(RECEPTIVE_HR / int(scale)) + RESIZE_SUPPORT + 1


def parse_memory(text):
    """'1.5G', '800M', '2GiB', '1073741824' → bytes; InputError for anything else or below 64 MiB."""
    s = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    mult = units.get(s[-1:], 1)
    try:
        n = float(s[:-1] if s[-1:] in units else s) * mult
    except ValueError:
        raise InputError(f"--max-memory: not a size: {text!r} (e.g. 2G, 800M)") from None
    if not math.isfinite(n) or n < MIN_MAX_MEMORY:
        raise InputError(f"--max-memory must be at least 64M, got {text!r}")
    return int(n)


@dataclasses.dataclass(frozen=True)
class Plan:
    """How one image is processed within a memory budget.

    Args:
      tile: LR side of a tile's core, or None when the whole image is upscaled at once.
      margin: LR pixels of context around each tile.
      crops: (side, count) of the LR crops adaptation trains on, or None for the whole image.
    """

    tile: int | None
    margin: int
    crops: tuple | None

    @property
    def whole(self):
        """True when Algorithm 2 runs on the whole image in one graph."""
        return self.tile is None and self.crops is None


def check_memory(max_memory):
    """max_memory as int bytes; InputError when it is not a number of at least 64 MiB."""
    if isinstance(max_memory, str):
        return parse_memory(max_memory)
    if isinstance(max_memory, bool) or not isinstance(max_memory, (int, np.integer, float)) \
            or not max_memory >= MIN_MAX_MEMORY:
        raise InputError(f"max_memory must be a number of bytes of at least {MIN_MAX_MEMORY}, got {max_memory!r}")
    return int(max_memory)


def plan(h, w, scale, max_memory=DEFAULT_MAX_MEMORY):
    """Tile side and adaptation crops for an h×w LR image at ``scale`` within ``max_memory`` bytes.

    Args:
      h, w: LR image size.
      scale: SR scale.
      max_memory: bytes for the network's activations (see the module docstring).

    Returns:
      a :class:`Plan`. The whole image is upscaled in one pass when
      s²·h·w·BYTES_PER_HR_PIXEL fits; else square tiles whose padded output
      fits. Adaptation uses the whole image when h·w·BYTES_PER_ADAPT_PIXEL
      fits; else min(MAX_CROPS, budget / crop cost) crops of CROP_SIDE (or the
      image's shorter side, rounded down to a multiple of the scale).
    """
    s, m, budget = int(scale), margin(scale), check_memory(max_memory)
    tile = None
    if s * s * h * w * BYTES_PER_HR_PIXEL > budget:
        padded = int(math.sqrt(budget / BYTES_PER_HR_PIXEL)) // s  # LR side of a padded tile that fits
        tile = max(MIN_TILE, padded - 2 * m)
    crops = None
    if h * w * BYTES_PER_ADAPT_PIXEL > budget:
        side = min(CROP_SIDE, h, w) // s * s
        crops = (side, int(max(1, min(MAX_CROPS, budget // (side * side * BYTES_PER_ADAPT_PIXEL)))))
    return Plan(tile, m, crops)


def tiles(h, w, tile, pad):
    """The tiles covering an h×w image: ((y0, y1, x0, x1) core, (py0, py1, px0, px1) padded) pairs.

    Args:
      tile: core side; pad: context on each side (clipped at the image edge).
    """
    out = []
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(h, y0 + tile), min(w, x0 + tile)
            out.append(((y0, y1, x0, x1), (max(0, y0 - pad), min(h, y1 + pad), max(0, x0 - pad), min(w, x1 + pad))))
    return out


def run_tiled(fn, lr, scale, tile, pad, progress=None):
    """Applies a feed-forward LR → SR function tile by tile and pastes the cores.

    Args:
      fn: ``fn(float32 [1, h, w, C]) -> [1, s·h, s·w, C]`` (tensor or array).
      lr: float32 [H, W, C].
      scale: integer SR scale.
      tile, pad: core side and context (:func:`margin`), LR pixels.
      progress: ``progress(iterable)`` wrapper (tqdm) or None.

    Returns:
      float32 [s·H, s·W, C].
    """
    s, (h, w, c) = int(scale), lr.shape
    out = np.empty((s * h, s * w, c), np.float32)
    parts = tiles(h, w, tile, pad)
    for (y0, y1, x0, x1), (py0, py1, px0, px1) in (parts if progress is None else progress(parts)):
        sr = np.asarray(fn(np.ascontiguousarray(lr[None, py0:py1, px0:px1])))[0]
        oy, ox = s * (y0 - py0), s * (x0 - px0)
        out[s * y0:s * y1, s * x0:s * x1] = sr[oy:oy + s * (y1 - y0), ox:ox + s * (x1 - x0)]
    return out


def random_crops(lr, side, count, scale, seed=0):
    """``count`` side×side crops of an LR image at seeded random positions, a batch [count, side, side, C].

    Crop corners sit on multiples of ``scale`` so each crop's son is subsampled
    on the same grid as the whole image's.
    """
    h, w = lr.shape[:2]
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, (h - side) // scale + 1, count) * scale
    xs = rng.integers(0, (w - side) // scale + 1, count) * scale
    return np.stack([lr[y:y + side, x:x + side] for y, x in zip(ys, xs)]).astype(np.float32)
