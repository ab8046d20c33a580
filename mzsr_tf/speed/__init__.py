"""Speed choices made on the machine the package runs on.

:mod:`.cpu` reads what the processor can do, :mod:`.calibrate` times the
convolution gradient paths once per machine and caches the fastest, and
:mod:`.precision` decides where bfloat16 runs by default. ``mzsr-tf info``
(:mod:`.info`) prints all three.
"""
