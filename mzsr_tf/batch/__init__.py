"""Upscale whole collections with Apache Beam over the adapt-and-upscale SavedModel.

``python -m mzsr_tf.batch --input PATTERN --output DIR [...]`` (see
:mod:`mzsr_tf.batch.command`); the graph is in :mod:`mzsr_tf.batch.pipeline`,
the RunInference model handler in :mod:`mzsr_tf.batch.handler`. Needs the
``beam`` extra: ``pip install -e ".[beam]"``.
"""


def main(argv=None):
    """``python -m mzsr_tf.batch``; imported lazily so ``mzsr-tf --help`` works without Beam."""
    from .command import main as run

    return run(argv)
