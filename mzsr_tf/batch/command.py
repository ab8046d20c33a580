"""``python -m mzsr_tf.batch``: upscale a collection of images with Apache Beam.

Usage::

    python -m mzsr_tf.batch --input 'scans/**/*.png' --output scans_x2/ [--kernel FILE|NAME |
        --kernels DIR] [--scale {2,4}] [--subsampling {direct,bicubic}] [--steps N]
        [--model SAVEDMODEL | --weights NAME|PATH] [--dead-letter FILE] [Beam pipeline options]

Arguments this command does not know are Beam pipeline options (``--runner``,
``--direct_running_mode``, ``--project``, ...). Everything given is checked before
the pipeline starts: a bad argument is one ``error:`` line and exit status 2.
Exit status 1 when some files failed (they are listed in the dead-letter file).
"""
import argparse
import contextlib
import io
import json
import logging
import os
import sys

from ..api import subsampling_for
from ..cli import guarded
from ..constants import DEFAULT_STEPS, MAX_STEPS, SCALES, SUBSAMPLINGS
from ..errors import InputError

# MAX_STEPS is also the on-the-fly export's limit; a --model's own limit is read from its metadata.
DEAD_LETTER_NAME = "failures.jsonl"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        raise InputError(message)


def build_parser():
    """The argument parser (Beam's own options are passed through)."""
    p = _Parser(
        prog="python -m mzsr_tf.batch",
        allow_abbrev=False,  # a prefix of a Beam option must reach Beam, not match one of ours
        description="Zero-shot super-resolution of many images with Apache Beam: each image is adapted and "
        "upscaled by the exported SavedModel; outputs keep their relative paths as PNG.",
        epilog="Other --options go to Beam (e.g. --runner, --direct_running_mode=multi_processing "
        "--direct_num_workers=2). Existing outputs are skipped; failures go to the dead-letter file.",
    )
    p.add_argument("--input", required=True, metavar="PATTERN",
                   help="a folder (every image below it), a file, or a glob such as 'gs://b/scans/**/*.png'")
    p.add_argument("--output", required=True, metavar="DIR", help="output folder (local, gs://, s3://, ...)")
    k = p.add_mutually_exclusive_group()
    k.add_argument("--kernel", metavar="FILE|NAME",
                   help="one blur kernel for all images (.npy, .mat, grayscale image, or g0.2, g2.0, g1.3, gani)")
    k.add_argument("--kernels", metavar="DIR",
                   help="a folder of kernel files, one per image, matched by file stem")
    p.add_argument("--scale", type=int, choices=SCALES, default=None,
                   help="SR scale (default: the --model's, else 2)")
    p.add_argument("--subsampling", choices=SUBSAMPLINGS, default=None,
                   help="how the LR images were subsampled (default: the --model's, else as upscale: bicubic "
                   "without a kernel, direct with --kernel or --kernels)")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS, metavar="N",
                   help=f"adaptation steps per image (default {DEFAULT_STEPS})")
    m = p.add_mutually_exclusive_group()
    m.add_argument("--model", metavar="SAVEDMODEL",
                   help="a SavedModel from 'python -m mzsr_tf.export' (default: export one from the weights)")
    m.add_argument("--weights", metavar="NAME|PATH",
                   help="shipped weights name or .weights.h5 file to export from (default: shipped for the scale)")
    p.add_argument("--dead-letter", metavar="FILE", default=None,
                   help=f"where failures go, one JSON line each (default OUTPUT/{DEAD_LETTER_NAME})")
    return p


def _pipeline_options(beam_args):
    """Beam's options, with its argparse errors turned into one InputError line."""
    from apache_beam.options.pipeline_options import PipelineOptions

    if not any(a.startswith("--default_sdk_harness_log_level") for a in beam_args):
        # Worker processes (multi-processing, portable runners) otherwise log every bundle at INFO.
        beam_args = [*beam_args, "--default_sdk_harness_log_level=WARNING"]
    for before, arg in zip([""] + beam_args, beam_args):
        # A bare word is the value of a preceding "--name" (as in "--runner DataflowRunner"), else stray.
        if not arg.startswith("-") and not (before.startswith("--") and "=" not in before):
            raise InputError(f"unexpected argument {arg!r}")
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            options = PipelineOptions(beam_args)
            options.get_all_options(retain_unknown_options=False)
    except SystemExit:
        lines = [x for x in err.getvalue().splitlines() if x.strip()]
        raise InputError(lines[-1].split("error: ", 1)[-1] if lines else "bad Beam pipeline option") from None
    return options


def _read_model_metadata(model_dir):
    from apache_beam.io.filesystems import FileSystems

    from ..serve.saved_model import METADATA_FILE

    path = FileSystems.join(model_dir.rstrip("/"), *METADATA_FILE.split(os.sep))
    try:
        with FileSystems.open(path) as f:
            return json.loads(f.read().decode("utf-8"))
    except Exception:  # missing or unreadable: not an export of this package
        raise InputError(f"{model_dir}: not a SavedModel from 'python -m mzsr_tf.export' (no readable "
                         f"{METADATA_FILE})") from None


def _check_input(pattern, text):
    from apache_beam.io.filesystem import BeamIOError
    from apache_beam.io.filesystems import FileSystems

    try:
        found = FileSystems.match([pattern], limits=[1])[0].metadata_list
    except (BeamIOError, ValueError) as e:
        raise InputError(f"{text}: cannot match input ({str(e).splitlines()[0]})") from None
    if not found:
        raise InputError(f"{text}: no files match")


def _say(message):
    print(message, file=sys.stderr)


@guarded
def main(argv=None):
    """Returns 0 (all written or skipped), 1 (some files failed) or 2 (bad arguments)."""
    args, beam_args = build_parser().parse_known_args(argv)
    logging.disable(logging.WARNING)  # Beam's import warns about optional Google Cloud clients
    try:
        import apache_beam  # noqa: F401
    except ImportError:
        raise InputError("Apache Beam is not installed: pip install -e \".[beam]\"") from None
    finally:
        logging.disable(logging.NOTSET)
    from . import files

    options = _pipeline_options(beam_args)

    meta = _read_model_metadata(args.model) if args.model else {}
    scale = args.scale or int(meta.get("scale") or 2)
    subsampling = args.subsampling or meta.get("subsampling") or subsampling_for(args.kernel or args.kernels)
    max_steps = int(meta.get("max_steps", MAX_STEPS))
    if meta and (scale, subsampling) != (meta.get("scale"), meta.get("subsampling")):
        raise InputError(f"{args.model}: exported for x{meta.get('scale')} {meta.get('subsampling')}, "
                         f"not x{scale} {subsampling}")
    if not 0 <= args.steps <= max_steps:
        raise InputError(f"--steps must be between 0 and {max_steps}, got {args.steps}")

    def absolute(path):  # so "x2" inside "./scans" is recognised as the output folder whatever the spelling
        return os.path.abspath(path) + ("/" if path.endswith("/") else "") if files.is_local(path) else path

    pattern, base, folder = files.plan_input(absolute(args.input))
    output = absolute(args.output).rstrip("/") or "/"
    if files.is_local(output) and os.path.exists(output) and not os.path.isdir(output):
        raise InputError(f"{output}: exists and is not a folder")
    dead_letter = args.dead_letter or files.join(output, DEAD_LETTER_NAME)
    if files.is_local(dead_letter) and os.path.isdir(dead_letter):
        raise InputError(f"{dead_letter}: --dead-letter is a folder; give a file name")
    _check_input(pattern, args.input)

    kernel = kernels = None
    if args.kernel:
        from .. import kernels as named

        if files.is_local(args.kernel) and not os.path.exists(args.kernel) and args.kernel in named.NAMED:
            kernel = named.named_kernel(args.kernel)
        else:
            kernel = files.load_kernel_file(args.kernel, warn=_say)
    elif args.kernels:
        kernels = files.kernels_by_stem(args.kernels, warn=_say)

    from .handler import ServingModelHandler
    from .pipeline import Job, run

    if args.model:
        handler = ServingModelHandler(model_dir=args.model)
        source = args.model
    else:
        from .. import weights

        blurred = kernel is not None or kernels is not None
        name = args.weights or weights.default_name(scale, subsampling, blurred)
        weights.resolve(name, scale, subsampling)  # unknown name or missing file: fails here
        from ..model import kernel_pca_of

        model = weights.load_model(name, scale, subsampling)
        params = [v.numpy() for v in model.trainable_variables]
        handler = ServingModelHandler(params=params, scale=scale, subsampling=subsampling,
                                      metadata={"weights": os.path.basename(str(name))}, kernel_pca=kernel_pca_of(model))
        source = f"weights {name}"
    if files.is_local(output):
        os.makedirs(output, exist_ok=True)
    job = Job(pattern=pattern, base=base, folder=folder, output=output, dead_letter=dead_letter,
              scale=scale, steps=args.steps, kernel=kernel, kernels=kernels)
    what = "no blur" if kernel is None and kernels is None else (
        "one kernel" if kernels is None else f"{len(kernels)} kernels by stem")
    _say(f"batch: {pattern} -> {output}  (x{scale} {subsampling}, {args.steps} steps, {what}, {source})")
    stats = run(job, handler, options)
    print(f"images {stats['images']}  pixels {stats['pixels']}  failures {stats['failures']}  "
          f"skipped {stats['skipped']}  seconds {stats['milliseconds'] / 1000:.1f} (in the model)  "
          f"wall {stats['wall_seconds']:.1f}")
    if stats["sixteen_bit"]:
        _say(f"note: {stats['sixteen_bit']} 16-bit input(s) were written as 16-bit PNGs at 8-bit precision "
             "(the SavedModel's signature is uint8); `mzsr_tf.upscale` keeps their full depth")
    if stats["failures"]:
        _say(f"{stats['failures']} file(s) failed; see {dead_letter}")
        return 1
    return 0
