"""The default precision of zero-shot SR when the caller asks for none: float32 or bfloat16.

bfloat16 is the default only on CPUs that do it natively (``avx512_bf16`` or
``amx_bf16``; elsewhere TensorFlow emulates it, 10-40x slower than float32),
and only for the parts ``bench/precision_quality.py`` measured to move PSNR by
less than 0.02 dB at 0, 1 and 10 steps on held-out photos. With the network's
first layer kept in float32 (:func:`mzsr_tf.model.forward`) both parts held:
adaptation and final pass in bfloat16 moved the photos' mean PSNR by at most
0.0045 dB (docs/speed.md). Rounding the ILR itself to bfloat16 had cost
0.02-0.04 dB.

``MZSR_TF_PRECISION`` (``float32``, ``bfloat16`` or ``auto``) overrides the
choice for every call that gives no ``compute_dtype``; a ``compute_dtype``
argument (``--compute-dtype``) that is not None wins over both.
"""
from . import cpu, env_setting

ENV_PRECISION = "MZSR_TF_PRECISION"
CHOICES = ("float32", "bfloat16")
ADOPTED = ("adapt", "upscale")  # parts measured to hold PSNR within 0.02 dB in bfloat16 (both)
MEASURED = "at most 0.0045 dB on the mean of 4 held-out photos at 0, 1 and 10 steps, 2 kernels"


def env_precision(environ=None):
    """The precision ``MZSR_TF_PRECISION`` names, or None for 'auto' / unset; InputError for any other value."""
    return env_setting(ENV_PRECISION, CHOICES, environ)


def default_compute_dtype(flags=None, environ=None):
    """The ``compute_dtype`` of a call that gives None: None (float32) or 'bfloat16'.

    Args:
      flags: the CPU's flags (read from /proc/cpuinfo when None).
      environ: a mapping in place of ``os.environ`` (tests).
    """
    forced = env_precision(environ)
    if forced:
        return None if forced == "float32" else forced
    return "bfloat16" if ADOPTED and cpu.native_bf16(flags) else None


def describe(flags=None, environ=None):
    """One line for ``mzsr-tf info``: the default and why."""
    dtype = default_compute_dtype(flags, environ) or "float32"
    if env_precision(environ):
        why = f"set by {ENV_PRECISION}"
    elif not cpu.native_bf16(flags):
        why = "bfloat16 is emulated on this CPU"
    else:
        why = f"bfloat16 is native here and held PSNR ({MEASURED}); first layer float32"
    return (f"{dtype} by default ({why}); {ENV_PRECISION}=float32|bfloat16|auto or compute_dtype= / "
            "--compute-dtype bfloat16 override it")
