"""Photos as people shrink and save them: ordinary resizers and JPEG, in NumPy with Pillow.

A photo downscaled by Pillow, OpenCV or an image editor and saved as JPEG is not
a Gaussian-blurred, subsampled image: the resizer's own filter sets the blur and
the JPEG quantisation adds blocks and ringing. Pretraining on pairs made this
way (``pretrain.resizers`` / ``pretrain.jpeg_quality``) teaches the network that
degradation, and the real-photo measurement uses the same two functions.
"""
import io

import numpy as np
from PIL import Image

# Pillow's filters, each with its antialiasing support scaled by the factor as resizers do
# when shrinking; 'bicubic' (a = -0.5) is Pillow's default and matches MATLAB's imresize.
# 'box' is computed as the rounded block mean, which is OpenCV's INTER_AREA at integer factors.
RESIZERS = {
    "bicubic": Image.Resampling.BICUBIC,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "lanczos": Image.Resampling.LANCZOS,
}


def shrink(hr_uint8, scale, resizer="bicubic"):
    """HR uint8 H×W×3 → uint8 (H/s)×(W/s)×3 by the named Pillow filter.

    Args:
      hr_uint8: uint8 array, H and W multiples of ``scale``.
      scale: integer factor.
      resizer: a key of ``RESIZERS``.
    """
    h, w = hr_uint8.shape[0] // scale, hr_uint8.shape[1] // scale
    if resizer == "box":
        # Pillow's fixed-point BOX adds about half a level; the block mean rounded is INTER_AREA exactly.
        blocks = hr_uint8[: h * scale, : w * scale].reshape(h, scale, w, scale, -1).mean(axis=(1, 3))
        return np.round(blocks).astype(np.uint8)
    return np.asarray(Image.fromarray(hr_uint8).resize((w, h), RESIZERS[resizer]))


def jpeg_roundtrip(img_uint8, quality):
    """The image saved as JPEG with Pillow's defaults (4:2:0 chroma) at ``quality``, read back as uint8."""
    buf = io.BytesIO()
    Image.fromarray(img_uint8).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def photo_pairs(rng, hr_uint8, scale, resizers, jpeg_quality=(), jpeg_fraction=0.0):
    """LR versions of HR crops, each shrunk by a random resizer and maybe saved as JPEG.

    Args:
      rng: a NumPy Generator (the batch's own, so the pairs are a function of the step).
      hr_uint8: uint8 [B, P, P, 3] HR crops.
      scale: integer factor.
      resizers: names from ``RESIZERS`` drawn uniformly per crop.
      jpeg_quality: (low, high) JPEG qualities drawn uniformly (inclusive); empty: no JPEG.
      jpeg_fraction: probability that a crop is JPEG-compressed.

    Returns:
      uint8 [B, P/s, P/s, 3].
    """
    out = []
    for hr in hr_uint8:
        lr = shrink(hr, scale, resizers[rng.integers(len(resizers))])
        if len(jpeg_quality) and rng.random() < jpeg_fraction:
            lr = jpeg_roundtrip(lr, rng.integers(jpeg_quality[0], jpeg_quality[1] + 1))
        out.append(lr)
    return np.stack(out)


# Low AC frequencies of the 8×8 DCT: the ones a JPEG quantises coarsely enough to see.
_JPEG_FREQS = ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (1, 2), (2, 1), (2, 2), (0, 3), (3, 0))
# Evidence above this: JPEG-compressed. Measured on 354 training photos shrunk ×2 (bicubic, box,
# Lanczos): lossless at most 0.165; JPEG quality 60 and 75 all above (least 0.25), 85 all but
# one, 90 98%; quality 95 is indistinguishable from lossless (quantisation steps of 1-2 levels).
JPEG_THRESHOLD = 0.2
MIN_BLOCKS = 100  # smaller images (under about 80×80) score 0: too few blocks to tell


def jpeg_evidence(image, max_blocks=20000):
    """How strongly the 8×8-block DCT coefficients of the luma cluster on a quantisation grid.

    A decoded JPEG's coefficients (on its own block grid, from the top-left
    pixel) sit near multiples of its quantisation steps; a lossless image's do
    not. For each low frequency the best step q in 3..39 scores the mean of
    cos(2π c / q) over coefficients not quantised to zero; the median over
    frequencies is returned: about 0 for lossless images, up to 1.

    Args:
      image: H×W or H×W×3 array, uint8 or float in [0, 1].
      max_blocks: blocks read at most (evenly spaced), so large images cost the same.

    Returns:
      the evidence, 0 for images of fewer than ``MIN_BLOCKS`` blocks.
    """
    from scipy.fft import dctn

    x = np.asarray(image)
    x = x.astype(np.float64) * (255.0 if x.dtype != np.uint8 and x.max(initial=0.0) <= 1.0 else 1.0)
    y = (x[..., :3] @ np.array([0.299, 0.587, 0.114]) if x.ndim == 3 and x.shape[2] >= 3 else x.reshape(x.shape[:2]))
    h, w = y.shape[0] // 8 * 8, y.shape[1] // 8 * 8
    if h * w < MIN_BLOCKS * 64:
        return 0.0
    blocks = (y[:h, :w] - 128.0).reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    blocks = blocks[:: max(1, len(blocks) // max_blocks)]
    coef = dctn(blocks, axes=(1, 2), norm="ortho")
    best = []
    for u, v in _JPEG_FREQS:
        c, scores = coef[:, u, v], [0.0]
        for q in range(3, 40):
            kept = c[np.abs(c) >= q / 2]
            if kept.size >= 30:  # too few nonzero coefficients say nothing
                scores.append(float(np.mean(np.cos(2 * np.pi * kept / q))))
        best.append(max(scores))
    return float(np.median(best))


def looks_like_jpeg(image):
    """True when :func:`jpeg_evidence` says the image was saved as JPEG (quality up to about 90)."""
    return jpeg_evidence(image) > JPEG_THRESHOLD
