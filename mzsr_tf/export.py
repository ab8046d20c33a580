"""``python -m mzsr_tf.export``: the export command (it lives in :mod:`mzsr_tf.serve.command`)."""
import sys

from .serve.command import main

if __name__ == "__main__":
    sys.exit(main())
