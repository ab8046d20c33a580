"""The Beam graph: match → plan → decode → RunInference → encode → write, with a dead letter.

Every matched file ends in exactly one of: written, skipped (its output
exists), or the dead-letter file (one JSON line: path and reason). Outputs are
written atomically and never replaced, so rerunning after a crash does only
the missing work.
"""
import dataclasses
import json
import time

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.fileio import EmptyMatchTreatment
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

from ..errors import InputError
from ..io import check_size
from . import files
from .handler import NAMESPACE, NO_BLUR, Example, ServingModelHandler

DEAD = "dead"
COUNTERS = ("images", "pixels", "failures", "skipped", "milliseconds", "sixteen_bit")


@dataclasses.dataclass(frozen=True)
class Job:
    """What to do, fixed before the pipeline starts (pickled into the workers).

    Args:
      pattern: Beam match pattern of the inputs.
      base: prefix cut from each input path to get its path under ``output``.
      folder: the input was a folder (only image names are taken).
      output: output folder.
      dead_letter: file the failures are written to (JSON lines).
      scale: SR scale (checked against image sizes).
      steps: adaptation steps per image.
      kernel: one kernel for all images (None: see ``kernels``; neither: no blur).
      kernels: {file stem: kernel} for per-image kernels, or None.
    """

    pattern: str
    base: str
    folder: bool
    output: str
    dead_letter: str
    scale: int
    steps: int
    kernel: object = None
    kernels: object = None


class Key:
    """What travels beside an image through RunInference: where it came from and goes."""

    __slots__ = ("src", "dst", "bits")

    def __init__(self, src, dst, bits):
        self.src, self.dst, self.bits = src, dst, bits

    def __reduce__(self):
        return Key, (self.src, self.dst, self.bits)


def _reason(e):
    """One line for the dead letter: InputError messages as they are, anything else with its type."""
    if isinstance(e, InputError):
        return str(e)
    text = getattr(e, "message", None) or str(e)
    if "mzsr:" in text:  # the SavedModel's own request checks
        text = text[text.index("mzsr:"):].splitlines()[0]
    return f"{type(e).__name__}: {text.strip().splitlines()[0] if text.strip() else ''}"


def _dead(src, e):
    return beam.pvalue.TaggedOutput(DEAD, (src, _reason(e)))


class _Plan(beam.DoFn):
    """(output path, [sources]) → the source, or every source to the dead letter on a clash."""

    def process(self, item):
        dst, sources = item
        sources = sorted(sources)
        if len(sources) == 1:
            yield sources[0], dst
            return
        for s in sources:
            yield _dead(s, InputError(f"{s}: {', '.join(sources)} would all be written to {dst}; rename all "
                                      "but one"))


class _Prepare(beam.DoFn):
    """Skips done work, decodes, picks the kernel and checks sizes before any model runs."""

    def __init__(self, job):
        self.job = job
        self.skipped = Metrics.counter(NAMESPACE, "skipped")

    def process(self, item):
        src, dst = item
        job = self.job
        try:
            if files.exists(dst):
                self.skipped.inc()
                return
            if job.kernels is not None:
                kernel = job.kernels.get(files.stem(src))
                if kernel is None:
                    raise InputError(f"{src}: no kernel named {files.stem(src)}.* in the --kernels folder")
            else:
                kernel = job.kernel
            image, bits = files.decode(src)
            check_size(image.shape[0], image.shape[1], job.scale, None if kernel is None else kernel.shape,
                       source=src)
        except Exception as e:  # one bad file must not stop the others
            yield _dead(src, e)
            return
        yield Key(src, dst, bits), Example(image, NO_BLUR if kernel is None else kernel, job.steps)


class _Write(beam.DoFn):
    """Encodes each SR image as PNG and writes it atomically."""

    def __init__(self):
        self.images = Metrics.counter(NAMESPACE, "images")
        self.pixels = Metrics.counter(NAMESPACE, "pixels")
        self.skipped = Metrics.counter(NAMESPACE, "skipped")
        self.sixteen_bit = Metrics.counter(NAMESPACE, "sixteen_bit")

    def process(self, item):
        key, result = item
        try:
            written = files.write_new(key.dst, files.encode_png(result.inference, key.bits))
        except Exception as e:
            yield _dead(key.src, e)
            return
        if not written:  # another run wrote it since _Prepare looked
            self.skipped.inc()
            return
        self.images.inc()
        self.pixels.inc(int(result.example.image.shape[0] * result.example.image.shape[1]))
        if key.bits == 16:
            self.sixteen_bit.inc()
        yield key.dst


def _failed_batch(item):
    batch, error = item
    for key, _ in batch:
        yield key.src, _reason(error)


def _dead_line(item, counter=Metrics.counter(NAMESPACE, "failures")):
    counter.inc()
    src, reason = item
    return json.dumps({"path": src, "reason": reason}, ensure_ascii=False)


def build(p, job, handler):
    """Adds the whole batch job to pipeline ``p``.

    Args:
      p: a ``beam.Pipeline``.
      job: the :class:`Job`.
      handler: a :class:`~mzsr_tf.batch.handler.ServingModelHandler`.

    Returns:
      The PCollection of written output paths.
    """
    paths = (
        p
        | "Match" >> fileio.MatchFiles(job.pattern, EmptyMatchTreatment.ALLOW)
        | "Paths" >> beam.Map(lambda m: m.path)
        | "Inputs" >> beam.Filter(files.wanted, job.folder, job.output)
    )
    # Grouping by output path finds clashes (a.jpg and a.png → a.png) and also
    # redistributes the work after the single-element match, so runners spread
    # the images over all workers instead of fusing them onto one.
    planned = (
        paths
        | "ByOutput" >> beam.Map(lambda s: (files.output_path(s, job.base, job.output), s))
        | "Group" >> beam.GroupByKey()
        | "Plan" >> beam.ParDo(_Plan()).with_outputs(DEAD, main="todo")
    )
    ready = planned.todo | "Prepare" >> beam.ParDo(_Prepare(job)).with_outputs(DEAD, main="ready")
    inferred, failed = ready.ready | "Upscale" >> RunInference(KeyedModelHandler(handler)).with_exception_handling()
    written = inferred | "Write" >> beam.ParDo(_Write()).with_outputs(DEAD, main="written")
    (
        (planned[DEAD], ready[DEAD], failed.failed_inferences | "FailedBatches" >> beam.FlatMap(_failed_batch),
         written[DEAD])
        | "AllFailures" >> beam.Flatten()
        | "DeadLines" >> beam.Map(_dead_line)
        | "DeadLetter" >> beam.io.WriteToText(job.dead_letter, shard_name_template="", num_shards=1)
    )
    return written.written


def counters(result):
    """{name: value} of the job's counters (committed where the runner has them)."""
    out = dict.fromkeys(COUNTERS, 0)
    for c in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        if c.key.metric.name in out:
            try:
                value = c.committed
            except Exception:  # runners without committed metrics
                value = None
            out[c.key.metric.name] += value if value is not None else c.attempted
    return out


def run(job, handler, options):
    """Runs the batch job to completion.

    Args:
      job: the :class:`Job`.
      handler: the model handler.
      options: Beam ``PipelineOptions`` (runner and its settings).

    Returns:
      {counter: value} plus 'wall_seconds'.
    """
    start = time.perf_counter()
    p = beam.Pipeline(options=options)
    build(p, job, handler)
    result = p.run()
    result.wait_until_finish()
    stats = counters(result)
    stats["wall_seconds"] = time.perf_counter() - start
    return stats
