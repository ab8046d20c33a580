"""``python -m mzsr_tf.estimate``: write the estimated kernel of an image or a folder; blind evaluation.

    python -m mzsr_tf.estimate photo.png --out kernel.npy [--png kernel.png] [--scale 2]
    python -m mzsr_tf.estimate photos/ --out kernels/ [--png kernels_png/]
    python -m mzsr_tf.estimate --evaluate --hr-dir Set5 [--scenario rk g2.0] [--steps 10] [--json out.json]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

from ..cli import guarded
from ..errors import InputError
from ..io import IMAGE_EXTENSIONS, check_output, read_image, write_image
from . import SCALES, SUBSAMPLINGS, check_options, estimate_kernel, min_side

PNG_ZOOM = 16  # each kernel tap becomes a 16×16 block in the PNG


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        raise InputError(message)


def build_parser():
    p = _Parser(prog="python -m mzsr_tf.estimate",
                description="Estimate the blur kernel of LR images from the images alone (for --kernel).",
                epilog="Bad inputs give one 'error: ...' line and exit status 2; in a folder run each bad file "
                "is reported, the others are still written, and the exit status is 1.")
    p.add_argument("input", metavar="INPUT", nargs="?", help="an image (or .npy array) or a folder of them")
    p.add_argument("--out", metavar="PATH", help="kernel .npy file (a folder when INPUT is a folder)")
    p.add_argument("--png", metavar="PATH", help="also an enlarged grayscale PNG of the kernel (a folder for a folder)")
    p.add_argument("--scale", type=int, default=2, help=f"SR scale, one of {SCALES} (default 2)")
    p.add_argument("--subsampling", default="direct", help="direct (default) or bicubic")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--evaluate", action="store_true", help="blind evaluation on --hr-dir instead")
    p.add_argument("--hr-dir", metavar="DIR", help="HR images for --evaluate")
    p.add_argument("--scenario", nargs="+", default=["rk"], help="rk and/or paper scenarios (g0.2 g2.0 gani ...)")
    p.add_argument("--steps", type=int, default=10, help="MZSR adaptation steps in --evaluate (default 10)")
    p.add_argument("--weights", metavar="NAME|PATH", help="MZSR weights for --evaluate (default: shipped)")
    p.add_argument("--json", metavar="PATH", help="write --evaluate rows to this JSON file")
    return p


def _check_file_out(path, ext, overwrite):
    if not path.lower().endswith(ext):
        raise InputError(f"{path}: output must be a {ext} file")
    if os.path.isdir(path):
        raise InputError(f"{path}: output is a folder, not a file")
    if os.path.exists(path) and not overwrite:
        raise InputError(f"{path}: output exists; pass --overwrite to replace it")
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise InputError(f"{path}: output folder does not exist")


def plan(src, out, png, overwrite):
    """(input, npy, png-or-None) triples, checked before any work.

    Raises:
      InputError: missing input, no images in a folder, outputs of the wrong kind or existing.
    """
    if not os.path.exists(src):
        raise InputError(f"{src}: input not found")
    if not os.path.isdir(src):
        _check_file_out(out, ".npy", overwrite)
        if png:
            check_output(png, overwrite)
        return [(src, out, png)]
    for d in (out, png):
        if d and os.path.exists(d) and not os.path.isdir(d):
            raise InputError(f"{d}: INPUT is a folder, so this output must be a folder")
    names = sorted(n for n in os.listdir(src) if n.lower().endswith(IMAGE_EXTENSIONS) and not n.startswith("."))
    if not names:
        raise InputError(f"{src}: no image files in this folder")
    stem = lambda n: os.path.splitext(n)[0]  # noqa: E731
    jobs = [(os.path.join(src, n), os.path.join(out, stem(n) + ".npy"),
             os.path.join(png, stem(n) + ".png") if png else None) for n in names]
    existing = [p for j in jobs for p in j[1:] if p and os.path.exists(p)]
    if existing and not overwrite:
        raise InputError(f"{len(existing)} output file(s) exist (e.g. {existing[0]}); pass --overwrite to replace them")
    return jobs


def kernel_png(kernel, zoom=PNG_ZOOM):
    """The kernel as an enlarged uint8 H×W×3 picture, brightest tap white."""
    k = np.asarray(kernel, np.float64)
    g = np.round(255.0 * k / max(k.max(), 1e-12)).astype(np.uint8)
    g = np.kron(g, np.ones((zoom, zoom), np.uint8))
    return np.repeat(g[:, :, None], 3, axis=2)


def _estimate_files(args):
    check_options(args.scale, args.subsampling)
    if not args.out:
        raise InputError("--out is required (a .npy file, or a folder for a folder)")
    jobs = plan(args.input, args.out, args.png, args.overwrite)
    if len(jobs) == 1 and not os.path.isdir(args.input):
        image, _ = read_image(jobs[0][0])  # a bad single file fails before anything is written
        _check_side(image, jobs[0][0], args.scale)
    for d in {os.path.dirname(j[1]) for j in jobs} | {os.path.dirname(j[2]) for j in jobs if j[2]}:
        os.makedirs(d or ".", exist_ok=True)
    from tqdm import tqdm

    failed, times = 0, []
    for src, npy, png in tqdm(jobs, unit="image", disable=None, file=sys.stderr, leave=False):
        t0 = time.perf_counter()
        try:
            image, _ = read_image(src)
            _check_side(image, src, args.scale)
            k, info = estimate_kernel(image, args.scale, args.subsampling, return_info=True)
        except InputError as e:
            tqdm.write(f"error: {e}", file=sys.stderr)
            failed += 1
            continue
        np.save(npy, k)
        if png:
            write_image(png, kernel_png(k), overwrite=args.overwrite)
        times.append(time.perf_counter() - t0)
        tqdm.write(f"{src}: λ1 {info['lambda1']:.2f}, λ2 {info['lambda2']:.2f} → {npy} ({times[-1]:.2f} s)",
                   file=sys.stderr)
    if times:
        print(f"{len(times)} kernel(s) in {sum(times):.1f} s ({np.mean(times):.2f} s per image)", file=sys.stderr)
    if failed and len(jobs) == 1:
        return 2
    return 1 if failed else 0


def _check_side(image, src, scale):
    need = min_side(scale)
    if min(image.shape[:2]) < need:
        raise InputError(f"{src}: image is {image.shape[1]}×{image.shape[0]} pixels; each side must be at least {need}")


def _evaluate(args):
    from PIL import Image

    from .blind import blind_table, format_rows

    if not args.hr_dir or not os.path.isdir(args.hr_dir):
        raise InputError(f"--evaluate needs --hr-dir DIR (an existing folder), got {args.hr_dir!r}")
    if args.json:
        _check_file_out(args.json, ".json", args.overwrite)
    names = sorted(n for n in os.listdir(args.hr_dir) if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise InputError(f"{args.hr_dir}: no image files in this folder")
    if not 0 <= args.steps <= 100:
        raise InputError(f"steps must be between 0 and 100, got {args.steps}")
    if any(s != "rk" for s in args.scenario):
        from ..scenarios import get_scenario

        [get_scenario(s) for s in args.scenario if s != "rk"]

    def images():
        for n in names:
            with Image.open(os.path.join(args.hr_dir, n)) as im:
                yield n, np.asarray(im.convert("RGB"))

    all_rows = []
    for sc in args.scenario:
        rows = blind_table(images(), sc, args.steps, args.weights, log=lambda m: print(m, file=sys.stderr, flush=True))
        print(format_rows(rows, f"{os.path.basename(os.path.normpath(args.hr_dir))} {sc} ×2, {args.steps} steps"))
        print(flush=True)
        all_rows += rows
    if args.json:
        with open(args.json, "w") as f:
            json.dump(all_rows, f, indent=1)
    return 0


@guarded
def main(argv=None):
    """Returns 0, 1 (some images of a folder failed) or 2 (input error)."""
    args = build_parser().parse_args(argv)
    if args.subsampling not in SUBSAMPLINGS:
        raise InputError(f"subsampling must be 'direct' or 'bicubic', got {args.subsampling!r}")
    if args.evaluate:
        return _evaluate(args)
    if not args.input:
        raise InputError("INPUT is required (or --evaluate --hr-dir DIR)")
    return _estimate_files(args)
