"""HR image sources for training: a folder tree of images, or a compact crop shard.

The shard is a ``.npz`` of uint8 HR crops [N, P, P, 3] (NumPy only, readable
without TensorFlow): it carries a training set to machines where the image
folders are not at hand (the lent GPU machine takes 64 MiB at most).
"""
import os

import numpy as np

from ..errors import InputError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def list_images(dirs):
    """Sorted image paths under the given folders (recursively)."""
    paths = []
    for d in dirs:
        if not os.path.isdir(d):
            raise InputError(f"{d}: training image folder not found")
        for root, _, files in os.walk(d):
            paths += [os.path.join(root, f) for f in files if f.lower().endswith(IMAGE_EXTS)]
    if not paths:
        raise InputError(f"no images found under {', '.join(dirs)}")
    return sorted(paths)


def read_rgb_uint8(path):
    """An image file as uint8 H×W×3 through the package's one reader (:func:`mzsr_tf.io.read_image`)."""
    from ..io import read_image

    return read_image(path, mode="uint8")[0]


def load_images(paths, min_side, warn=print):
    """Reads images as uint8 HxWx3, skipping (with a message) unreadable or too small ones."""
    images = []
    for p in paths:
        try:
            img = read_rgb_uint8(p)
        except Exception as e:  # a bad file in a training folder is skipped, and said
            warn(f"warning: skipping {p}: {type(e).__name__}: {e}")
            continue
        if min(img.shape[:2]) < min_side:
            warn(f"warning: skipping {p}: smaller than {min_side} px")
            continue
        images.append(img)
    if not images:
        raise InputError("no usable training images")
    return images


def split_train_val(paths, val_count):
    """Holds out every k-th image (deterministic) for validation."""
    if val_count <= 0 or len(paths) <= val_count:
        return paths, []
    stride = len(paths) // val_count
    val = paths[stride // 2 :: stride][:val_count]
    vs = set(val)
    return [p for p in paths if p not in vs], val


class ImagePool:
    """Training HR images in memory, from folders or a shard; crops are drawn by a NumPy RNG."""

    def __init__(self, images):
        self.images = images

    @classmethod
    def from_config(cls, data_cfg, min_side, warn=print):
        """(train pool, list of validation uint8 images) for a DataConfig."""
        if data_cfg.shard:
            return cls.from_shard(data_cfg.shard), load_shard_val(data_cfg.shard)
        train, val = split_train_val(list_images(data_cfg.dirs), data_cfg.val_images)
        return cls(load_images(train, min_side, warn)), load_images(val, min_side, warn) if val else []

    @classmethod
    def from_shard(cls, path):
        if not os.path.isfile(path):
            raise InputError(f"{path}: shard not found (make one with python -m mzsr_tf.data.shard)")
        with np.load(path, allow_pickle=False) as z:
            crops = z["crops"]
        return cls(list(crops))

    def crops(self, rng, count, size):
        """``count`` random size×size crops with random flips and 90° rotations, uint8."""
        out = np.empty((count, size, size, 3), np.uint8)
        for i in range(count):
            img = self.images[rng.integers(len(self.images))]
            h, w = img.shape[:2]
            y = rng.integers(h - size + 1)
            x = rng.integers(w - size + 1)
            c = img[y : y + size, x : x + size]
            if rng.integers(2):
                c = c[:, ::-1]
            out[i] = np.rot90(c, rng.integers(4))
        return out


def load_shard_val(path):
    with np.load(path, allow_pickle=False) as z:
        return list(z["val"]) if "val" in z.files else []


def make_shard(dirs, out, count, size, val_count=4, seed=0):
    """Writes a shard of ``count`` random HR crops (and a few validation crops).

    Args:
      dirs: image folders.
      out: output ``.npz`` path (refused if it exists).
      count: number of training crops.
      size: crop side.
      val_count: held-out validation images, stored as centre crops of 2·size.
    """
    if os.path.exists(out):
        raise InputError(f"{out} exists; remove it first")
    train, val = split_train_val(list_images(dirs), val_count)
    pool = ImagePool(load_images(train, size))
    rng = np.random.default_rng(seed)
    crops = pool.crops(rng, count, size)
    vals = []
    for img in load_images(val, 2 * size) if val else []:
        h, w = img.shape[:2]
        y, x = (h - 2 * size) // 2, (w - 2 * size) // 2
        vals.append(img[y : y + 2 * size, x : x + 2 * size])
    np.savez_compressed(out, crops=crops, val=np.asarray(vals, np.uint8).reshape(-1, 2 * size, 2 * size, 3))
    return out
