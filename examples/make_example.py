"""Rebuilds the example shipped in the package: a known-degradation LR image and its kernel.

The source is scikit-image's ``astronaut`` (NASA photograph of Eileen Collins,
"no known copyright restrictions, released into the public domain" per the
scikit-image docs). A 320×320 crop (head and shoulders) is taken as the HR image
and degraded the way the paper's g^d_2.0 scenario is: blur with the isotropic
Eq. 3 Gaussian of variance λ = 2.0 (15×15), direct ×2 subsampling, rounded to
8 bits. Writes:

  mzsr_tf/examples/astronaut_lr_g20_x2.png   160×160 LR input
  mzsr_tf/examples/g20.npy                    the 15×15 kernel (float32, sums to 1)

Usage (needs scikit-image, not a dependency of the package)::

    python examples/make_example.py [--hr astronaut_hr.png]

``--hr`` also saves the HR crop, to compare an upscaled result against.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEST = os.path.join(HERE, "..", "mzsr_tf", "examples")
CROP = (slice(8, 328), slice(80, 400))  # rows, columns of the 512×512 original


def make(dest=DEST):
    """Writes the LR example and its kernel into ``dest``; returns (hr uint8, lr uint8, kernel)."""
    import skimage.data

    from mzsr_tf.degrade import degrade
    from mzsr_tf.io import to_uint8, write_image
    from mzsr_tf.kernels import named_kernel

    hr = skimage.data.astronaut()[CROP]
    kernel = named_kernel("g2.0")
    lr = degrade(hr[None].astype(np.float32) / 255.0, 2, kernel=kernel, subsampling="direct", round_uint8=True)
    lr = to_uint8(np.asarray(lr)[0])
    os.makedirs(dest, exist_ok=True)
    write_image(os.path.join(dest, "astronaut_lr_g20_x2.png"), lr, overwrite=True)
    np.save(os.path.join(dest, "g20.npy"), kernel.astype(np.float32))
    return hr, lr, kernel


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hr", metavar="PNG", help="also save the 320×320 HR crop here")
    args = p.parse_args(argv)
    hr, lr, _ = make()
    if args.hr:
        from mzsr_tf.io import write_image

        write_image(args.hr, hr, overwrite=True)
    print(f"wrote {lr.shape[1]}×{lr.shape[0]} LR example and g20.npy to {os.path.normpath(DEST)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
