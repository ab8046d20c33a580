"""``python -m mzsr_tf.ui``: the same as ``mzsr-tf ui``."""
import sys

from mzsr_tf.ui.command import main

if __name__ == "__main__":
    sys.exit(main())
