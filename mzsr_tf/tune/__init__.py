"""KerasTuner search over MZSR's inner and meta learning rates (α, β) and test-time step sizes.

Two modes:

* ``meta`` (default): each trial is a short meta-training run (our own second-order
  meta step, :class:`mzsr_tf.train.stages.Meta`, through the resumable training
  loop) from the configured initial weights with the trial's α = ``meta.inner_step_size``,
  β = ``meta.meta_learning_rate`` (and optionally ``meta.inner_steps``); the objective is the
  mean PSNR (Y, border s) after ``n`` zero-shot adaptation steps on the config's
  held-out validation images, each degraded with fixed kernels drawn from p(k).
* ``steps``: no training; fixed weights, and the trial's test-time step sizes
  (one for the first step, one for the others) are scored the same way. For
  people who serve a model on a new kind of image (``--images DIR``).

KerasTuner drives the search: a small ``kt.Tuner`` subclass whose ``run_trial``
returns ``{'val_psnr': value}`` for ``kt.Objective('val_psnr', 'max')``.
Searches resume (``overwrite=False``): rerunning the same command continues, and
an interrupted trial is retried from its last checkpoint.

Written to ``--out DIR``: the tuner's own records (``DIR/keras_tuner/``, one
folder per trial with its training run), ``trials.csv`` (every trial and the
reference rows), ``objective.png``, and the best setting as ``best.yaml`` (a
config ``python -m mzsr_tf.train --config`` accepts as is) or, in ``steps`` mode,
``best_step_sizes.yaml``.

Modules, by step: ``space`` (the search space), ``objective`` (the validation
objective and what a trial runs), ``search`` (the tuner, oracle and resumable
loop), ``report`` (CSV, plot, best config) and ``command`` (the command line).
``mzsr_tf.tune.search`` below is the function (the old single module's API);
import from the module with ``from mzsr_tf.tune.search import ...``.
"""
from ..errors import InputError
from .command import build_parser, main, ranges_from_args, resolve_config
from .objective import Evaluator, MetaTask, StepsTask
from .report import (HP_COLUMNS, METRIC_COLUMNS, best_config, best_trial, format_rows, plot, trial_rows, write_best,
                     write_csv)
from .search import PROJECT, TUNERS, default_tuner, has_sklearn, make_oracle, references, search
from .space import (DEFAULT_RANGES, HYPERBAND_FACTOR, HYPERBAND_MAX_EPOCHS, MODES, OBJECTIVE, PAPER_ALPHA, PAPER_BETA,
                    check_range, hyperparameters, parse_range, step_sizes_from)
