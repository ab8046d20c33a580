"""``python -m mzsr_tf.data.shard``: pack random HR crops into a compact ``.npz`` shard.

The shard (uint8 crops, NumPy only) carries training data to machines where the
image folders are not at hand, such as the lent GPU machine (64 MiB transfer cap):
train there with ``--set data.shard=PATH``.
"""
import argparse
import os
import sys

from ..cli import guarded
from ..errors import InputError
from ..train.config import DEFAULT_TRAIN_DIR
from .sources import make_shard


@guarded
def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m mzsr_tf.data.shard", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dirs", nargs="+", default=[DEFAULT_TRAIN_DIR], help=f"HR image folders (default {DEFAULT_TRAIN_DIR})")
    p.add_argument("--out", required=True, help="output .npz (refused if it exists)")
    p.add_argument("--count", type=int, default=2000, help="number of training crops (default 2000)")
    p.add_argument("--size", type=int, default=96, help="crop side in pixels (default 96)")
    p.add_argument("--val", type=int, default=4, help="held-out validation images, stored as 2·size centre crops")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.count < 1 or a.size < 8:
        raise InputError("--count must be >= 1 and --size >= 8")
    make_shard(a.dirs, a.out, a.count, a.size, a.val, a.seed)
    mib = os.path.getsize(a.out) / 2**20
    print(f"wrote {a.out}: {a.count} crops of {a.size}x{a.size} ({mib:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
