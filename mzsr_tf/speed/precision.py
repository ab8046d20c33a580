"""The default precision: which parts of zero-shot SR run in bfloat16 when the caller asks for none.

bfloat16 is adopted for a part only on CPUs that do it natively (``avx512_bf16``
or ``amx_bf16``; elsewhere TensorFlow emulates it, 10-40x slower than float32)
and only where ``bench/precision_quality.py`` measured it to move PSNR by less
than 0.02 dB at 0, 1 and 10 steps on held-out photos. The measurement
(docs/speed.md) found no such part: the final pass alone moved the photos'
mean PSNR by up to -0.036 dB at 10 steps, the adaptation up to +0.15 dB
(different, not worse) at 1 step. So ``ADOPTED`` is empty and float32 stays
the default everywhere; ``compute_dtype='bfloat16'`` (``--compute-dtype
bfloat16``) still opts in, for about 1.7x speed on native-bf16 CPUs.
"""
from . import cpu

PARTS = ("upscale", "adapt")  # the final pass; the adaptation's forward and gradient
ADOPTED = ()  # parts measured to hold PSNR within 0.02 dB in bfloat16 (none, see the module docstring)
MEASURED = "final pass -0.036 dB, adaptation +0.15 dB, both -0.055 dB (mean over 4 photos, worst kernel and steps)"


def default_compute_dtype(part, flags=None):
    """The compute dtype of ``part`` when the caller gives none: None (float32) or 'bfloat16'.

    Args:
      part: 'upscale' or 'adapt'.
      flags: the CPU's flags (read from /proc/cpuinfo when None).
    """
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    return "bfloat16" if part in ADOPTED and cpu.native_bf16(flags) else None


def describe(flags=None):
    """One line for ``mzsr-tf info``: the default per part, and why."""
    native = cpu.native_bf16(flags)
    parts = ", ".join(f"{p} {default_compute_dtype(p, flags) or 'float32'}" for p in PARTS)
    if not native:
        why = "bfloat16 is emulated on this CPU"
    elif not ADOPTED:
        why = f"bfloat16 is native here but moved PSNR by more than 0.02 dB on held-out photos ({MEASURED})"
    else:
        why = "bfloat16 where it held PSNR within 0.02 dB on held-out photos"
    return f"{parts} by default ({why}); compute_dtype='bfloat16' / --compute-dtype bfloat16 opts in"
