"""The paper's test scenarios: LR inputs built from HR ground truth.

Each scenario mod-crops the HR image to a multiple of s, degrades it and rounds
the LR image to uint8 (the paper's inputs are stored PNGs). It also says what
the zero-shot method must be told: the blur kernel (None for the plain bicubic
scenario) and the subsampling.

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
    if not isinstance(scenario, Scenario):
        scenario = get_scenario(scenario)
    hr = np.asarray(hr)
    if hr.dtype != np.uint8 or hr.ndim != 3 or hr.shape[-1] != 3:
        raise InputError(f"HR image must be HxWx3 uint8, got {hr.shape} {hr.dtype}")
    s = scenario.scale
    hr = mod_crop(hr, s)
    if hr.shape[0] < s or hr.shape[1] < s:
        raise InputError(f"HR image {hr.shape[:2]} is smaller than the scale {s}")
    from keras import ops

    from .degrade import degrade

    x = hr[None].astype(np.float32) / 255.0
    k = scenario.kernel(kernel_size)
    lr = degrade(x, s, kernel=k, subsampling=scenario.subsampling)
    lr = to_uint8(ops.convert_to_numpy(lr)[0])
    assert lr.shape[0] * s == hr.shape[0] and lr.shape[1] * s == hr.shape[1], (lr.shape, hr.shape)
    return hr, lr
