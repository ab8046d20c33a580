"""``python -m mzsr_tf.export``: a SavedModel for TF Serving that adapts in-graph, and ONNX.

Usage::

    python -m mzsr_tf.export --out models/mzsr/1 [--weights NAME|PATH] [--onnx mzsr.onnx]

The SavedModel's signatures (``serving_default``, ``upscale``, ``adapt_encoded``,
``upscale_encoded``) are described in :mod:`mzsr_tf.serve.saved_model`; scale,
subsampling, step sizes and request limits are fixed per export and written to
``OUT/assets.extra/mzsr_export.json``.
"""
import argparse
import os
import sys

from ..cli import guarded
from ..constants import MAX_LR_PIXELS, MAX_STEPS, ONNX_OPSET
from ..errors import InputError


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m mzsr_tf.export",
        description="Export a SavedModel that adapts at serving time (TF Serving) and, optionally, "
        "the feed-forward network as ONNX.",
    )
    p.add_argument("--out", required=True, metavar="DIR",
                   help="SavedModel directory (for TF Serving: MODEL_BASE/NAME/VERSION, e.g. models/mzsr/1)")
    p.add_argument("--weights", metavar="NAME|PATH", default=None,
                   help="shipped weights name or a .weights.h5 file (default: the shipped weights for "
                   "--scale/--subsampling)")
    p.add_argument("--scale", type=int, default=None,
                   help="SR scale fixed in the export (default: from the shipped weights' card, else 2)")
    p.add_argument("--subsampling", choices=("direct", "bicubic"), default=None,
                   help="how the son is made (default: from the shipped weights' card, else direct)")
    p.add_argument("--max-steps", type=int, default=None,
                   help="most adaptation steps a request may ask for (default 100)")
    p.add_argument("--max-pixels", type=int, default=None,
                   help="largest LR image (height x width) a request may send (default 2048*2048)")
    p.add_argument("--onnx", metavar="FILE", default=None,
                   help="also write the feed-forward pass (LR -> SR, resize included) as ONNX")
    p.add_argument("--onnx-network-only", action="store_true",
                   help="ONNX of the bare network ILR -> ILR + f(ILR) instead")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset, 17 or newer (default 17)")
    p.add_argument("--force", "--overwrite", action="store_true",
                   help="write into a non-empty --out directory and replace an existing --onnx file")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def check_destinations(out, onnx, force):
    """Refuses --out/--onnx destinations that cannot or must not be written, before TensorFlow loads."""
    from ..io import check_output, check_writable

    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"{out}: exists and is not a directory")
    if os.path.isdir(out) and os.listdir(out) and not force:
        raise InputError(f"{out}: directory is not empty (pass --force to write into it)")
    parent = os.path.dirname(os.path.abspath(out))
    if os.path.isdir(parent):
        check_writable(out if os.path.isdir(out) else parent)
    if onnx:
        check_output(onnx, overwrite=force, extensions=(".onnx",))


@guarded
def main(argv=None):
    args = build_parser().parse_args(argv)
    check_destinations(os.fspath(args.out), args.onnx, args.force)
    from .. import weights

    scale, subsampling = args.scale, args.subsampling
    card = weights.info(args.weights) if args.weights else {}
    if scale is None:
        scale = int(card.get("scale") or 2)
    if subsampling is None:
        subsampling = card.get("subsampling") if card.get("subsampling") in ("direct", "bicubic") else "direct"
    max_steps = MAX_STEPS if args.max_steps is None else args.max_steps
    max_pixels = MAX_LR_PIXELS if args.max_pixels is None else args.max_pixels
    opset = ONNX_OPSET if args.opset is None else args.opset
    if not 2 <= scale <= 8:
        raise InputError(f"--scale must be in 2..8, got {scale}")
    if not 0 <= max_steps <= 10000:
        raise InputError(f"--max-steps must be in 0..10000, got {max_steps}")
    if not 1 <= max_pixels <= 1 << 30:
        raise InputError(f"--max-pixels must be in 1..{1 << 30}, got {max_pixels}")
    if opset < 17:
        raise InputError(f"--opset must be 17 or newer, got {opset}")
    out = os.fspath(args.out)

    from .. import serve as serving  # TensorFlow loads here, after every argument was checked

    from ..model import kernel_pca_of

    model = weights.load_model(args.weights, scale, subsampling)
    params = [v.numpy() for v in model.trainable_variables]
    kernel_pca = kernel_pca_of(model)
    source = args.weights or weights.default_name(scale, subsampling)
    try:
        meta = serving.export_saved_model(
            out, params, scale=scale, subsampling=subsampling, max_steps=max_steps, max_pixels=max_pixels,
            step_sizes=weights.step_sizes(source, max_steps, subsampling, scale),
            metadata={"weights": os.path.basename(str(source))}, kernel_pca=kernel_pca,
        )
    except OSError as e:
        raise InputError(f"{out}: cannot write the SavedModel ({e})") from None
    print(f"SavedModel: {out}  (x{scale}, {subsampling} subsampling, steps 0..{max_steps}, "
          f"LR images {meta['min_side']} px a side to {max_pixels} px)")
    for name in serving.SIGNATURE_NAMES:
        sig = meta["signatures"][name]
        ins = ", ".join(f"{k} {v}" for k, v in sig["inputs"].items())
        outs = ", ".join(f"{k} {v}" for k, v in sig["outputs"].items())
        print(f"  {name}: {ins} -> {outs}")
    if args.onnx:
        info = serving.export_onnx(params, args.onnx, scale=scale, opset=opset,
                                   network_only=args.onnx_network_only)
        what = "ILR -> ILR + f(ILR)" if args.onnx_network_only else f"LR -> SR x{scale}, clipped to [0, 1]"
        code = "" if kernel_pca is None else f" and code float32 [1,{len(kernel_pca[1])}] (the kernel's PCA code)"
        print(f"ONNX: {info['path']}  (opset {opset}; input {info['input']} float32 [1,H,W,3]{code}, "
              f"output sr; {what})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
