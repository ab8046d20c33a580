"""The command-line programs; each module has ``main(argv=None) -> int``.

Commands are thin: parse arguments, check them and the outputs before any heavy
work, call the library, print. ``python -m mzsr_tf.NAME`` and ``mzsr-tf NAME``
run them.
"""
