"""The paper's test scenarios: LR inputs built from HR ground truth.

Each scenario mod-crops the HR image to a multiple of s, degrades it and rounds
the LR image to uint8 (the paper's inputs are stored PNGs; :func:`make_lr`), or
for 16-bit, float and N-channel data keeps the HR's dtype and precision
(:func:`make_lr_array`). It also says what the zero-shot method must be told:
the blur kernel (None for the plain bicubic scenario) and the subsampling.

==========  =====  ==============  ===========  =========================================
name        scale  kernel          subsampling  LR
==========  =====  ==============  ===========  =========================================
bicubic     2      none            bicubic      MATLAB imresize bicubic ×1/2
g0.2        2      λ = 0.2         direct       blur, keep [0::2, 0::2]
g2.0        2      λ = 2.0         direct       blur, keep [0::2, 0::2]
gani        2      λ1=4, λ2=1,     direct       blur, keep [0::2, 0::2]
                   Θ = -0.5
gb1.3       2      λ = 1.3         bicubic      blur, MATLAB imresize bicubic ×1/2
g2.0x4      4      λ = 2.0         direct       blur, keep [0::4, 0::4]
==========  =====  ==============  ===========  =========================================

Any of the ×2 names with a suffix ``xS`` (S in 2, 3, 4) is the same
degradation at scale S, e.g. ``ganix4`` or ``bicubicx4``.
"""
import dataclasses
import re

import numpy as np

from .constants import KERNEL_SIZE
from .errors import InputError

# Kernel side used for the test inputs: the meta-training grid.
DEFAULT_KERNEL_SIZE = KERNEL_SIZE

# base name -> (kernels.named_kernel name or None, subsampling)
BASES = {
    "bicubic": (None, "bicubic"),
    "g0.2": ("g0.2", "direct"),
    "g2.0": ("g2.0", "direct"),
    "gani": ("gani", "direct"),
    "gb1.3": ("g1.3", "bicubic"),
}
PAPER_SCENARIOS = ("bicubic", "g0.2", "g2.0", "gani", "gb1.3", "g2.0x4")
SCENARIO_SCALES = (2, 3, 4)  # ×3 only with bicubic-style scenarios (no shipped ×3 weights)


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One test degradation.

    Args:
      name: scenario name ('g2.0x4').
      scale: integer SR scale s.
      kernel_name: ``kernels.named_kernel`` name, or None for no blur.
      subsampling: 'direct' or 'bicubic'.
    """

    name: str
    scale: int
    kernel_name: str | None
    subsampling: str

    def kernel(self, size=DEFAULT_KERNEL_SIZE):
        """The blur kernel [size, size] float32 (None for no blur)."""
        if self.kernel_name is None:
            return None
        from .kernels import named_kernel

        return named_kernel(self.kernel_name, size)


def get_scenario(name):
    """Parses a scenario name ('gani', 'g2.0x4', ...).

    Raises:
      InputError: unknown name, with the list of valid ones.
    """
    m = re.fullmatch(r"(.*?)(?:x(\d+))?", str(name))
    base, scale = m.group(1), int(m.group(2)) if m.group(2) else 2
    if base not in BASES or scale not in SCENARIO_SCALES:
        raise InputError(
            f"unknown scenario {name!r}; one of {', '.join(PAPER_SCENARIOS)} "
            f"(or a base {'/'.join(BASES)} with a suffix x2/x3/x4)"
        )
    kernel_name, subsampling = BASES[base]
    return Scenario(str(name), scale, kernel_name, subsampling)


def mod_crop(img, scale):
    """Crops H and W down to multiples of ``scale`` (top-left corner kept)."""
    h, w = img.shape[0], img.shape[1]
    return img[: h - h % scale, : w - w % scale]


def to_uint8(x):
    """Float [0, 1] image to uint8 with rounding (as saving a PNG does)."""
    return np.round(np.clip(np.asarray(x, np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)


def _cropped(hr, scenario):
    """The scenario (parsed) and HR mod-cropped to its scale; InputError when smaller than the scale."""
    if not isinstance(scenario, Scenario):
        scenario = get_scenario(scenario)
    s = scenario.scale
    hr = mod_crop(hr, s)
    if hr.shape[0] < s or hr.shape[1] < s:
        raise InputError(f"HR image {hr.shape[:2]} is smaller than the scale {s}")
    return scenario, hr


def _degraded(x, scenario, kernel_size):
    """The scenario's blur and subsampling of a float32 [1, H, W, C] batch, as float32 [h, w, C] NumPy."""
    from keras import ops

    from .degrade import degrade

    lr = degrade(x, scenario.scale, kernel=scenario.kernel(kernel_size), subsampling=scenario.subsampling)
    return ops.convert_to_numpy(lr)[0]


def make_lr(hr, scenario, kernel_size=DEFAULT_KERNEL_SIZE):
    """Builds the LR test input of a scenario from an HR image.

    Args:
      hr: HxWx3 uint8 HR ground truth.
      scenario: a :class:`Scenario` or its name.
      kernel_size: side of the scenario's blur kernel.

    Returns:
      (hr_cropped uint8 [sh, sw, 3], lr uint8 [h, w, 3]) with sh = s·h, sw = s·w.

    Raises:
      InputError: the image is not HxWx3 uint8 or is smaller than the scale.
    """
    hr = np.asarray(hr)
    if hr.dtype != np.uint8 or hr.ndim != 3 or hr.shape[-1] != 3:
        raise InputError(f"HR image must be HxWx3 uint8, got {hr.shape} {hr.dtype}")
    scenario, hr = _cropped(hr, scenario)
    lr = to_uint8(_degraded(hr[None].astype(np.float32) / 255.0, scenario, kernel_size))
    s = scenario.scale
    assert lr.shape[0] * s == hr.shape[0] and lr.shape[1] * s == hr.shape[1], (lr.shape, hr.shape)
    return hr, lr


def make_lr_array(hr, scenario, kernel_size=DEFAULT_KERNEL_SIZE):
    """The LR test input of a scenario at the HR's own precision (16-bit, float, any channel count).

    The same degradation as :func:`make_lr`, done on the data mapped to [0, 1]
    and back as ``mzsr_tf.upscale`` maps it (:func:`mzsr_tf.arrays.to_unit` /
    :func:`~mzsr_tf.arrays.from_unit`): blur and subsampling are affine (weights
    sum to 1), so the mapping changes nothing but keeps float32's precision
    relative to the data's range. The result is stored as the HR's dtype:
    integers rounded and clipped to the dtype (as saving a 16-bit PNG would),
    floats kept as they come.

    Args:
      hr: H×W×C array of any numeric dtype (C ≥ 1), finite.
      scenario: a :class:`Scenario` or its name.
      kernel_size: side of the scenario's blur kernel.

    Returns:
      (hr_cropped [sh, sw, C], lr [h, w, C]), both of the HR's dtype.

    Raises:
      InputError: not a finite numeric H×W×C array, or smaller than the scale.
    """
    from .arrays import from_unit, to_unit

    hr = np.asarray(hr)
    if hr.ndim != 3 or not np.issubdtype(hr.dtype, np.number) or np.issubdtype(hr.dtype, np.complexfloating):
        raise InputError(f"HR array must be H×W×C of integers or floats, got {hr.shape} {hr.dtype}")
    if not np.all(np.isfinite(hr)):
        raise InputError("HR array has NaN or Inf values")
    scenario, hr = _cropped(hr, scenario)
    x, spec, _ = to_unit(hr, source="HR array")
    return hr, from_unit(_degraded(x[None], scenario, kernel_size), spec)
