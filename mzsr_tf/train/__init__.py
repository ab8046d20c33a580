"""Training (Algorithm 1): ``python -m mzsr_tf.train --config configs/X.yaml [--stage ...]``."""


def main(argv=None):
    from .command import main as _main

    return _main(argv)
