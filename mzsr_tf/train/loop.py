"""The loop both stages share: resume, progress bar, logging, checkpoints, time limit.

A stage supplies ``init()`` (fresh state), ``step(state, batch) -> (state, metrics)``,
a batch iterator from a given step, and optionally ``validate(state) -> metrics``.
"""
import os
import signal
import time

import numpy as np
from keras import ops
from tqdm import tqdm

from . import checkpoint
from .config import to_yaml
from .logger import Logger


class Stage:
    """What one training stage provides to :func:`run`."""

    name = "stage"
    total_steps = 0

    def init(self):  # -> state dict with 'params', 'opt' and optional 'extra'
        raise NotImplementedError

    def batches(self, start_step):
        raise NotImplementedError

    def step(self, state, batch, step):
        raise NotImplementedError

    def validate(self, state, step, logger):
        return {}

    def finish(self, state, out_dir):
        pass


def _state_from_ckpt(ck):
    as_t = lambda xs: [ops.convert_to_tensor(x) for x in xs]
    return {
        "params": as_t(ck["params"]),
        "opt": {"m": as_t(ck["opt_state"]["m"]), "v": as_t(ck["opt_state"]["v"]), "t": ops.convert_to_tensor(ck["opt_state"]["t"])},
        "extra": {k: as_t(v) for k, v in ck["extra"].items()},
    }


class _Interrupt:
    """Turns SIGTERM into a clean stop with a checkpoint (SIGKILL needs no help: writes are atomic)."""

    def __init__(self):
        self.flag = False

    def __enter__(self):
        try:
            self._old = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread
            self._old = None
        return self

    def _handle(self, *_):
        self.flag = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)


def run(stage, cfg, out_dir, max_minutes=None, progress=True):
    """Runs (or resumes) a stage in ``out_dir`` until its last step or the time limit.

    Returns:
      (state, step, finished).
    """
    os.makedirs(out_dir, exist_ok=True)
    ckpt_path = os.path.join(out_dir, "checkpoint.npz")
    with open(os.path.join(out_dir, "config.yaml"), "w") as f:
        f.write(to_yaml(cfg))
    logger = Logger(os.path.join(out_dir, "logs"))
    if os.path.exists(ckpt_path):
        ck = checkpoint.load(ckpt_path)
        state, start, spent = _state_from_ckpt(ck), ck["step"], ck["clock"]
        print(f"resuming {stage.name} from step {start} ({ckpt_path})")
    else:
        state, start, spent = stage.init(), 0, (0.0, 0.0)
        if getattr(stage, "val_every", cfg.val_every):  # the starting point of every learning curve
            logger.scalars(0, stage.validate(state, 0, logger))
    # CPU time includes the input pipeline's threads; both clocks carry over resumed sessions.
    cpu0, wall0 = time.process_time(), time.monotonic()
    clock = lambda: (spent[0] + time.process_time() - cpu0, spent[1] + time.monotonic() - wall0)
    deadline = time.monotonic() + 60.0 * max_minutes if max_minutes else None
    step = start
    save = lambda s: checkpoint.save(
        ckpt_path, stage=stage.name, step=s, params=state["params"], opt_state=state["opt"],
        extra=state.get("extra"), config_yaml=to_yaml(cfg), clock=clock(),
    )
    if step < stage.total_steps:
        it = stage.batches(step)
        bar = tqdm(total=stage.total_steps, initial=step, desc=stage.name, disable=not progress, dynamic_ncols=True)
        with _Interrupt() as intr:
            while step < stage.total_steps:
                state, metrics = stage.step(state, next(it), step)
                step += 1
                bar.update(1)
                if step % cfg.log_every == 0 or step == stage.total_steps:
                    vals = {k: float(np.asarray(ops.convert_to_numpy(v))) for k, v in metrics.items()}
                    cpu_s, wall_s = clock()
                    vals.update({"time/cpu_hours": cpu_s / 3600.0, "time/wall_hours": wall_s / 3600.0})
                    logger.scalars(step, vals)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in list(vals.items())[:2]})
                val_every = getattr(stage, "val_every", cfg.val_every)
                if val_every and step % val_every == 0:
                    logger.scalars(step, stage.validate(state, step, logger))
                stop = intr.flag or (deadline is not None and time.monotonic() > deadline)
                if step % cfg.checkpoint_every == 0 or step == stage.total_steps or stop:
                    save(step)
                if stop:
                    print(f"\nstopped at step {step} ({'SIGTERM' if intr.flag else 'time limit'}); rerun the same command to resume")
                    break
        bar.close()
        logger.flush()
    finished = step >= stage.total_steps
    if finished:
        stage.finish(state, out_dir)
    return state, step, finished
