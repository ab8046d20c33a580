"""Speed choices made on the machine the package runs on.

:mod:`.cpu` reads what the processor can do, :mod:`.calibrate` times the
convolution gradient paths once per machine and caches the fastest, and
:mod:`.precision` decides where bfloat16 runs by default. ``mzsr-tf info``
(:mod:`.info`) prints all three.
"""
import os

from ..errors import InputError


def env_setting(name, choices, environ=None):
    """The value of environment variable ``name``: one of ``choices``, or None for 'auto' / unset.

    Args:
      environ: a mapping in place of ``os.environ`` (tests).

    Raises:
      InputError: any other value (one line at the command line, no traceback).
    """
    value = (os.environ if environ is None else environ).get(name, "").strip().lower()
    if value in ("", "auto"):
        return None
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(choices)} or auto, got {value!r}")
    return value
