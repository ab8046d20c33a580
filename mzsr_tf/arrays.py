"""Any data in, the same data out: bit depth, channels and value range around a float RGB method.

The networks map float RGB in [0, 1] to float RGB in [0, 1]. :func:`to_unit`
maps an array there per channel and records how to map back; :func:`apply`
feeds the channels to a method; :func:`from_unit` returns the input's dtype and
range. Ranges:

- uint8 / uint16 images (1, 3 or 4 channels): 0..255 / 0..65535 (depth kept);
- float images with 1, 3 or 4 channels in [0, 1]: [0, 1];
- anything else (other channel counts, float data outside [0, 1], other
  integer types), or when asked: each channel by its own range, min–max
  (default), a fixed ``LO,HI`` for all channels, or percentiles ``pLO,HI``
  (values outside are clipped, and said).

Channels: RGB goes through the network as RGB; gray as gray replicated ×3 (the
mean of the 3 outputs kept); RGBA as RGB, its alpha upscaled with bicubic and
re-attached; data channels one by one as gray (``channels='gray'``, the
default: 34.3 dB mean against 33.0 for groups on bench/multichannel.py's 6 fields) or in groups
of 3 (``'groups'``, a third of the runs; compare with bench/multichannel.py). A constant channel is returned as that constant;
NaN or Inf is refused.
"""
import dataclasses

import numpy as np

from .errors import InputError


@dataclasses.dataclass
class Spec:
    """How an array was brought to [0, 1] and how to bring the result back.

    Args:
      dtype: the input's dtype.
      squeeze: the input was H×W (no channel axis).
      lo, hi: per-channel range mapped to [0, 1].
      kind: 'rgb', 'gray', 'rgba' (image channels) or 'data' (channels on their own).
      constant: channels whose value is constant (returned as is).
      description: the normalisation, for the user.
    """

    dtype: np.dtype
    squeeze: bool
    lo: np.ndarray
    hi: np.ndarray
    kind: str
    constant: list
    description: str


def parse_range(text):
    """'minmax', 'LO,HI' or 'pLO,HI' (percentiles) → ('minmax',) / ('fixed', lo, hi) / ('percentile', lo, hi)."""
    if text in (None, "auto"):
        return None
    if text == "minmax":
        return ("minmax",)
    t = str(text).strip()
    kind = "percentile" if t[:1].lower() == "p" else "fixed"
    try:
        lo, hi = (float(v) for v in t.lstrip("pP").split(","))
    except ValueError:
        raise InputError(f"--range: expected minmax, LO,HI or pLO,HI (percentiles), got {text!r}") from None
    if not lo < hi or (kind == "percentile" and not 0 <= lo < hi <= 100):
        raise InputError(f"--range: need LO < HI{' within 0..100' if kind == 'percentile' else ''}, got {text!r}")
    return (kind, lo, hi)


def to_unit(array, value_range=None, source="array"):
    """An H×W or H×W×C numeric array as float32 H×W×C in [0, 1], its :class:`Spec` and notes.

    Args:
      array: array-like, any numeric dtype.
      value_range: None (auto: see the module docstring), 'minmax', 'LO,HI' or 'pLO,HI'.
      source: name used in messages.

    Raises:
      InputError: not numeric, not 2-D or 3-D, empty, NaN/Inf in a channel, a bad range.
    """
    a = np.asarray(array)
    if a.dtype == object or a.dtype == bool or not np.issubdtype(a.dtype, np.number) \
            or np.issubdtype(a.dtype, np.complexfloating):
        raise InputError(f"{source}: array has dtype {a.dtype}; expected integers or floats")
    squeeze = a.ndim == 2
    x = a[:, :, None] if squeeze else a
    if x.ndim != 3 or min(x.shape) < 1:
        raise InputError(f"{source}: array has shape {a.shape}; expected H×W or H×W×C")
    c = x.shape[-1]
    if np.issubdtype(x.dtype, np.floating):
        bad = [i for i in range(c) if not np.all(np.isfinite(x[..., i]))]
        if bad:
            raise InputError(f"{source}: channel(s) {', '.join(map(str, bad))} have NaN or Inf values; "
                             "fill or drop them first")
    how = parse_range(value_range)
    image = c in (1, 3, 4) and how is None
    if image and a.dtype in (np.uint8, np.uint16):
        peak = 255.0 if a.dtype == np.uint8 else 65535.0
        lo, hi, desc = np.zeros(c), np.full(c, peak), f"{a.dtype} 0..{peak:.0f}"
    elif image and np.issubdtype(a.dtype, np.floating) and x.min() >= 0.0 and x.max() <= 1.0:
        lo, hi, desc = np.zeros(c), np.ones(c), "float in [0, 1]"
    else:
        image, how = False, how or ("minmax",)
        if how[0] == "fixed":
            lo, hi = np.full(c, how[1]), np.full(c, how[2])
            desc = f"all channels mapped from [{how[1]:g}, {how[2]:g}]"
        elif how[0] == "percentile":  # one channel at a time: a float64 copy of one channel, not of all
            q = [np.percentile(x[..., i].astype(np.float64), how[1:]) for i in range(c)]
            lo, hi = np.array([v[0] for v in q]), np.array([v[1] for v in q])
            desc = f"each channel mapped from its {how[1]:g}th–{how[2]:g}th percentiles"
        else:  # min and max are exact in the input's own dtype
            lo = x.reshape(-1, c).min(axis=0).astype(np.float64)
            hi = x.reshape(-1, c).max(axis=0).astype(np.float64)
            desc = "each channel mapped from its own min–max"
    constant = [i for i in range(c) if hi[i] <= lo[i]]
    span = np.where(hi > lo, hi - lo, 1.0)
    y, outside = np.empty(x.shape, np.float32), 0
    for rows in _row_blocks(x):
        part = (x[rows].astype(np.float64) - lo) / span
        outside += int(np.count_nonzero((part < 0) | (part > 1)))
        y[rows] = np.clip(part, 0.0, 1.0)
    notes = [] if image and c == 3 and a.dtype == np.uint8 else [f"values: {desc}"]
    if outside:
        notes.append(f"{outside} value(s) outside the range clipped to it")
    if constant:
        notes.append(f"constant channel(s) {', '.join(map(str, constant))} returned as their constant")
    kind = "data" if not image else {1: "gray", 3: "rgb", 4: "rgba"}[c]
    if kind == "rgba":
        notes.append("alpha channel upscaled with bicubic interpolation and re-attached")
    spec = Spec(a.dtype, squeeze, lo, hi, kind, constant, desc)
    return y, spec, notes


# Values per block of the float64 arithmetic of to_unit and from_unit (32 MiB of float64):
# whole-array temporaries took about 3 GiB beyond the result on a 12 MP image's ×2 output.
BLOCK_VALUES = 1 << 22


def _row_blocks(x):
    """Slices of whole rows of ``x`` holding about ``BLOCK_VALUES`` values each."""
    per_row = max(1, x[:1].size)
    step = max(1, BLOCK_VALUES // per_row)
    return [slice(r, r + step) for r in range(0, x.shape[0], step)]


def from_unit(y, spec):
    """A float [0, 1] result back to the input's range, dtype and layout."""
    out = np.empty(y.shape, spec.dtype)
    integer = np.issubdtype(spec.dtype, np.integer)
    for rows in _row_blocks(y):
        x = y[rows].astype(np.float64) * (spec.hi - spec.lo) + spec.lo
        for i in spec.constant:
            x[..., i] = spec.lo[i]
        if integer:
            info = np.iinfo(spec.dtype)
            x = np.clip(np.round(x), info.min, info.max)
        out[rows] = x
    return out[..., 0] if spec.squeeze else out


def apply(run, x, spec, scale, channels="gray", progress=None, bicubic=None):
    """Runs a float RGB method on the channels of ``x`` as :class:`Spec` says.

    Args:
      run: ``run(float32 [H, W, 3]) -> [sH, sW, 3]`` (a method with its options).
      x: float32 [H, W, C] in [0, 1] from :func:`to_unit`.
      spec: its :class:`Spec`.
      scale: SR scale (the result's size when every channel is constant).
      channels: 'gray' (each data channel alone, replicated ×3) or 'groups' (3 at a time).
      progress: ``progress(iterable)`` wrapper over the channel runs, or None.
      bicubic: the same kind of function for the alpha channel (plain interpolation).

    Returns:
      float32 [sH, sW, C].
    """
    if channels not in ("gray", "groups"):
        raise InputError(f"channels must be 'gray' or 'groups', got {channels!r}")
    if spec.kind == "rgb":
        return run(x)
    if spec.kind == "rgba":
        alpha = bicubic(np.repeat(x[..., 3:], 3, axis=-1))[..., :1]
        return np.concatenate([run(x[..., :3]), np.clip(alpha, 0.0, 1.0)], axis=-1)
    live = [i for i in range(x.shape[-1]) if i not in spec.constant]
    size = 3 if channels == "groups" and spec.kind == "data" else 1
    groups = [live[i:i + size] for i in range(0, len(live), size)]
    out = np.zeros((scale * x.shape[0], scale * x.shape[1], x.shape[-1]), np.float32)
    for g in (groups if progress is None else progress(groups)):
        pick = (g + [g[-1]] * 3)[:3]  # a short group repeats its last channel
        sr = run(np.ascontiguousarray(x[..., pick]))
        if size == 1:
            out[..., g[0]] = sr.mean(axis=-1)
        else:
            out[..., g] = sr[..., :len(g)]
    return out
