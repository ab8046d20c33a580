"""Evaluation: the paper's protocol (:mod:`.protocol`), its tables (:mod:`.paper_tables`),
Figure 3 (:mod:`.figure3`) and the ``python -m mzsr_tf.evaluate`` command (:mod:`.command`)."""
from ..scenarios import DEFAULT_KERNEL_SIZE
from .command import build_parser, main
from .protocol import EvalContext, columns, evaluate_scenario, list_images, measure, run_column
