"""``python -m mzsr_tf.upscale``: the upscale command (:mod:`mzsr_tf.commands.upscale`).

The Python API of the same name is the function ``mzsr_tf.upscale`` (:mod:`mzsr_tf.api`).
"""
if __name__ == "__main__":
    import sys

    from mzsr_tf.commands.upscale import main

    sys.exit(main())
